"""Parse a monthly bulletin (政务信息月报) into one ParsedItem per news item.

The table of contents (目录) is the map: it lists every item title under its section. The steps:
locate the TOC -> read its entries (section path, title) -> find each title in the body, in order
(exactly, then fuzzily for small TOC/body differences) -> cut each item's text up to the next item or
section heading -> clean it (markup removed, page-break splits rejoined) -> date it.
Titles and section names are compared through a key that keeps only letters, digits and CJK
characters (NFKC-folded), so spacing, markup and punctuation differences do not matter.

Item titles are the body's (the TOC's title only finds the item); text is space-normalised
("2 月 6 日" -> "2月6日"). Item dates: the first "M月D日" (or range) in the item's first sentence. An item
whose text names only a month ("2月，…") or no date at all ("近日…") gets date None: the document's
period says its month.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from difflib import SequenceMatcher

from ingest.cndate import find_item_date, month_day_mentions
from ingest.records import DocumentMeta, ParsedDocument, ParsedItem
from ingest.textutil import normalize_spaces

# Top-level sections are drawn with ◆◆◆ in the TOC; these names count as top level even without it.
_TOP_SECTION_NAMES = frozenset({"特别关注", "亮点聚焦", "时政", "经济", "社会事业"})
_TOP_DECORATION = "◆◇■□●★☆"
_MAX_HEADING_CHARS = 8
_FUZZY_MIN_RATIO = 0.72
_FUZZY_SAME_START = 2
# Bold text much shorter than the expected title is emphasis inside the text, not the title.
_MARKED_TITLE_SHARE = 0.6
_MIN_TOC_ENTRIES = 5
_TOC_SEARCH_LINES = 40

_MARKUP = re.compile(r"</?b>|\*\*|^\s*#+\s*|^\s*[-*]\s+(?=\S)", re.IGNORECASE)
_LEADER = re.compile(r"\s*(?:\.{2,}|…+|·{3,}|．{2,})\s*(?P<page>\d{1,3})?\s*$")
_TRAILING_PAGE = re.compile(r"(?<=\S)\s+(?P<page>\d{1,3})\s*$")
_TITLE_BRACKETS = {"【": "】", "〖": "〗", "[": "]", "［": "］"}
_CLOSING_MARKS = "”’」』）)》】〗］]〉"
_TOC_MARK = re.compile(r"目\s*录")
_SENTENCE_END = re.compile(r"(?:[。！？!?；;…][”’」』）)]*|[：:])$")
_LIST_START = re.compile(r"^(?:\d{1,2}[.、．]|[（(][一二三四五六七八九十\d]{1,3}[）)]|[一二三四五六七八九十]{1,3}、)")
# A year with what decides whether it votes: a span or target mark before or after, and 度 (annual).
_YEAR_CONTEXT = re.compile(
    r"(?P<before>[到至—\-–~～]?)\s*(?P<year>(?:19|20)\d{2})\s*年(?P<annual>度?)(?P<after>\s*[—\-–~～至])?"
)
_REVIEW_BEFORE = re.compile(r"(?:总结|回顾|回望|去年|表彰|表扬)$")
_REVIEW_AFTER = re.compile(r"[，,]")  # "2022年，全市建成…": a sentence that reports a year's results
_PLAN_BEFORE = re.compile(r"(?:部署|谋划|安排)$")
_PLAN_AFTER = re.compile(r"(?:将|计划|目标|年底|工作安排|工作任务)")
_HEADER_PERIOD = re.compile(
    r"(?P<year>(?:19|20)\d{2})\s*年\s*(?:(?P<month>\d{1,2})\s*月|第\s*(?P<issue>\d{1,2})\s*期)"
)


@dataclass(frozen=True)
class _Line:
    number: int  # 1-based line number in the file
    raw: str
    key: str  # letters, digits and CJK only: what titles are compared on
    key_to_raw: tuple[int, ...]  # raw index of each key character


@dataclass(frozen=True)
class _TocEntry:
    section: str
    title: str
    key: str


@dataclass(frozen=True)
class _Toc:
    entries: list[_TocEntry]
    section_keys: frozenset[str]
    toc_line: int  # index of the 目录 line: what comes before it is a title block
    body_start: int  # index of the line where the body begins


@dataclass(frozen=True)
class _Anchor:
    """Where one TOC entry's item starts in the body: its title's last line and end inside that line."""

    entry: int
    line: int
    title_end_line: int
    title_end_raw: int
    title: str


@dataclass(frozen=True)
class _Draft:
    section: str
    title: str
    text: str
    line_start: int
    line_end: int


@dataclass(frozen=True)
class _Period:
    year: int | None
    month: int | None
    evidence: str


def looks_like_bulletin(text: str) -> bool:
    """A 目录 near the top, several TOC lines with page numbers, and dated news items after it."""
    raws = _split_lines(text)
    toc_line = _find_toc_line(raws)
    if toc_line is None:
        return False
    toc_entries = sum(1 for raw in raws[toc_line:] if _LEADER.search(raw) or _TRAILING_PAGE.search(raw))
    return toc_entries >= _MIN_TOC_ENTRIES and len(month_day_mentions(text)) >= _MIN_TOC_ENTRIES


def parse_bulletin(text: str, file: str) -> ParsedDocument:
    """One ParsedItem per TOC entry found in the body; a warning for each entry that is not found."""
    lines = _index_lines(text)
    toc = _read_toc(lines, file)
    anchors, warnings = _anchor_items(toc, lines)
    drafts = [_cut_item(toc, lines, anchors, position) for position in range(len(anchors))]
    header = lines[: toc.toc_line]
    period = _infer_period(header, drafts)
    items = [_dated(draft, period) for draft in drafts]
    if period.year is None:
        warnings.append(f"无法推断月报的年月：{period.evidence}；请在 manifest.json 中填写 period")
    meta = DocumentMeta(
        kind="bulletin",
        title=_header_title(header) or _default_title(period),
        period=f"{period.year:04d}-{period.month:02d}" if period.year and period.month else "",
        evidence=period.evidence,
    )
    return ParsedDocument(meta=meta, items=items, warnings=warnings)


def _default_title(period: _Period) -> str:
    if period.year and period.month:
        return f"政务信息月报（{period.year}年{period.month}月）"
    return "政务信息月报"


# --- lines and keys -------------------------------------------------------------------------------


def _split_lines(text: str) -> list[str]:
    """Lines as an editor numbers them: only a line feed ends a line (str.splitlines also splits on
    form feeds and other separators, which would shift every line number after them)."""
    return [raw.rstrip("\r") for raw in text.split("\n")]


def _index_lines(text: str) -> list[_Line]:
    return [_make_line(number, raw) for number, raw in enumerate(_split_lines(text), start=1)]


def _make_line(number: int, raw: str) -> _Line:
    masked = _MARKUP.sub(lambda m: "\0" * len(m.group(0)), raw)
    key_chars, key_to_raw = [], []
    for index, char in enumerate(masked):
        for folded in unicodedata.normalize("NFKC", char):
            if folded.isalnum() and not folded.isspace():
                key_chars.append(folded.lower())
                key_to_raw.append(index)
    return _Line(number, raw, "".join(key_chars), tuple(key_to_raw))


def _key(text: str) -> str:
    return _make_line(0, text).key


def _clean(text: str) -> str:
    return normalize_spaces(_MARKUP.sub("", text)).strip()


def _clean_title(text: str) -> str:
    """A title without markup or the brackets some layouts put around it ("【标题】")."""
    title = _clean(text)
    if title[:1] in _TITLE_BRACKETS and title[-1:] == _TITLE_BRACKETS[title[0]]:
        title = title[1:-1].strip()
    return title


# --- table of contents ----------------------------------------------------------------------------


def _find_toc_line(raws: list[str]) -> int | None:
    """The short "目录" line near the top of the file."""
    for index, raw in enumerate(raws[:_TOC_SEARCH_LINES]):
        if _TOC_MARK.search(raw) and len(raw.strip()) <= 20:
            return index
    return None


def _heading(line: _Line) -> tuple[str, bool] | None:
    """(section name, is top level) when the line is a section heading, else None."""
    if _LEADER.search(line.raw) or _TRAILING_PAGE.search(line.raw):
        return None
    name = line.key
    if not name or len(name) > _MAX_HEADING_CHARS or not all(_is_cjk(ch) for ch in name):
        return None
    is_top = any(mark in line.raw for mark in _TOP_DECORATION) or name in _TOP_SECTION_NAMES
    return name, is_top


def _read_toc(lines: list[_Line], file: str) -> _Toc:
    start = _find_toc_line([line.raw for line in lines])
    if start is None:
        raise ValueError(
            f"{file}: 开头没有找到“目录”，不像政务信息月报；请在 manifest.json 中把它的 kind 设为 report 或 generic"
        )
    raw_entries: list[tuple[str, str, bool]] = []  # (section, title, has page number)
    section_keys: set[str] = set()
    top, sub = "", ""
    first_section = None
    body_start = None
    for index in range(start + 1, len(lines)):
        line = lines[index]
        heading = _heading(line)
        if heading is not None:
            name, is_top = heading
            if name == first_section and raw_entries:
                body_start = index
                break
            first_section = first_section or name
            section_keys.add(name)
            if is_top or not top:
                top, sub = name, ""
            else:
                sub = name
            continue
        if not line.key:
            continue
        has_page = bool(_LEADER.search(line.raw) or _TRAILING_PAGE.search(line.raw))
        pattern = _LEADER if _LEADER.search(line.raw) else _TRAILING_PAGE
        title = pattern.sub("", line.raw) if has_page else line.raw
        raw_entries.append(("/".join(part for part in (top, sub) if part), _clean(title), has_page))
    if body_start is None or len(raw_entries) < _MIN_TOC_ENTRIES:
        raise ValueError(f"{file}: 目录之后没有找到正文（第一个栏目标题没有在正文中再次出现）；请检查文件是否完整")
    body_key = "".join(line.key for line in lines[body_start:])
    entries = _join_wrapped_entries(raw_entries, body_key)
    return _Toc(entries=entries, section_keys=frozenset(section_keys), toc_line=start, body_start=body_start)


def _join_wrapped_entries(raw_entries: list[tuple[str, str, bool]], body_key: str) -> list[_TocEntry]:
    """A TOC line without a page number is either the first half of a wrapped title or an entry whose
    page number was lost; the body decides: the joined title must appear there."""
    entries: list[_TocEntry] = []
    pending: _TocEntry | None = None
    for section, title, has_page in raw_entries:
        if pending is not None:
            joined = _join_title(pending.title, title)
            if pending.section == section and _key(joined) in body_key:
                title = joined
            else:
                entries.append(pending)
            pending = None
        entry = _TocEntry(section, title, _key(title))
        if has_page:
            entries.append(entry)
        else:
            pending = entry
    if pending is not None:
        entries.append(pending)
    return entries


def _join_title(first: str, second: str) -> str:
    return normalize_spaces(f"{first.rstrip()}{second.lstrip()}")


# --- finding items in the body --------------------------------------------------------------------


def _anchor_items(toc: _Toc, lines: list[_Line]) -> tuple[list[_Anchor], list[str]]:
    """Exact title matches first, in TOC order; then each remaining title is looked for fuzzily
    between its neighbours' anchors."""
    found: dict[int, _Anchor] = {}
    cursor = toc.body_start
    for position, entry in enumerate(toc.entries):
        anchor = _find_exact(entry, position, lines, cursor, len(lines), toc.section_keys)
        if anchor is not None:
            found[position] = anchor
            cursor = anchor.title_end_line + 1
    warnings = []
    for position, entry in enumerate(toc.entries):
        if position in found:
            continue
        before = [found[p].title_end_line for p in found if p < position]
        after = [found[p].line for p in found if p > position]
        low = max(before) + 1 if before else toc.body_start
        high = min(after) if after else len(lines)
        anchor = _find_fuzzy(entry, position, lines, low, high, toc.section_keys)
        if anchor is None:
            warnings.append(f"目录条目“{entry.title}”在正文中没有找到，已跳过")
        else:
            found[position] = anchor
    return [found[p] for p in sorted(found)], warnings


def _title_candidates(
    lines: list[_Line], low: int, high: int, section_keys: frozenset[str]
) -> Iterator[tuple[int, int | None]]:
    """Each non-blank body line with the line after it (titles wrap over a blank line)."""
    for index in range(low, high):
        line = lines[index]
        if not line.key or line.key in section_keys:
            continue
        following = next((j for j in range(index + 1, min(high + 1, len(lines))) if lines[j].key), None)
        yield index, following


def _find_exact(
    entry: _TocEntry, position: int, lines: list[_Line], low: int, high: int, section_keys: frozenset[str]
) -> _Anchor | None:
    for index, following in _title_candidates(lines, low, high, section_keys):
        anchor = _anchor_at(position, lines, index, following, len(entry.key))
        if anchor is not None and _key(anchor.title).startswith(entry.key):
            return anchor
    return None


def _find_fuzzy(
    entry: _TocEntry, position: int, lines: list[_Line], low: int, high: int, section_keys: frozenset[str]
) -> _Anchor | None:
    """The line in [low, high) that begins most like the title, if it is close enough."""
    best: tuple[float, _Anchor] | None = None
    for index, following in _title_candidates(lines, low, high, section_keys):
        if lines[index].key[:_FUZZY_SAME_START] != entry.key[:_FUZZY_SAME_START]:
            continue  # TOC and body titles differ inside, not at the start ("7月5日，…" is text)
        joined = lines[index].key + (lines[following].key if following is not None else "")
        ratio, length = _best_prefix_ratio(entry.key, joined)
        if ratio < _FUZZY_MIN_RATIO or (best is not None and ratio <= best[0]):
            continue
        anchor = _anchor_at(position, lines, index, following, length)
        if anchor is not None:
            best = (ratio, anchor)
    return best[1] if best else None


def _best_prefix_ratio(title_key: str, line_key: str) -> tuple[float, int]:
    """How well the line begins with the title, allowing a few characters more or less."""
    best_ratio, best_length = 0.0, len(title_key)
    slack = max(3, len(title_key) // 4)
    for length in range(max(1, len(title_key) - slack), len(title_key) + slack + 1):
        ratio = SequenceMatcher(None, title_key, line_key[:length], autojunk=False).ratio()
        if ratio > best_ratio:
            best_ratio, best_length = ratio, length
    return best_ratio, best_length


def _anchor_at(
    position: int, lines: list[_Line], index: int, following: int | None, key_length: int
) -> _Anchor | None:
    """The title occupies the first key_length key characters of the line (and maybe the next one).
    Markup (**bold**, <b>, a # heading line) marks the title's real end when present."""
    line = lines[index]
    marked_end = _marked_title_end(line.raw)
    marked_share = min(key_length, len(line.key)) * _MARKED_TITLE_SHARE
    if marked_end is not None and len(_key(line.raw[:marked_end])) >= marked_share:
        return _Anchor(position, index, index, marked_end, _clean_title(line.raw[:marked_end]))
    if key_length <= len(line.key):
        end = _past_closing_marks(line.raw, line.key_to_raw[key_length - 1] + 1)
        return _Anchor(position, index, index, end, _clean_title(line.raw[:end]))
    if following is None:
        return None
    rest = key_length - len(line.key)
    next_line = lines[following]
    if rest > len(next_line.key):
        return None
    next_marked = _marked_title_end(next_line.raw)
    if next_marked is not None:
        end = next_marked
    else:
        end = _past_closing_marks(next_line.raw, next_line.key_to_raw[rest - 1] + 1)
    title = _clean_title(_join_title(_clean(line.raw), _clean(next_line.raw[:end])))
    return _Anchor(position, index, following, end, title)


def _past_closing_marks(raw: str, end: int) -> int:
    """Titles compare on letters only, so a title's closing quote or bracket ("…集体”") is taken back."""
    while end < len(raw) and raw[end] in _CLOSING_MARKS:
        end += 1
    return end


def _marked_title_end(raw: str) -> int | None:
    """End of a title set off by markup: "**标题** 正文", "<b>标题</b>", or a whole "### 标题" line."""
    stripped = raw.lstrip()
    offset = len(raw) - len(stripped)
    heading = re.match(r"#+\s*", stripped)
    if heading:
        offset += heading.end()
        stripped = stripped[heading.end():]
        if not stripped.startswith(("**", "<b>", "<B>")):
            return len(raw)
    for opener, closer in (("**", "**"), ("<b>", "</b>"), ("<B>", "</B>")):
        if stripped.startswith(opener):
            close = stripped.find(closer, len(opener))
            if close > 0:
                return offset + close + len(closer)
    return None


# --- cutting and cleaning item text ---------------------------------------------------------------


def _cut_item(toc: _Toc, lines: list[_Line], anchors: list[_Anchor], position: int) -> _Draft:
    anchor = anchors[position]
    stop = anchors[position + 1].line if position + 1 < len(anchors) else len(lines)
    pieces: list[tuple[str, bool]] = []  # (cleaned line, is a heading inside the item)
    first_rest = lines[anchor.title_end_line].raw[anchor.title_end_raw :]
    last_line = anchor.title_end_line
    if _clean(first_rest):
        pieces.append((_clean(first_rest), False))
    for index in range(anchor.title_end_line + 1, stop):
        line = lines[index]
        if line.key in toc.section_keys:
            break
        cleaned = _clean(line.raw)
        if cleaned:
            pieces.append((cleaned, line.raw.lstrip().startswith("#")))
            last_line = index
    entry = toc.entries[anchor.entry]
    return _Draft(
        section=entry.section,
        title=anchor.title,
        text=_join_paragraphs(pieces),
        line_start=lines[anchor.line].number,
        line_end=lines[last_line].number,
    )


def _join_paragraphs(pieces: list[tuple[str, bool]]) -> str:
    """Rejoin lines a page break cut mid-sentence ("国\\n\\n家矿山"); keep real paragraph breaks."""
    paragraphs: list[str] = []
    previous_is_heading = True
    for text, is_heading in pieces:
        continues = (
            paragraphs
            and not previous_is_heading
            and not is_heading
            and not _SENTENCE_END.search(paragraphs[-1])
            and not _LIST_START.match(text)
        )
        if continues:
            paragraphs[-1] = normalize_spaces(paragraphs[-1] + text)
        else:
            paragraphs.append(text)
        previous_is_heading = is_heading
    return "\n".join(paragraphs)


# --- period and dates -----------------------------------------------------------------------------


def _lead(text: str) -> str:
    """The item's first sentence: where its own date is written."""
    end = text.find("。")
    return text if end < 0 else text[: end + 1]


def _infer_period(header: list[_Line], drafts: list[_Draft]) -> _Period:
    """Month: a title line before the TOC, else the most common month of the items' own dates.
    Year: a title line before the TOC, else a vote over the years the items mention."""
    months = Counter(mentions[0][0] for draft in drafts if (mentions := month_day_mentions(_lead(draft.text))))
    header_year, header_month = _header_period(header)
    if header_year and header_month:
        return _Period(header_year, header_month, f"目录前的标题行写明 {header_year}年{header_month}月")
    if not months:
        return _Period(header_year, None, "正文条目中没有“M月D日”日期，无法推断月份")
    month, month_count = months.most_common(1)[0]
    month_evidence = f"{sum(months.values())} 条有日期的条目中 {month_count} 条在 {month} 月"
    if header_year:
        return _Period(header_year, month, f"{month_evidence}；目录前的标题行写明 {header_year} 年")
    votes, notes = _year_votes("\n".join(draft.text for draft in drafts), month)
    if not votes:
        return _Period(None, month, f"{month_evidence}；正文没有提到年份，无法推断年份")
    year = votes.most_common(1)[0][0]
    tally = "，".join(f"{y}年 {n} 票" for y, n in votes.most_common(3))
    return _Period(year, month, f"{month_evidence}；年份投票：{tally}（{notes}）")


def _year_votes(text: str, month: int) -> tuple[Counter[int], str]:
    """Each "YYYY年" votes for its year; spans ("2021—2025年") and targets ("到2025年") do not vote.
    Reviews and plans straddle the turn of the year: a review ("2022年度", "总结2022年", "2022年，全市…") published
    before Q4 is about the year before the bulletin, and a plan ("部署2024年", "2024年将") published
    in Q4 is about the year after it. An explicit "YYYY年M月" of the bulletin's month counts three times."""
    votes: Counter[int] = Counter()
    normalized = normalize_spaces(text)
    for match in _YEAR_CONTEXT.finditer(normalized):
        if match["before"] or match["after"]:
            continue
        year = int(match["year"])
        before = normalized[max(0, match.start("year") - 2) : match.start("year")]
        after = normalized[match.end() : match.end() + 4]
        if match["annual"] or _REVIEW_BEFORE.search(before) or _REVIEW_AFTER.match(after):
            votes[year + 1 if month < 10 else year] += 1
        elif _PLAN_BEFORE.search(before) or _PLAN_AFTER.match(after):
            votes[year - 1 if month >= 10 else year] += 1
        else:
            votes[year] += 1
    explicit = 0
    for match in re.finditer(rf"((?:19|20)\d{{2}})年{month}月(?!\d)", normalized):
        votes[int(match.group(1))] += 2
        explicit += 1
    note = "年度总结计入次年" if month < 10 else "来年计划计入当年"
    if explicit:
        note += f"；“YYYY年{month}月” {explicit} 处加权"
    return votes, note


def _header_period(header: list[_Line]) -> tuple[int | None, int | None]:
    """(year, month) from a title line before the TOC, such as "2023年7月" or "2023年第7期"."""
    for line in header:
        match = _HEADER_PERIOD.search(line.raw)
        if match:
            return int(match["year"]), int(match["month"]) if match["month"] else None
    return None, None


def _header_title(header: list[_Line]) -> str:
    texts = [_clean(line.raw) for line in header if line.key]
    return " ".join(texts)[:60]


def _dated(draft: _Draft, period: _Period) -> ParsedItem:
    date, date_end = None, None
    if period.year is not None:
        found = find_item_date(_lead(draft.text), _item_year(draft.text, period.year, period.month))
        if found:
            date, date_end = found
    return ParsedItem(
        section=draft.section,
        title=draft.title,
        text=draft.text,
        line_start=draft.line_start,
        line_end=draft.line_end,
        date=date,
        date_end=date_end,
    )


def _item_year(text: str, year: int, month: int | None) -> int:
    """A January item in a December bulletin belongs to the next year, and the other way round."""
    mentions = month_day_mentions(_lead(text))
    if not mentions:
        return year
    item_month = mentions[0][0]
    if month == 12 and item_month == 1:
        return year + 1
    if month == 1 and item_month == 12:
        return year - 1
    return year


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"
