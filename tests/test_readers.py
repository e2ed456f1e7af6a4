"""Readers by format on real files built from the corpus texts: PDF printed by Chromium (CJK font,
running head, page numbers), Word through python-docx, a web page with a site around the text, and
scans through OCR. Each must give the parsers what the .txt gives them."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from conftest import CORPUS
from documents import CHROMIUM, RUNNING_HEAD, build_docx, cached_document, scan_pdf
from ingest.decode import UnreadableDocument
from ingest.parse import parse_text
from ingest.readers import Limits, read_file, unsupported_reason
from ingest.readers.layout import PageLines, TextLine, lines_to_text

FEB, JUL, DEC, DISTRICT, CITY = sorted(CORPUS.glob("*.txt"))
BULLETINS = {FEB: 103, JUL: 115, DEC: 122}
UNLIMITED = Limits(max_bytes=2**40, max_pages=10_000)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (scripts/test.sh installs it)")


def read(path: Path, limits: Limits = UNLIMITED):
    return read_file(path, path.read_bytes(), limits)


def parsed_txt(source: Path):
    return parse_text(source.read_text(encoding="utf-8"), source.name)


def without_spaces(text: str) -> str:
    return re.sub(r"\s+", "", text)


@needs_chromium
@pytest.mark.parametrize("source", list(BULLETINS), ids=lambda p: p.name[:3])
def test_bulletin_from_pdf_gives_the_toc_items_with_their_pages(source):
    extracted = read(cached_document("pdf", source))
    assert extracted.format == "pdf" and extracted.pages > 20 and extracted.ocr_pages == 0
    document = parse_text(extracted.text, source.with_suffix(".pdf").name)
    expected = parsed_txt(source)
    assert document.meta.kind == "bulletin" and document.meta.period == expected.meta.period
    assert len(document.items) == BULLETINS[source] and not document.warnings
    assert [(i.section, i.title, i.date) for i in document.items] == [(i.section, i.title, i.date) for i in expected.items]
    # Lines rejoined, running heads and "— N —" gone: the items read as the text file's, spaces aside.
    same = sum(without_spaces(a.text) == without_spaces(b.text) for a, b in zip(document.items, expected.items))
    assert same >= 0.95 * len(expected.items)
    assert not any(RUNNING_HEAD in i.text or re.search(r"—\s*\d+\s*—", i.text) for i in document.items)
    pages = [extracted.page_span(i.line_start, i.line_end) for i in document.items]
    assert all(1 <= first <= last <= extracted.pages for first, last in pages)
    assert [first for first, _ in pages] == sorted(first for first, _ in pages)  # items follow the pages
    assert pages[0][0] >= 2 and pages[-1][1] == extracted.pages  # the TOC comes first, the last item ends the file


@needs_chromium
@pytest.mark.parametrize("source", [DISTRICT, CITY], ids=["district", "city"])
def test_report_from_pdf_keeps_its_sections(source):
    document = parse_text(read(cached_document("pdf", source)).text, "report.pdf")
    expected = parsed_txt(source)
    assert (document.meta.kind, document.meta.title, document.meta.period) == (expected.meta.kind, expected.meta.title, expected.meta.period)
    assert [i.section for i in document.items] == [i.section for i in expected.items]


@pytest.mark.parametrize("source", [FEB, JUL, DEC, CITY], ids=["feb", "jul", "dec", "city"])
def test_word_file_parses_like_the_text(source, tmp_path):
    extracted = read(build_docx(source.read_text(encoding="utf-8"), tmp_path / f"{source.stem}.docx"))
    assert extracted.format == "docx" and not extracted.line_pages
    document = parse_text(extracted.text, "x.docx")
    expected = parsed_txt(source)
    assert [(i.section, i.title, i.text) for i in document.items] == [(i.section, i.title, i.text) for i in expected.items]


@pytest.mark.parametrize("source", [FEB, CITY], ids=["feb", "city"])
def test_web_page_gives_the_text_without_the_site_around_it(source, tmp_path):
    page = cached_document("html", source)
    document = parse_text(read(page).text, "page.html")
    expected = parsed_txt(source)
    assert [i.section for i in document.items] == [i.section for i in expected.items]
    everything = "\n".join(f"{i.title} {i.text}" for i in document.items)
    assert not any(boilerplate in everything for boilerplate in ("网站标识码", "相关链接", "当前位置", "豫ICP备", "走进洛阳"))


def test_web_page_notice_is_dated_by_its_publication_meta(tmp_path):
    page = tmp_path / "通知.html"
    page.write_text(
        '<html><head><meta charset="utf-8"><title>关于开展防汛演练的通知</title>'
        '<meta name="PubDate" content="2023-06-12 09:30"></head><body><nav>首页 政务公开</nav>'
        "<article><h1>关于开展防汛演练的通知</h1><p>各县区：为提高应急处置能力，定于6月下旬开展全市防汛演练，请各单位做好准备。</p>"
        "<p>演练分为桌面推演和实战演练两个阶段，由市应急管理局统一组织。</p></article>"
        "<footer>网站标识码 4103000001</footer></body></html>",
        encoding="utf-8",
    )
    document = parse_text(read(page).text, page.name)
    assert (document.meta.kind, document.meta.title, document.meta.period) == ("notice", "关于开展防汛演练的通知", "2023-06-12")
    assert all(item.date == "2023-06-12" for item in document.items) and not any("网站标识码" in i.text for i in document.items)


def line(text: str, x0: float, x1: float, top: float, size: float = 12.0) -> TextLine:
    return TextLine(text, x0, x1, top, top + size)


def test_layout_rejoins_wrapped_lines_and_drops_running_heads():
    """A4-like pages, text column 60-540: wrapped lines reach 540, a paragraph starts indented."""
    pages = [
        PageLines(
            number,
            600,
            800,
            (
                line("政务信息月报", 250, 350, 20, 9),
                line(f"第{number}段开头，这一行排满了整行" + "字" * 10, 84, 540, 100),
                line("续行到此结束。", 60, 200, 120),
                line("目录条目.....3", 60, 540, 140),
                line("下一条目.....4", 60, 300, 160),
                line(f"— {number} —", 290, 310, 770, 10),
            ),
        )
        for number in (1, 2, 3)
    ]
    extracted = lines_to_text(pages, "pdf")
    lines = [text for text in extracted.text.split("\n") if text]
    assert lines[:3] == ["第1段开头，这一行排满了整行" + "字" * 10 + "续行到此结束。", "目录条目.....3", "下一条目.....4"]
    assert len(lines) == 9 and "政务信息月报" not in extracted.text and "—" not in extracted.text
    assert extracted.page_span(13, 13) == (3, 3)  # paragraphs are lines 1, 3, 5 on page 1, 7, 9, 11 on page 2


def test_layout_carries_a_paragraph_over_a_page_break():
    first = PageLines(1, 600, 800, (line("段落开头，" + "字" * 30, 84, 540, 700),))
    second = PageLines(2, 600, 800, (line("段落在下一页结束。", 60, 220, 80), line("新段落。", 84, 150, 100)))
    extracted = lines_to_text([first, second], "pdf")
    assert extracted.text.split("\n")[0] == "段落开头，" + "字" * 30 + "段落在下一页结束。"
    assert extracted.page_span(1, 1) == (1, 2) and extracted.page_span(3, 3) == (2, 2)


@pytest.mark.parametrize(
    "name, advice",
    [("旧通知.doc", "另存为 .docx"), ("表格.xlsx", "表格文件不支持"), ("a.xyz", "不支持的文件类型"), ("noext", "无扩展名")],
)
def test_unsupported_files_say_what_to_do(name, advice):
    assert advice in unsupported_reason(Path(name))


def test_limits_refuse_large_files_with_the_setting_to_change(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("洛阳" * 400_000, encoding="utf-8")
    with pytest.raises(UnreadableDocument, match="HELUO_MAX_FILE_MB"):
        read(big, Limits(max_bytes=2**20, max_pages=10))


@needs_chromium
def test_limits_refuse_pdfs_with_too_many_pages():
    with pytest.raises(UnreadableDocument, match="HELUO_MAX_PAGES"):
        read(cached_document("pdf", CITY), Limits(max_bytes=2**40, max_pages=5))


def test_broken_files_are_unreadable_not_crashes(tmp_path):
    for name, data in (("坏.pdf", b"%PDF-1.4 garbage"), ("坏.docx", b"PK\x03\x04 not a zip"), ("坏.png", b"\x89PNG broken")):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(UnreadableDocument, match=name):
            read(path)


@pytest.mark.slow
@needs_chromium
def test_scanned_bulletin_page_is_read_by_ocr_from_the_wheels_models(tmp_path, monkeypatch):
    """OCR of a page rendered to an image (a scan: no text layer), with the network cut: at least
    95% of the page's characters (its text layer, measured in order) come back right."""
    import pypdfium2 as pdfium

    from ingest.readers import ocr
    from ingest.readers.pdf import text_layer

    models = ocr.model_files()
    assert len(models) >= 3 and all("site-packages" in str(m) and m.parent.parent.name == "rapidocr" for m in models)

    def no_network(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    ocr.engine.cache_clear()
    pdf = cached_document("pdf", FEB)
    scan = scan_pdf(pdf, tmp_path / "scan.pdf", pages=range(5, 6))
    extracted = read(scan)
    assert extracted.format == "pdf+ocr" and extracted.ocr_pages == 1 and extracted.pages == 1
    document = pdfium.PdfDocument(str(pdf))
    truth = without_spaces("".join(line.text for line in text_layer(document[5], 6).lines if RUNNING_HEAD not in line.text))
    document.close()
    got = without_spaces(extracted.text)
    assert len(truth) > 800 and char_accuracy(truth, got) >= 0.95, char_accuracy(truth, got)

    # The same page as a photo-like PNG of its top third: the image reader.
    lines = text_layer(pdfium.PdfDocument(str(pdf))[5], 6).lines
    image = tmp_path / "page.png"
    rendered = pdfium.PdfDocument(str(scan))[0].render(scale=1.0).to_pil()  # the scan is already 144 dpi
    rendered.crop((0, 0, rendered.width, rendered.height // 3)).save(image)
    photo = read(image)
    assert photo.format == "image+ocr" and photo.pages == 1
    top = without_spaces("".join(line.text for line in lines if line.bottom < 842 / 3 - 12 and RUNNING_HEAD not in line.text))
    assert len(top) > 150 and char_accuracy(top, without_spaces(photo.text)) >= 0.9


def char_accuracy(truth: str, got: str) -> float:
    """Share of the true characters found, in order, in what OCR read."""
    import difflib

    matcher = difflib.SequenceMatcher(None, truth, got, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / len(truth)


def test_text_layer_keeps_two_columns_apart():
    from ingest.readers.layout import merge_fragments

    left = [line("左栏第一行", 60, 280, 100), line("左栏第二行", 60, 280, 120)]
    right = [line("右栏第一行", 320, 540, 100), line("右栏第二行", 320, 540, 120)]
    assert [piece.text for piece in merge_fragments(left + right, keep_order=True)] == ["左栏第一行", "左栏第二行", "右栏第一行", "右栏第二行"]
    runs = [line("加粗标题", 60, 108, 100), line("正文接着写", 112, 172, 100)]  # two runs of one line
    assert [piece.text for piece in merge_fragments(runs, keep_order=True)] == ["加粗标题正文接着写"]
