"""Read a document file as text: UTF-8 first, then the Chinese legacy encodings, never binary."""

from __future__ import annotations

from pathlib import Path

# GB18030 is a superset of GBK and GB2312, the usual encodings of Chinese government files.
_FALLBACK_ENCODINGS = ("gb18030", "big5", "utf-16")


class UnreadableDocument(ValueError):
    """A file that cannot be ingested; the message says why and what to do."""


def decode_bytes(data: bytes, name: str) -> tuple[str, str]:
    """Return (text, encoding used). Raises UnreadableDocument for empty, binary or undecodable input."""
    if not data.strip():
        raise UnreadableDocument(f"{name}: 文件为空，已跳过")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _strip_bom(data.decode("utf-16")), "utf-16"
    if _looks_binary(data):
        raise UnreadableDocument(
            f"{name}: 扩展名是文本文件，内容却是二进制，已跳过；若它是 PDF、Word 或图片，请改用正确的扩展名（.pdf/.docx/.png…）"
        )
    try:
        return _strip_bom(data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    for encoding in _FALLBACK_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _mostly_readable(text):
            return text, encoding
    raise UnreadableDocument(
        f"{name}: 无法识别文件编码 (not UTF-8, GBK/GB18030 or Big5); re-save it as UTF-8 and ingest again"
    )


def read_document(path: Path) -> tuple[str, str]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UnreadableDocument(f"{path.name}: 无法读取文件 ({error.strerror or error})") from error
    return decode_bytes(data, path.name)


def _strip_bom(text: str) -> str:
    return text.lstrip("\ufeff")


def _looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    control = sum(1 for byte in sample if byte < 32 and byte not in (9, 10, 12, 13))
    return control > len(sample) * 0.05


def _mostly_readable(text: str) -> bool:
    """Guard against a legacy codec 'succeeding' on random bytes: most characters must be CJK/ASCII."""
    sample = text[:4000]
    readable = sum(1 for ch in sample if ch.isascii() or "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef")
    return readable >= len(sample) * 0.9
