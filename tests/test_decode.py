import pytest

from ingest.decode import UnreadableDocument, decode_bytes, read_document

SAMPLE = "洛阳市召开2023年工作会议。7月28日，江凌到伊川县调研。"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_chinese_encodings_decode_to_the_same_text(encoding):
    text, used = decode_bytes(SAMPLE.encode(encoding), "sample.txt")
    assert text == SAMPLE
    assert used in {"utf-8", "gb18030", "utf-16"}


def test_gbk_file_is_reported_as_gb18030(tmp_path):
    path = tmp_path / "gbk.txt"
    path.write_bytes(SAMPLE.encode("gbk"))
    assert read_document(path) == (SAMPLE, "gb18030")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "为空"),
        (b"  \n\n ", "为空"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "二进制"),
        (bytes([0x81, 0x30, 0xFF, 0xFE, 0x80]) * 200, "编码"),
    ],
)
def test_unusable_input_is_rejected_with_a_reason(data, message):
    with pytest.raises(UnreadableDocument, match=message):
        decode_bytes(data, "bad.txt")


def test_unreadable_path_names_the_file(tmp_path):
    with pytest.raises(UnreadableDocument, match="missing.txt"):
        read_document(tmp_path / "missing.txt")
