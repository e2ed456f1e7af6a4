"""Readers by format: each turns one file into the plain text the parsers read (ingest.readers.records.Extracted).

.txt/.md (UTF-8, GBK/GB18030, Big5, UTF-16), .pdf (text layer; pages without one through OCR),
.docx (python-docx), .html/.htm (trafilatura's main-content extraction), and images
(.png/.jpg/.jpeg/.tif/.tiff/.bmp/.webp) through OCR. Heavy libraries are imported by the reader
that needs them. Every failure is an UnreadableDocument whose message says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.decode import UnreadableDocument, decode_bytes
from ingest.readers.records import Extracted

TEXT_SUFFIXES = (".txt", ".md")
PDF_SUFFIXES = (".pdf",)
WORD_SUFFIXES = (".docx",)
HTML_SUFFIXES = (".html", ".htm")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + PDF_SUFFIXES + WORD_SUFFIXES + HTML_SUFFIXES + IMAGE_SUFFIXES

# Formats people try that cannot be read, with what to do instead.
_UNSUPPORTED_ADVICE = {
    ".doc": "旧版 Word（.doc）格式不支持，请在 Word 或 WPS 中另存为 .docx",
    ".wps": "WPS 文字格式不支持，请另存为 .docx",
    ".rtf": "RTF 格式不支持，请另存为 .docx 或 .txt",
    ".xls": "表格文件不支持，请把需要的内容另存为 .docx 或 .txt",
    ".xlsx": "表格文件不支持，请把需要的内容另存为 .docx 或 .txt",
    ".ppt": "演示文稿不支持，请导出为 PDF",
    ".pptx": "演示文稿不支持，请导出为 PDF",
    ".ofd": "OFD 版式文件不支持，请导出为 PDF",
    ".zip": "压缩包不支持，请解压后导入其中的文件",
}


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pages: int


def unsupported_reason(path: Path) -> str | None:
    """Why a file cannot be ingested by its name alone (suffix), or None when a reader exists."""
    suffix = path.suffix.lower()
    if suffix in SUPPORTED_SUFFIXES:
        return None
    if suffix in _UNSUPPORTED_ADVICE:
        return _UNSUPPORTED_ADVICE[suffix]
    accepted = "、".join(SUPPORTED_SUFFIXES)
    return f"不支持的文件类型“{suffix or '无扩展名'}”（支持 {accepted}）"


def check_size(path: Path, size: int, limits: Limits) -> None:
    if size > limits.max_bytes:
        raise UnreadableDocument(
            f"{path.name}: 文件大小 {size / 2**20:.1f} MB，超过上限 {limits.max_bytes / 2**20:.0f} MB（HELUO_MAX_FILE_MB）；"
            "请拆分后导入或调高上限"
        )


def read_file(path: Path, data: bytes, limits: Limits) -> Extracted:
    """The file's text; `data` is its bytes (already read, and hashed, by the caller)."""
    reason = unsupported_reason(path)
    if reason is not None:
        raise UnreadableDocument(f"{path.name}: {reason}")
    check_size(path, len(data), limits)
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        text, encoding = decode_bytes(data, path.name)
        return Extracted(text=text, format=f"text/{encoding}")
    if not data.strip():
        raise UnreadableDocument(f"{path.name}: 文件为空，已跳过")
    if suffix in PDF_SUFFIXES:
        from ingest.readers.pdf import read_pdf

        return read_pdf(path, limits.max_pages)
    if suffix in WORD_SUFFIXES:
        from ingest.readers.word import read_docx

        return read_docx(path)
    if suffix in HTML_SUFFIXES:
        from ingest.readers.html import read_html

        return read_html(path, data)
    from ingest.readers.image import read_image

    return read_image(path, limits.max_pages)
