"""The date of a document that is neither a bulletin nor a report, read from its content.

In order of trust: a labelled date (发文日期：…, 发布时间：…), a date line near the top (a web page's
"2023-08-03 19:19", "来源：央视网 | 2023年07月24日"), a news dateline ("新华社北京8月8日电"), the
signature date a notice ends with (落款 "2023年8月8日"), and last the first full date in the text.
A date written without its year ("7-26 16:16", "8月8日电") takes the year the text mentions most.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date

from ingest.cndate import year_mentions
from ingest.textutil import normalize_spaces

_SP = r"[ \t\u3000]*"
# A full date: 2023年8月8日, 2023-08-08, 2023/8/8, 2023.08.08 (a time may follow).
_FULL_DATE = re.compile(
    rf"(?<!\d)(?P<year>(?:19|20)\d{{2}}){_SP}(?:年{_SP}(?P<m1>\d{{1,2}}){_SP}月{_SP}(?P<d1>\d{{1,2}}){_SP}[日号]"
    rf"|(?P<sep>[-/.])(?P<m2>\d{{1,2}})(?P=sep)(?P<d2>\d{{1,2}})(?!\d))"
)
_MONTH_DAY_TIME = re.compile(r"(?<![\d.])(?P<month>\d{1,2})-(?P<day>\d{1,2})\s+\d{1,2}:\d{2}")
_DATELINE = re.compile(rf"(?P<month>\d{{1,2}}){_SP}月{_SP}(?P<day>\d{{1,2}}){_SP}日{_SP}(?:电|讯)")
_LABELLED = re.compile(rf"(?:发文日期|成文日期|印发日期|发布日期|发布时间|公布日期|日期|时间){_SP}[:：]")
# A line that is nothing but a date and its trimmings (time, weekday, source, separators).
_DATE_LINE_REST = re.compile(
    r"^[\s|｜丨/\-—:：]*(?:\d{1,2}:\d{2}(?::\d{2})?)?[\s|｜丨]*(?:星期.|周.)?[\s|｜丨]*$"
)
_SOURCE_PART = re.compile(r"(?:来源|作者|编辑|责任编辑|浏览次数|字号)[:：][^|｜丨]*")
# What a web page or a wire adds to the date it publishes: a time of day, a source, 发布.
_PUBLISHED = re.compile(r"\d{1,2}:\d{2}|来源|发布|转载|记者")
_TOP_LINES = 6
_TAIL_LINES = 8


@dataclass(frozen=True)
class DocumentDate:
    iso: str  # "2023-08-08", or "" when the text has none
    evidence: str
    line: int | None = None  # 1-based number of a line that only carries the date (not a paragraph)
    published: bool = False  # a publishing stamp (time, source, 发布时间, a news dateline): news, not a document


def document_date(lines: list[tuple[int, str]]) -> DocumentDate:
    """The document's own date from its (line number, text) pairs; DocumentDate("", why) when none."""
    texts = [(number, normalize_spaces(text.strip())) for number, text in lines if text.strip()]
    if not texts:
        return DocumentDate("", "文本为空")
    year = _usual_year(" ".join(text for _, text in texts))
    for number, text in texts:
        labelled = _LABELLED.search(text)
        if labelled:
            found = _date_in(text[labelled.end():], year)
            if found:
                only = _is_date_line(text[labelled.end():])
                stamp = bool(_PUBLISHED.search(text))
                return DocumentDate(found, f"第{number}行标注的日期：{text[:40]}", number if only else None, stamp)
    for number, text in texts[:_TOP_LINES]:
        if _is_date_line(text):
            found = _date_in(text, year)
            if found:
                return DocumentDate(found, f"第{number}行的日期行：{text[:40]}", number, bool(_PUBLISHED.search(text)))
            return DocumentDate("", f"第{number}行的日期行只有月日（{text[:20]}），正文没有年份", number, bool(_PUBLISHED.search(text)))
    for number, text in texts[:_TOP_LINES]:
        dateline = _DATELINE.search(text)
        if dateline and year:
            found = _iso(year, int(dateline["month"]), int(dateline["day"]))
            if found:
                return DocumentDate(found, f"第{number}行的电头：{dateline.group(0)}（年份取正文最常提到的 {year} 年）", published=True)
    for number, text in reversed(texts[-_TAIL_LINES:]):
        if _is_date_line(text) and _FULL_DATE.search(text):
            found = _date_in(text, year)
            if found:
                return DocumentDate(found, f"第{number}行的落款日期：{text[:40]}")
    for number, text in texts:
        match = _FULL_DATE.search(text)
        found = _from_full(match) if match else None
        if found:
            return DocumentDate(found, f"正文第一个完整日期（第{number}行）：{match.group(0)}")
    return DocumentDate("", "文中没有日期行、发文日期或完整日期")


def _usual_year(text: str) -> int | None:
    """The year of the text's full dates (the most common), else the year it mentions most."""
    dated = Counter(int(match["year"]) for match in _FULL_DATE.finditer(text))
    years = dated or Counter(year_mentions(text))
    return years.most_common(1)[0][0] if years else None


def _is_date_line(text: str) -> bool:
    """A line that is a date (with time, weekday or source), not a sentence that mentions one."""
    rest = _SOURCE_PART.sub("", text)
    for pattern in (_FULL_DATE, _MONTH_DAY_TIME):
        match = pattern.search(rest)
        if match:
            return bool(_DATE_LINE_REST.match(rest[: match.start()] + " " + rest[match.end():]))
    return False


def _date_in(text: str, year: int | None) -> str | None:
    match = _FULL_DATE.search(text)
    if match:
        return _from_full(match)
    short = _MONTH_DAY_TIME.search(text)
    if short and year:
        return _iso(year, int(short["month"]), int(short["day"]))
    return None


def _from_full(match: re.Match[str]) -> str | None:
    month = match["m1"] or match["m2"]
    day = match["d1"] or match["d2"]
    return _iso(int(match["year"]), int(month), int(day))


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None
