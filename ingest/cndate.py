"""Chinese date expressions as they appear in Luoyang documents: "7月28日", "2 月 6 日",
"2023年7月28日", "2023 年 12 月", ranges "9日至10日", "7月31日至8月2日", "12月1日-3日".

Pure functions returning ISO strings ("2023-07-28"); Chroma filters need numbers, hence iso_to_int.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

_SP = r"[ \t\u3000]*"
_RANGE_SEP = rf"{_SP}(?:至|到|~|～|-|－|—|–){_SP}"
_DAY_MARK = r"[日号]"

# Optional year, required month and day, optional end of a range ("至10日" or "至8月2日").
_MONTH_DAY = re.compile(
    rf"(?:(?P<year>(?:19|20)\d{{2}}){_SP}年{_SP})?"
    rf"(?<!\d)(?P<month>\d{{1,2}}){_SP}月{_SP}(?P<day>\d{{1,2}}){_SP}{_DAY_MARK}"
    rf"(?:{_RANGE_SEP}(?:(?P<end_month>\d{{1,2}}){_SP}月{_SP})?(?P<end_day>\d{{1,2}}){_SP}{_DAY_MARK})?"
)
# A day without its month ("9日至10日"): only meaningful when the caller knows the month.
_BARE_DAY = re.compile(
    rf"(?<![\d月年])(?P<day>\d{{1,2}}){_SP}{_DAY_MARK}"
    rf"(?:{_RANGE_SEP}(?P<end_day>\d{{1,2}}){_SP}{_DAY_MARK})?"
)
# "2023 年 12 月" not followed by a day.
_YEAR_MONTH = re.compile(
    rf"(?<!\d)(?P<year>(?:19|20)\d{{2}}){_SP}年{_SP}(?P<month>\d{{1,2}}){_SP}月(?!{_SP}\d{{1,2}}{_SP}{_DAY_MARK})"
)
_YEAR = re.compile(rf"(?<!\d)(?P<year>(?:19|20)\d{{2}}){_SP}年")


def to_iso(year: int, month: int, day: int) -> str:
    """ISO date string; raises ValueError for a date that does not exist (2月30日)."""
    return date(year, month, day).isoformat()


def iso_to_int(iso: str) -> int:
    """"2023-07-28" -> 20230728 and "2023-07" -> 202307: sortable numbers for range filters."""
    digits = iso.replace("-", "")
    if not digits.isdigit() or len(digits) not in (6, 8):
        raise ValueError(f"不是 ISO 日期或月份：{iso!r}（应为 2023-07-28 或 2023-07）")
    return int(digits)


def month_bounds(year: int, month: int) -> tuple[str, str]:
    """First and last day of a month as ISO strings."""
    last_day = calendar.monthrange(year, month)[1]
    return to_iso(year, month, 1), to_iso(year, month, last_day)


def find_item_date(text: str, year: int, default_month: int | None = None) -> tuple[str, str | None] | None:
    """The first day-level date in text as (start, end or None).

    The year comes from the text when written ("2023年7月28日"), otherwise from `year`. A range's end
    ("至10日", "至8月2日") keeps the start's month unless it names its own; a range that runs past
    December ends in the next year. With default_month, a bare day ("9日至10日") is read in that
    month. A month without a day ("2023 年 12 月", "7月，") is not a day-level date: None.
    """
    match = _first_valid(_MONTH_DAY, text, year)
    if match is not None:
        return match
    if default_month is not None:
        return _first_valid(_BARE_DAY, text, year, default_month)
    return None


def find_year_month(text: str) -> tuple[int, int] | None:
    """The first "2023 年 12 月" (a month without a day) as (year, month), or None."""
    for match in _YEAR_MONTH.finditer(text):
        month = int(match["month"])
        if 1 <= month <= 12:
            return int(match["year"]), month
    return None


def month_day_mentions(text: str) -> list[tuple[int, int]]:
    """Every "M月D日" in text as (month, day), impossible dates left out."""
    mentions = []
    for match in _MONTH_DAY.finditer(text):
        month, day = int(match["month"]), int(match["day"])
        if 1 <= month <= 12 and 1 <= day <= 31:
            mentions.append((month, day))
    return mentions


def year_mentions(text: str) -> list[int]:
    """Every four-digit year written with 年 ("2023年", "2023 年度")."""
    return [int(match["year"]) for match in _YEAR.finditer(text)]


def _first_valid(
    pattern: re.Pattern[str], text: str, year: int, month: int | None = None
) -> tuple[str, str | None] | None:
    for match in pattern.finditer(text):
        span = _span_from_match(match, year, month)
        if span is not None:
            return span
    return None


def _span_from_match(match: re.Match[str], year: int, month: int | None) -> tuple[str, str | None] | None:
    groups = match.groupdict()
    start_year = int(groups["year"]) if groups.get("year") else year
    start_month = int(groups["month"]) if groups.get("month") else month
    if start_month is None:
        return None
    try:
        start = date(start_year, start_month, int(groups["day"]))
    except ValueError:
        return None
    if not groups.get("end_day"):
        return start.isoformat(), None
    end_month = int(groups["end_month"]) if groups.get("end_month") else start_month
    end_year = start_year + 1 if end_month < start_month else start_year
    try:
        end = date(end_year, end_month, int(groups["end_day"]))
    except ValueError:
        return start.isoformat(), None
    if end <= start:
        return start.isoformat(), None
    return start.isoformat(), end.isoformat()
