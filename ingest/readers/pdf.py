"""PDF: the text layer through pypdfium2 (PDFium, Apache-2.0/BSD); pages without one go to OCR.

pypdfium2 was chosen on a measured comparison with pdfplumber and pypdf over PDFs printed from the
corpus (bench/pdf_readers.py; figures in the README): the best character accuracy on Chinese text
and 20-100x the speed, under a permissive licence (PyMuPDF is AGPL). Each text run comes with its
box, so ingest.readers.layout can drop running heads and rejoin wrapped lines by geometry.
"""

from __future__ import annotations

from pathlib import Path

from ingest.decode import UnreadableDocument
from ingest.readers.layout import PageLines, TextLine, lines_to_text, merge_fragments
from ingest.readers.records import Extracted

# A page with fewer visible characters than this has no usable text layer: it is a scan.
_MIN_TEXT_CHARS = 10
# A text layer where more than this share is unmapped glyphs (private use area, U+FFFD) is garbage.
_MAX_UNMAPPED_SHARE = 0.3
# Scans are rendered at this scale (72 dpi x 2.5 = 180 dpi) for OCR: 99.7% of characters right on a
# bulletin page, against 96.5% at 144 dpi.
_OCR_SCALE = 2.5


def read_pdf(path: Path, max_pages: int) -> Extracted:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as error:
        message = "PDF 已加密，请先去除密码" if "password" in str(error).lower() else f"无法打开 PDF（{error}）"
        raise UnreadableDocument(f"{path.name}: {message}") from error
    try:
        count = len(document)
        if count == 0:
            raise UnreadableDocument(f"{path.name}: PDF 没有页面")
        if count > max_pages:
            raise UnreadableDocument(
                f"{path.name}: PDF 有 {count} 页，超过上限 {max_pages} 页（HELUO_MAX_PAGES）；请拆分后导入或调高上限"
            )
        pages, ocr_pages = [], 0
        for index in range(count):
            page = document[index]
            try:
                lines = text_layer(page, index + 1)
                if _needs_ocr(lines):
                    from ingest.readers.ocr import recognize

                    lines = recognize(page.render(scale=_OCR_SCALE).to_pil(), index + 1)
                    ocr_pages += 1
            finally:
                page.close()
            pages.append(lines)
    finally:
        document.close()
    extracted = lines_to_text(pages, "pdf+ocr" if ocr_pages else "pdf", ocr_pages)
    if not extracted.text.strip():
        raise UnreadableDocument(f"{path.name}: PDF 中没有可识别的文字（既无文字层，OCR 也未识别出文字）")
    return extracted


def text_layer(page, number: int) -> PageLines:
    """The page's lines in PDFium's reading order, each with the box of its characters.

    Spaces PDFium generates between widely spaced glyphs (justified Chinese text, "2 0 2 2") are
    dropped unless they separate two Latin letters (a word gap in a PDF without space glyphs).
    """
    import pypdfium2.raw as pdfium_c

    width, height = page.get_size()
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        text = textpage.get_text_range(0, count) if count else ""
        if len(text) != count:  # characters outside the BMP: read them one by one
            text = "".join(textpage.get_text_range(index, 1)[:1] or " " for index in range(count))
        fragments, chars, boxes, weights = [], [], [], []
        for index, char in enumerate(text + "\n"):
            if char in "\r\n":
                if chars and boxes:
                    fragments.append(_line(chars, boxes, weights, height))
                chars, boxes, weights = [], [], []
                continue
            if char.isspace():
                if pdfium_c.FPDFText_IsGenerated(textpage, index) and not _between_latin(text, index):
                    continue
                chars.append(" ")
                continue
            chars.append("-" if char == "\ufffe" else char)  # PDFium's mark for a hyphen at a line break
            boxes.append(textpage.get_charbox(index, loose=True))
            weights.append(pdfium_c.FPDFText_GetFontWeight(textpage, index))
    finally:
        textpage.close()
    return PageLines(number, width, height, tuple(merge_fragments(fragments, keep_order=True)))


def _between_latin(text: str, index: int) -> bool:
    before = text[index - 1] if index > 0 else ""
    after = text[index + 1] if index + 1 < len(text) else ""
    return before.isascii() and before.isalpha() and after.isascii() and after.isalpha()


def _line(chars: list[str], boxes: list[tuple[float, float, float, float]], weights: list[int], height: float) -> TextLine:
    """A line with the union of its characters' boxes (PDF coordinates are bottom-up: flipped)."""
    return TextLine(
        "".join(chars).strip(),
        min(box[0] for box in boxes),
        max(box[2] for box in boxes),
        height - max(box[3] for box in boxes),
        height - min(box[1] for box in boxes),
        max(weights[0], 0),
        max(weights[-1], 0),
    )


def _needs_ocr(page: PageLines) -> bool:
    text = "".join(line.text for line in page.lines)
    visible = [ch for ch in text if not ch.isspace()]
    if len(visible) < _MIN_TEXT_CHARS:
        return True
    unmapped = sum(1 for ch in visible if ch == "\ufffd" or "\ue000" <= ch <= "\uf8ff")
    return unmapped > _MAX_UNMAPPED_SHARE * len(visible)
