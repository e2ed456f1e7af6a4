"""Generic parsing: source lines -> paragraphs -> headings and items, for any plain Chinese text.

The work-report parser builds on these steps; parse_generic is the fallback for a text that is
neither a bulletin nor a work report.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace

from ingest.cndate import find_item_date
from ingest.docdate import DocumentDate, document_date
from ingest.records import DocumentKind, DocumentMeta, ParsedDocument, ParsedItem
from ingest.textutil import normalize_spaces

# A page number on its own line ("— 19 —", "- 3 -") or, with spaces inside, in the middle of a line.
_PAGE_NUMBER_LINE = re.compile(r"[—－–\-─]{1,2}\s*\d{1,4}\s*[—－–\-─]{1,2}")
_PAGE_NUMBER_INLINE = re.compile(r"\s*[—－–─]\s+\d{1,4}\s+[—－–─]\s*")

_CN_NUMERAL = "一二三四五六七八九十百零〇"
# Numbered heading markers, from the top level down: 一、 （一） 1. （1）
_NUMBERED_MARKERS = (
    (1, re.compile(rf"^[{_CN_NUMERAL}]+\s*、")),
    (2, re.compile(rf"^[（(]\s*[{_CN_NUMERAL}]+\s*[)）]")),
    (3, re.compile(r"^\d{1,2}\s*[、．.](?![\d.])")),
    (4, re.compile(r"^[（(]\s*\d{1,2}\s*[)）]")),
)
_MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s*(.*?)\s*#*\s*$")

# A sentence or paragraph ends at these marks, optionally followed by closing quotes or brackets.
_SENTENCE_END = re.compile(r"[。！？!?…][”’」』）)】]*$")
_PARAGRAPH_END = re.compile(r"[。！？!?…：:；;][”’」』）)】]*$")
_FIRST_SENTENCE = re.compile(r"^.*?[。！？!?][”’」』）)】]*")
_ANY_PUNCTUATION = re.compile(r"[。！？!?：:；;，,、]")
_FULL_DATE = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")

HEADING_LABEL_CHARS = 30  # a section label or item title longer than this is shortened for display
_SALUTATION_CHARS = 8  # "各位代表：" and the like are merged into the next paragraph
_SHAPED_HEADING_CHARS = 24  # an un-numbered line this short, without punctuation, is a heading
# Hard-wrapped layout: measured only on enough lines; a paragraph's first line is indented 2 em.
_MIN_WRAPPED_LINES = 20
_INDENT_EM = 2
_TOP_WINDOW = 6  # lines at the top where a news page prints its date


@dataclass(frozen=True)
class SourceLine:
    """One non-blank line of the source file, stripped; number is 1-based."""

    number: int
    text: str


@dataclass(frozen=True)
class Block:
    """A paragraph rebuilt from one or more source lines."""

    text: str
    line_start: int
    line_end: int
    lines: int = 1


@dataclass(frozen=True)
class Heading:
    """A heading found at the start of a block.

    inline: the heading is the first sentence of a paragraph ("（一）坚持人民至上…。面对…"); it names
    only that paragraph, whose text keeps the heading sentence.
    """

    level: int
    label: str
    inline: bool = False


def source_lines(text: str) -> list[SourceLine]:
    """Non-blank lines with their 1-based numbers; page-number lines and inline page numbers dropped."""
    lines = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = _PAGE_NUMBER_INLINE.sub("", raw).strip()
        if line and not _PAGE_NUMBER_LINE.fullmatch(line):
            lines.append(SourceLine(number, line))
    return lines


def join_fragments(*parts: str) -> str:
    """Join pieces of one paragraph: no space in Chinese, one space between two Latin words."""
    joined = ""
    for part in parts:
        part = part.strip()
        if joined and part and _is_latin(joined[-1]) and _is_latin(part[0]):
            joined += " "
        joined += part
    return joined


def _is_latin(char: str) -> bool:
    return char.isascii() and char.isalnum()


def ends_sentence(text: str) -> bool:
    return bool(_SENTENCE_END.search(text))


def ends_paragraph(text: str) -> bool:
    """Whether a line may close a paragraph: a full stop, or a colon/semicolon before what follows."""
    return bool(_PARAGRAPH_END.search(text))


def numbered_level(text: str) -> int | None:
    """Heading level of a numbered marker at the start of text (一、 -> 1, （一） -> 2, 1. -> 3, （1） -> 4)."""
    for level, marker in _NUMBERED_MARKERS:
        if marker.match(text):
            return level
    return None


def strip_marker(text: str) -> str:
    """Text without its leading numbered marker or markdown hashes."""
    text = _MARKDOWN_HEADING.sub(r"\2", text) if text.startswith("#") else text
    for _, marker in _NUMBERED_MARKERS:
        text = marker.sub("", text, count=1)
    return text.strip()


def shorten(text: str, limit: int = HEADING_LABEL_CHARS) -> str:
    """At most limit characters, cut at a clause boundary when one is near, marked with "…"."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = max(head.rfind(mark) for mark in "，、；：,;")
    if cut >= limit // 3:
        return head[:cut] + "…"
    return head + "…"


def clean_label(text: str) -> str:
    """A heading as shown in a section path: spaces between CJK removed, "/" kept out of the path."""
    text = normalize_spaces(" ".join(text.split()))
    # "(七)" and "（七）" are the same marker; show the full-width form the other headings use.
    text = re.sub(rf"^\(\s*([{_CN_NUMERAL}\d]+)\s*\)", r"（\1）", text)
    return text.rstrip("。.").replace("/", "／")


def build_paragraphs(lines: list[SourceLine]) -> list[Block]:
    """Paragraphs of a text: layout repaired when a PDF export hard-wrapped it, page breaks re-joined."""
    return rejoin_wrapped_lines(lines) if is_hard_wrapped(lines) else join_broken_paragraphs(lines)


def join_broken_paragraphs(lines: list[SourceLine]) -> list[Block]:
    """One block per line, re-joining a paragraph that a page break cut in the middle of a sentence."""
    blocks: list[Block] = []
    for line in lines:
        previous = blocks[-1] if blocks else None
        if (
            previous is not None
            and not ends_paragraph(previous.text)
            and not is_standalone_heading_text(previous.text)
            and not _MARKDOWN_HEADING.match(line.text)
            and numbered_level(line.text) is None
        ):
            blocks[-1] = Block(
                join_fragments(previous.text, line.text), previous.line_start, line.number, previous.lines + 1
            )
        else:
            blocks.append(Block(line.text, line.number, line.number))
    return blocks


def is_hard_wrapped(lines: list[SourceLine]) -> bool:
    """A PDF export that broke every paragraph into short lines (most lines end mid-sentence)."""
    if len(lines) < _MIN_WRAPPED_LINES:
        return False
    open_ended = sum(not ends_paragraph(line.text) for line in lines)
    lengths = sorted(len(line.text) for line in lines)
    return open_ended >= len(lines) / 2 and lengths[len(lengths) // 2] <= 45


def display_width(text: str) -> float:
    """Printed width in em: CJK and full-width marks 1, Latin letters and digits 1/2, a space 1/4."""
    width = 0.0
    for char in text.strip():
        if char.isspace():
            width += 0.25
        elif unicodedata.east_asian_width(char) in "WFA":
            width += 1
        else:
            width += 0.5
    return width


def rejoin_wrapped_lines(lines: list[SourceLine]) -> list[Block]:
    """Rebuild paragraphs from a hard-wrapped layout.

    A paragraph ends on a line that closes a sentence and is short, or is followed by an indented
    (slightly shorter) first line; a heading starts a paragraph; a short line without punctuation
    after a paragraph end is a heading on its own.
    """
    full = _typical_width(lines)
    blocks: list[Block] = []
    current: list[SourceLine] = []

    def flush() -> None:
        if current:
            text = join_fragments(*(line.text for line in current))
            blocks.append(Block(text, current[0].number, current[-1].number, len(current)))
            current.clear()

    for line in lines:
        if current and _starts_paragraph(current[-1].text, line.text, full):
            flush()
        current.append(line)
        if len(current) == 1 and _is_heading_line(line.text, full):
            flush()
    flush()
    return blocks


def _typical_width(lines: list[SourceLine]) -> float:
    widths = Counter(round(display_width(line.text)) for line in lines if display_width(line.text) >= 10)
    return float(widths.most_common(1)[0][0]) if widths else 0.0


def _starts_paragraph(previous: str, line: str, full: float) -> bool:
    if not ends_paragraph(previous):
        return False
    if numbered_level(line) is not None or _is_heading_line(line, full):
        return True
    previous_width = display_width(previous)
    if previous_width < full - _INDENT_EM - 0.5:
        return True
    # A nearly full last line: only the indentation of the next line tells a new paragraph.
    line_width = display_width(line)
    return previous_width <= full + 0.2 and full - _INDENT_EM - 1 <= line_width <= full - 0.8


def _is_heading_line(line: str, full: float) -> bool:
    """A short first line that does not end a sentence is a heading ("（一）…", "2022年主要工作")."""
    if display_width(line) >= full - _INDENT_EM - 1 or ends_paragraph(line):
        return False
    return numbered_level(line) is not None or is_heading_shaped(line)


def is_standalone_heading_text(text: str) -> bool:
    """A markdown heading, a numbered heading without a full stop, or a short unpunctuated line."""
    if _MARKDOWN_HEADING.match(text):
        return True
    if numbered_level(text) is not None:
        return not ends_sentence(text) and len(text) <= 2 * HEADING_LABEL_CHARS
    return is_heading_shaped(text)


def is_heading_shaped(text: str) -> bool:
    """An un-numbered heading such as "本届政府和 2021年工作回顾": short, no punctuation at all."""
    compact = normalize_spaces(text)
    if re.fullmatch(r"[\d\s年月日.\-]+", compact):
        return False  # a dateline, not a heading
    return 2 <= len(compact) <= _SHAPED_HEADING_CHARS and not _ANY_PUNCTUATION.search(compact)


def find_heading(block: Block, is_last: bool) -> Heading | None:
    """The heading a block starts with, if any."""
    markdown = _MARKDOWN_HEADING.match(block.text)
    if markdown:
        body = markdown.group(2)
        level = numbered_level(body) or len(markdown.group(1))
        return Heading(level, clean_label(body)) if body else None
    level = numbered_level(block.text)
    if level is not None:
        first = _FIRST_SENTENCE.match(block.text)
        if first is None:
            # No full stop anywhere: the whole block names a section.
            if len(block.text) <= 2 * HEADING_LABEL_CHARS:
                return Heading(level, clean_label(block.text))
            return Heading(level, shorten(clean_label(block.text)), inline=True)
        # A numbered sentence starts a paragraph; it stays in the item text so nothing is lost.
        return Heading(level, shorten(clean_label(first.group(0))), inline=True)
    if block.lines == 1 and not is_last and is_heading_shaped(block.text):
        return Heading(1, clean_label(block.text))
    return None


def item_title(text: str) -> str:
    """A title a person recognises on a citation card: the lead phrase or first sentence, shortened."""
    body = strip_marker(normalize_spaces(text))
    sentences = [s for s in re.split(r"(?<=[。！？!?])", body) if s.strip()]
    # Skip salutations such as "各位代表！" that open a paragraph.
    while len(sentences) > 1 and len(sentences[0].strip()) <= 6 and sentences[0].strip()[-1] in "！!":
        sentences.pop(0)
    first = sentences[0].strip() if sentences else body
    colon = re.search(r"[：:]", first)
    if colon and 2 <= colon.start() <= 20:
        return first[: colon.start()]
    return shorten(first.rstrip("。！？!?"))


def leading_date(text: str) -> str | None:
    """An ISO date when a paragraph opens with a full date ("2021年7月20日，…"); otherwise None."""
    match = _FULL_DATE.match(normalize_spaces(text))
    if not match:
        return None
    year, month, day = (int(group) for group in match.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def _is_salutation(block: Block) -> bool:
    text = normalize_spaces(block.text)
    return len(text) <= _SALUTATION_CHARS and bool(re.search(r"[：:！!，,]$", text))


def items_from_blocks(blocks: list[Block], preface_section: str) -> list[ParsedItem]:
    """Walk the blocks keeping the section path; every non-heading block becomes one item.

    A short salutation ("各位代表：") is merged into the paragraph that follows it.
    """
    items: list[ParsedItem] = []
    path: list[Heading] = []
    pending: Block | None = None
    for index, block in enumerate(blocks):
        heading = find_heading(block, is_last=index == len(blocks) - 1)
        if heading is not None and not heading.inline:
            if pending is not None:
                items.append(_make_item(pending, None, path, preface_section))
                pending = None
            while path and path[-1].level >= heading.level:
                path.pop()
            path.append(heading)
            continue
        if pending is None and _is_salutation(block) and index + 1 < len(blocks):
            pending = block
            continue
        items.append(_make_item(block, pending, path + ([heading] if heading else []), preface_section))
        pending = None
    if pending is not None:
        items.append(_make_item(pending, None, path, preface_section))
    return items


def _make_item(
    block: Block, salutation: Block | None, path: list[Heading], preface_section: str
) -> ParsedItem:
    section = "/".join(heading.label for heading in path) or preface_section
    text = normalize_spaces(block.text)
    if salutation is not None:
        text = normalize_spaces(salutation.text) + "\n" + text
    return ParsedItem(
        section=section,
        title=item_title(block.text),
        text=text,
        line_start=salutation.line_start if salutation is not None else block.line_start,
        line_end=block.line_end,
        date=leading_date(block.text),
    )


# Official documents (公文) name their genre at the end of the title, or carry a document number.
_NOTICE_TITLE = re.compile(r"(?:通知|通告|公告|公示|决定|意见|办法|规定|细则|方案|批复|通报|纪要|函)[”」》]?$")
_DOCUMENT_NUMBER = re.compile(r"[〔\[［(（]\s*(?:19|20)\d{2}\s*[〕\]］)）]\s*\d{1,4}\s*号")
_TITLE_MAX_CHARS = 60
_OWN_DATE_WITHIN = 12  # a paragraph dated by its own opening ("7月29日至8月1日，…") names it this early


def parse_generic(text: str, file: str) -> ParsedDocument:
    """Any other document (a notice, a news article, a policy): titled and dated from its content,
    headings give sections, paragraphs give items; items carry their own opening date, else the
    document's."""
    lines = source_lines(text)
    if not lines:
        raise ValueError(f"{file}: 文本为空，无法解析；请检查文件内容或编码")
    dated = document_date([(line.number, line.text) for line in lines])
    title, lines = _take_title(lines, file)
    body = [line for line in lines if line.number != dated.line]
    items = items_from_blocks(build_paragraphs(body), preface_section=title)
    if not items:
        raise ValueError(f"{file}: 只找到标题，没有正文段落；请检查文件内容")
    year = int(dated.iso[:4]) if dated.iso else None
    items = [replace(item, **dict(zip(("date", "date_end"), _item_dates(item, year, dated.iso)))) for item in items]
    kind = _generic_kind(title, lines, dated)
    return ParsedDocument(
        meta=DocumentMeta(kind=kind, title=title, period=dated.iso, evidence=dated.evidence),
        items=items,
        warnings=[] if dated.iso else [f"既不像月报也不像政府工作报告，已按通用格式（标题 + 段落）解析；没有找到文档日期（{dated.evidence}），可在 manifest.json 中填写 period"],
    )


def _take_title(lines: list[SourceLine], file: str) -> tuple[str, list[SourceLine]]:
    """The first line when it reads as a title (a heading, or a short line), else the file name."""
    first = lines[0].text
    if len(lines) > 1 and (_MARKDOWN_HEADING.match(first) or _is_title_line(first)):
        return clean_label(strip_marker(first)) or file, lines[1:]
    return file.rsplit(".", 1)[0], lines


def _is_title_line(text: str) -> bool:
    compact = normalize_spaces(text.strip())
    return 2 <= len(compact) <= _TITLE_MAX_CHARS and not re.search(r"[。！？!?]", compact[:-1])


def _item_dates(item: ParsedItem, year: int | None, document_iso: str) -> tuple[str | None, str | None]:
    """An item's own date when its text opens with one, else the document's date (None when undated)."""
    if item.date:
        return item.date, item.date_end
    if year is not None:
        own = find_item_date(item.text[: _OWN_DATE_WITHIN + 12], year)
        opening = re.match(r"^[^，。,]{0,%d}?\d{1,2}\s*月\s*\d{1,2}\s*日" % _OWN_DATE_WITHIN, normalize_spaces(item.text))
        if own and opening:
            return own
    return (document_iso or None), None


def _generic_kind(title: str, lines: list[SourceLine], dated: DocumentDate) -> DocumentKind:
    """notice: an official document (its title names the genre, or it has a document number);
    news: published with a news dateline ("新华社北京8月8日电") or a web page's time stamp or source
    line at the top; else generic (a dated brief or policy stays generic)."""
    if _NOTICE_TITLE.search(title):
        return "notice"
    if dated.published:
        return "news"  # a news article may quote a document number: its stamp decides first
    if _DOCUMENT_NUMBER.search(" ".join(line.text for line in lines[:_TOP_WINDOW])):
        return "notice"
    return "generic"
