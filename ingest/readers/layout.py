"""Lines with positions on pages (a PDF text layer or OCR) -> the plain text the parsers read.

Steps: drop running headers, footers and page numbers (text that repeats at the same edge of many
pages, or a bare page number there) -> rejoin the lines a paragraph was wrapped into (a line that
reaches the right margin continues on the next one unless that one is indented, also across a page
break) -> one paragraph per line, a blank line between paragraphs, and the pages of every line, so
an item's line span tells its pages.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.generic import join_fragments
from ingest.readers.records import Extracted

# Running heads and feet live in this share of the page height at the top and at the bottom.
_EDGE_BAND = 0.09
# Text seen at the same edge of at least this share of the pages (and 3 pages) is a running head.
_RUNNING_SHARE = 0.4
_RUNNING_MIN_PAGES = 3
# A line ending within this many character widths of the right margin was wrapped there.
_WRAP_SLACK_CHARS = 1.0
# A line starting this many character widths right of the left margin is indented: a new paragraph.
_INDENT_CHARS = 1.2
# A table-of-contents entry ends with leader dots and its page number: it is complete on its line.
_TOC_ENTRY_END = re.compile(r"(?:\.{2,}|…+|·{3,}|．{2,})\s*\d{1,4}$")
_PAGE_NUMBER = re.compile(
    r"[-—－–─\s]*(?:第\s*)?\d{1,4}\s*(?:页)?(?:\s*[/／]\s*\d{1,4})?(?:\s*页)?[-—－–─\s]*|[-—－–─]\s*[ivxlcIVXLC]{1,6}\s*[-—－–─]"
)


@dataclass(frozen=True)
class TextLine:
    """One line of text on a page; coordinates from the page's top-left corner, any unit."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    weight_first: int = 0  # font weight of the first and last character (400 regular, 700 bold; 0 unknown)
    weight_last: int = 0

    @property
    def height(self) -> float:
        return max(self.bottom - self.top, 1e-6)


@dataclass(frozen=True)
class PageLines:
    number: int  # 1-based page number in the file
    width: float
    height: float
    lines: tuple[TextLine, ...]


def lines_to_text(pages: Sequence[PageLines], format_name: str, ocr_pages: int = 0) -> Extracted:
    """The text of the pages, running heads and page numbers removed, wrapped paragraphs rejoined."""
    running = _running_texts(pages)
    out: list[str] = []
    spans: list[tuple[int, int]] = []  # (first page, last page) of each output line
    open_paragraph: TextLine | None = None  # the last line written, when it reached the right margin
    for page in pages:
        lines = [line for line in page.lines if line.text.strip() and not _is_running(line, page, running)]
        left, right = _margins(lines, page)
        for line in lines:
            text = line.text.strip()
            if open_paragraph is not None and not _indented(line, left) and _same_size(open_paragraph, line):
                out[-1] = join_fragments(out[-1], text)
                spans[-1] = (spans[-1][0], page.number)
            else:
                if out:
                    out.append("")
                    spans.append((spans[-1][1], spans[-1][1]))
                out.append(text)
                spans.append((page.number, page.number))
            wrapped = _reaches_margin(line, right) and not _TOC_ENTRY_END.search(text)
            open_paragraph = line if wrapped else None
    return Extracted(
        text="\n".join(out) + "\n",
        format=format_name,
        pages=len(pages),
        ocr_pages=ocr_pages,
        line_pages=tuple(spans),
    )


def _running_key(text: str) -> str:
    """Running heads differ only by their page number: compare them without digits and spaces."""
    return re.sub(r"[\d\s]+", "#", text.strip())


def _edge(line: TextLine, page: PageLines) -> str | None:
    if line.bottom <= page.height * _EDGE_BAND:
        return "top"
    if line.top >= page.height * (1 - _EDGE_BAND):
        return "bottom"
    return None


def _running_texts(pages: Sequence[PageLines]) -> set[tuple[str, str]]:
    """(edge, key) pairs that repeat on many pages: headers and footers, not content."""
    seen: Counter[tuple[str, str]] = Counter()
    for page in pages:
        keys = {(edge, _running_key(line.text)) for line in page.lines if (edge := _edge(line, page))}
        seen.update(keys)
    threshold = max(_RUNNING_MIN_PAGES, _RUNNING_SHARE * len(pages))
    return {key for key, count in seen.items() if count >= threshold}


def _is_running(line: TextLine, page: PageLines, running: set[tuple[str, str]]) -> bool:
    edge = _edge(line, page)
    if edge is None:
        return False
    return (edge, _running_key(line.text)) in running or bool(_PAGE_NUMBER.fullmatch(line.text.strip()))


def _margins(lines: Sequence[TextLine], page: PageLines) -> tuple[float, float]:
    """The text column's left edge (where most lines start) and right edge, taken as symmetric:
    a page of short lines (a poem, a list, hard line breaks) must not look wrapped."""
    if not lines:
        return 0.0, page.width
    lefts = sorted(line.x0 for line in lines)
    left = lefts[len(lefts) // 10]
    right = max(page.width - left, max(line.x1 for line in lines) - 1)
    return left, min(right, page.width)


def _char_width(line: TextLine) -> float:
    """About one CJK character: the line's height without its leading."""
    compact = re.sub(r"\s+", "", line.text)
    if compact:
        return min(line.height, (line.x1 - line.x0) / max(1, len(compact)) * 1.5)
    return line.height


def _reaches_margin(line: TextLine, right: float) -> bool:
    return line.x1 >= right - _WRAP_SLACK_CHARS * _char_width(line)


def _same_size(first: TextLine, second: TextLine) -> bool:
    """A heading or a bold title after a full line is set in another size or weight: a new block."""
    if first.weight_last and second.weight_first and first.weight_last != second.weight_first:
        return False
    return abs(first.height - second.height) <= 0.08 * max(first.height, second.height)


def _indented(line: TextLine, left: float) -> bool:
    return line.x0 >= left + _INDENT_CHARS * _char_width(line)


def merge_fragments(fragments: Sequence[TextLine], keep_order: bool = False) -> list[TextLine]:
    """Pieces of text on the same line joined left to right.

    Two pieces share a line when they overlap vertically by more than half the smaller height.
    keep_order (a PDF text layer, already in reading order): only a piece that follows the previous
    one closely on its line joins it, so two columns side by side stay apart. Otherwise (OCR boxes,
    in no order) the pieces are sorted top-down and a row is one line: a single-column page.
    """
    lines: list[list[TextLine]] = []
    ordered = fragments if keep_order else sorted(fragments, key=lambda f: (f.top, f.x0))
    for piece in ordered:
        candidates = lines[-1:] if keep_order else lines[-3:]
        for line in reversed(candidates):
            anchor = line[0]
            overlap = min(anchor.bottom, piece.bottom) - max(anchor.top, piece.top)
            close = not keep_order or -_char_width(piece) <= piece.x0 - line[-1].x1 <= 3 * _char_width(piece)
            if overlap > 0.5 * min(anchor.height, piece.height) and close:
                line.append(piece)
                break
        else:
            lines.append([piece])
    merged = []
    for pieces in lines:
        if not keep_order:
            pieces.sort(key=lambda f: f.x0)
        text = pieces[0].text
        for previous, piece in zip(pieces, pieces[1:]):
            gap = piece.x0 - previous.x1
            # A visible gap between Latin words keeps its space; CJK runs join without one.
            text = join_fragments(text, piece.text) if gap < _char_width(piece) * 0.8 else f"{text} {piece.text.strip()}"
        merged.append(
            TextLine(
                text.strip(),
                min(p.x0 for p in pieces),
                max(p.x1 for p in pieces),
                min(p.top for p in pieces),
                max(p.bottom for p in pieces),
                pieces[0].weight_first,
                pieces[-1].weight_last,
            )
        )
    return merged
