"""What a reader hands the parsers: plain text, and for paged formats the pages of every line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Extracted:
    """The text of one file as the parsers read it.

    format: "text" (with its encoding, e.g. "text/utf-8"), "pdf", "pdf+ocr", "docx", "html", "image+ocr".
    line_pages: for paged formats, the (first, last) page of each line of `text` (1-based lines and
    pages); empty when the format has no pages.
    ocr_pages: how many pages were read by OCR (no text layer).
    """

    text: str
    format: str
    pages: int = 0
    ocr_pages: int = 0
    line_pages: tuple[tuple[int, int], ...] = ()
    warnings: tuple[str, ...] = ()

    def page_span(self, line_start: int, line_end: int) -> tuple[int | None, int | None]:
        """(first page, last page) of a 1-based inclusive line span; (None, None) without pages."""
        if not self.line_pages:
            return None, None
        last = len(self.line_pages)
        first_page = self.line_pages[min(max(line_start, 1), last) - 1][0]
        last_page = self.line_pages[min(max(line_end, 1), last) - 1][1]
        return first_page, max(first_page, last_page)
