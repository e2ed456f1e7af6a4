"""Understanding the question: its period, its intent, its parts, and follow-ups made standalone.

Everything here is rule-based and pure (no model, no I/O) except `rewrite_with_llm`, which hands a
follow-up to a chat model when one is configured. Periods are resolved against a `Catalog` of what
the corpus covers, and every guess (a month without a year, "今年", "上个月") is told to the user in
`Query.notes`; a period the corpus does not cover is kept as asked so the answer layer can refuse.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from ingest.textutil import normalize_spaces
from rag.records import Intent, Query

_EMPTY_QUESTION = "问题不能为空：请输入要查询的问题，例如“2023年7月江凌去了哪些地方调研？”"
_MONTH_FORMAT = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_DATE_FORMAT = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


@dataclass(frozen=True)
class Catalog:
    """What the corpus covers: bulletin months ("2023-07"), work-report delivery dates, and the months
    of every other dated document or item (a notice, a news article: "2023-08")."""

    bulletin_months: tuple[str, ...] = ()
    report_periods: tuple[str, ...] = ()
    dated_months: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for month in (*self.bulletin_months, *self.dated_months):
            if not _MONTH_FORMAT.match(month):
                raise ValueError(f"月份格式不对：{month!r}，应写成“2023-07”这样的 YYYY-MM。")
        for period in self.report_periods:
            if not _DATE_FORMAT.match(period):
                raise ValueError(f"工作报告日期格式不对：{period!r}，应写成“2021-02-07”这样的 YYYY-MM-DD。")
        object.__setattr__(self, "bulletin_months", tuple(sorted(set(self.bulletin_months))))
        object.__setattr__(self, "report_periods", tuple(sorted(set(self.report_periods))))
        object.__setattr__(self, "dated_months", tuple(sorted(set(self.dated_months))))

    @property
    def covered_months(self) -> tuple[str, ...]:
        """Months some bulletin or dated document speaks of."""
        return tuple(sorted(set(self.bulletin_months) | set(self.dated_months)))

    @property
    def empty(self) -> bool:
        return not (self.bulletin_months or self.report_periods or self.dated_months)

    @property
    def newest_month(self) -> str | None:
        """The newest covered month; the month of the newest report when no document is dated by month."""
        if self.covered_months:
            return self.covered_months[-1]
        if self.report_periods:
            return self.report_periods[-1][:7]
        return None

    @property
    def newest_year(self) -> int | None:
        """The year of the newest document of any kind."""
        years = [int(m[:4]) for m in self.covered_months] + [int(p[:4]) for p in self.report_periods]
        return max(years) if years else None

    def bulletin_years(self) -> set[int]:
        return {int(month[:4]) for month in self.bulletin_months}

    def covered_years(self) -> set[int]:
        return {int(month[:4]) for month in self.covered_months}

    def all_years(self) -> set[int]:
        return self.covered_years() | {int(p[:4]) for p in self.report_periods}

    @property
    def month_source(self) -> str:
        """How notes name what the months come from."""
        return "月报" if self.bulletin_months else "文件"


# ---------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------

_FULL_WIDTH = str.maketrans("０１２３４５６７８９\u3000", "0123456789 ")


def _normalize(text: str) -> str:
    """Full-width digits to ASCII and no spaces inside dates ("２０２３ 年 7 月" -> "2023年7月")."""
    return normalize_spaces(text.translate(_FULL_WIDTH)).strip()


_CHINESE_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _number(text: str) -> int:
    """Arabic digits, digit-by-digit years (二〇二三) and small Chinese numerals (十二, 二十八)."""
    if text.isdigit() and text.isascii():
        return int(text)
    if "十" not in text:
        return int("".join(str(_CHINESE_DIGITS[ch]) for ch in text))
    tens, _, ones = text.partition("十")
    return (_CHINESE_DIGITS[tens] if tens else 1) * 10 + (_CHINESE_DIGITS[ones] if ones else 0)


# ---------------------------------------------------------------------------------------------
# Finding period expressions
# ---------------------------------------------------------------------------------------------

_CN_MONTH = r"十[一二]?|[一二三四五六七八九]"
_CN_DAY = r"[二三]?十[一二三四五六七八九]?|[一二三四五六七八九]"
_RANGE_DASH = r"[-—–－~～至到]"
_PERIOD = re.compile(
    rf"""
    (?P<relmonth>上个月|上月|本月|这个月|这月|当月|最近|近期|最新)
    |(?<![\d一二三四五六七八九十〇零两.年])
    (?:(?P<year>\d{{4}}|[〇零一二三四五六七八九]{{4}}|[今去前本明])年度?)?
    (?:
        (?P<m1>\d{{1,2}}|{_CN_MONTH})(?:{_RANGE_DASH}(?P<m2>\d{{1,2}}|{_CN_MONTH}))?月份?
            (?:(?P<day>\d{{1,2}}|{_CN_DAY})(?:[日号]?{_RANGE_DASH}(?P<day2>\d{{1,2}}|{_CN_DAY}))?[日号]
               |(?P<part>上旬|中旬|下旬|初|底|末))?
        |第?(?P<quarter>[一二三四1-4])季度
        |(?P<half>上半年|下半年)
    )?
    """,
    re.VERBOSE,
)
_AS_OF = re.compile(r"(?:截至|截止|截止到)\s*$")
_RANGE_CONNECTOR = re.compile(r"^(?:到|至|~|～|-|—|–|－|——)$")
_JOIN_CONNECTOR = re.compile(r"^(?:和|与|及|以及|、|跟|同|,|，|或|或者|还有|对比|比较)$")

_RELATIVE_YEAR_OFFSET = {"今": 0, "本": 0, "去": -1, "前": -2, "明": 1}
_PART_DAYS = {"上旬": (1, 10), "初": (1, 10), "中旬": (11, 20), "下旬": (21, 31), "底": (21, 31), "末": (21, 31)}
_QUARTER_NAMES = {1: "一", 2: "二", 3: "三", 4: "四"}


@dataclass(frozen=True)
class _Period:
    """One resolved period. `within_month`: a month or part of it, kept as asked even if uncovered.
    `filtered`: False for statistical periods ("1-11月") that must not become a date filter.
    `reported_later`: a year, half-year or quarter, or a date a figure stands "as of" ("截至7月24日"):
    a bulletin dates its items by their events, but a news article or notice reports such a period
    after it ends, so for those documents the filter stays open after it."""

    start: date
    end: date
    label: str
    within_month: bool
    filtered: bool = True
    reported_later: bool = False


@dataclass(frozen=True)
class _Mention:
    """A period expression found in the text, with its character span."""

    start: int
    end: int
    period: _Period


@dataclass
class _Context:
    catalog: Catalog
    default_year: int | None = None
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def _explicit_year(match: re.Match) -> int | None:
    year = match.group("year")
    if year and year not in _RELATIVE_YEAR_OFFSET:
        return _number(year)
    return None


def _resolve_year(match: re.Match, month: int | None, context: _Context) -> int | None:
    """The year a mention means: written, relative (今年), from the question, or from the catalog."""
    written = match.group("year")
    catalog = context.catalog
    if written and written not in _RELATIVE_YEAR_OFFSET:
        return _number(written)
    newest = catalog.newest_month
    if written:
        word = f"{written}年"
        if newest is None:
            context.note(f"语料中还没有文件，无法确定“{word}”指哪一年，未按时间筛选。")
            return None
        base = int(newest[:4])
        year = base + _RELATIVE_YEAR_OFFSET[written]
        source = catalog.month_source
        if year == base:
            context.note(f"“{word}”按语料中最新的{source}理解为{year}年。")
        else:
            context.note(f"“{word}”按语料中最新的{source}（{base}年）理解为{year}年。")
        return year
    if context.default_year is not None:
        return context.default_year
    surface = match.group(0)
    if month is not None:
        years_with_month = [int(m[:4]) for m in catalog.covered_months if int(m[5:]) == month]
        if years_with_month:
            year = max(years_with_month)
            context.note(f"“{surface}”未注明年份，按语料中的{catalog.month_source}理解为{year}年{month}月。")
            return year
    if catalog.newest_year is None:
        context.note(f"语料中还没有文件，无法确定“{surface}”指哪一年，未按时间筛选。")
        return None
    year = catalog.newest_year
    context.note(f"“{surface}”未注明年份，按语料中最新的文件理解为{year}年。")
    return year


def _relative_month(word: str, context: _Context) -> _Period | None:
    newest = context.catalog.newest_month
    if newest is None:
        context.note(f"语料中还没有文件，无法确定“{word}”指哪个月，未按时间筛选。")
        return None
    year, month = int(newest[:4]), int(newest[5:])
    if word in ("上个月", "上月"):
        year, month = _shift_month(year, month, -1)
        context.note(f"“{word}”按语料中最新的{context.catalog.month_source}（{newest[:4]}年{int(newest[5:])}月）理解为{year}年{month}月。")
    else:
        context.note(f"“{word}”按语料中最新的{context.catalog.month_source}理解为{year}年{month}月。")
    return _Period(date(year, month, 1), _month_end(year, month), f"{year}年{month}月", within_month=True)


def _period_of(match: re.Match, context: _Context) -> _Period | None:
    if match.group("relmonth"):
        return _relative_month(match.group("relmonth"), context)
    if match.group("m1"):
        return _month_period(match, context)
    if match.group("quarter"):
        year = _resolve_year(match, None, context)
        if year is None:
            return None
        quarter = _number(match.group("quarter"))
        first = quarter * 3 - 2
        label = f"{year}年第{_QUARTER_NAMES[quarter]}季度"
        return _Period(date(year, first, 1), _month_end(year, first + 2), label, within_month=False, reported_later=True)
    if match.group("half"):
        year = _resolve_year(match, None, context)
        if year is None:
            return None
        first = 1 if match.group("half") == "上半年" else 7
        label = f"{year}年{match.group('half')}"
        return _Period(date(year, first, 1), _month_end(year, first + 5), label, within_month=False, reported_later=True)
    year = _resolve_year(match, None, context)
    if year is None:
        return None
    return _Period(date(year, 1, 1), date(year, 12, 31), f"{year}年", within_month=False, reported_later=True)


def _month_period(match: re.Match, context: _Context) -> _Period | None:
    month = _number(match.group("m1"))
    last_month = _number(match.group("m2")) if match.group("m2") else None
    if not 1 <= month <= 12 or (last_month is not None and not month < last_month <= 12):
        return None
    year = _resolve_year(match, month, context)
    if year is None:
        return None
    if last_month is not None:
        start, end = date(year, month, 1), _month_end(year, last_month)
        if month == 1:
            # "1-11月" is a cumulative statistic, published in a later bulletin than its own months.
            context.note(f"“{match.group(0)}”是累计统计期，不按日期筛选。")
            return _Period(start, end, f"{year}年1-{last_month}月", within_month=False, filtered=False)
        return _Period(start, end, f"{year}年{month}月至{last_month}月", within_month=False)
    month_label = f"{year}年{month}月"
    if match.group("day"):
        days_in_month = calendar.monthrange(year, month)[1]
        day = _number(match.group("day"))
        last_day = _number(match.group("day2")) if match.group("day2") else day
        if 1 <= day <= last_day <= days_in_month:
            label = f"{month_label}{day}日" + (f"至{last_day}日" if last_day != day else "")
            return _Period(date(year, month, day), date(year, month, last_day), label, within_month=True)
        context.note(f"“{match.group(0)}”不是有效日期，按{month_label}整月查找。")
    if match.group("part"):
        part = match.group("part")
        first, last = _PART_DAYS[part]
        end = _month_end(year, month) if last == 31 else date(year, month, last)
        return _Period(date(year, month, first), end, f"{month_label}{part}", within_month=True)
    return _Period(date(year, month, 1), _month_end(year, month), month_label, within_month=True)


def _find_mentions(text: str, context: _Context) -> list[_Mention]:
    """Period expressions in reading order, with months lacking a year taking the question's year."""
    matches = [match for match in _PERIOD.finditer(text) if match.group(0)]  # every part is optional
    if context.default_year is None:
        written_years = {year for match in matches if (year := _explicit_year(match)) is not None}
        if len(written_years) == 1:
            # "2023年2月和7月": the 7月 is 2023's too. The notes list stays shared with the caller.
            context = _Context(context.catalog, written_years.pop(), context.notes)
    mentions = []
    for match in matches:
        period = _period_of(match, context)
        if period is not None:
            if _AS_OF.search(text[max(0, match.start() - 3) : match.start()]):
                period = replace(period, reported_later=True)
            mentions.append(_Mention(match.start(), match.end(), period))
    return mentions


@dataclass(frozen=True)
class _PeriodGroup:
    """Adjacent mentions joined by 和/、/到…: the span to replace and the distinct periods inside."""

    start: int
    end: int
    periods: tuple[_Period, ...]


def _group_mentions(text: str, mentions: list[_Mention]) -> list[_PeriodGroup]:
    """Merge "A到B" into one range, and collect "A和B" into one group of two periods."""
    groups: list[_PeriodGroup] = []
    for mention in mentions:
        if groups:
            between = text[groups[-1].end : mention.start].strip()
            last = groups[-1]
            if _RANGE_CONNECTOR.match(between):
                merged = _range_of(last.periods[-1], mention.period)
                groups[-1] = _PeriodGroup(last.start, mention.end, last.periods[:-1] + (merged,))
                continue
            if _JOIN_CONNECTOR.match(between):
                groups[-1] = _PeriodGroup(last.start, mention.end, last.periods + (mention.period,))
                continue
        start = mention.start - 1 if text[max(mention.start - 1, 0) : mention.start] == "从" else mention.start
        groups.append(_PeriodGroup(start, mention.end, (mention.period,)))
    return groups


def _without_groups(text: str, groups: list[_PeriodGroup]) -> str:
    """The text with every period expression cut out: what the question asks besides its period."""
    for group in sorted(groups, key=lambda g: g.start, reverse=True):
        text = text[: group.start] + text[group.end :]
    return text


def _label_of(periods: Sequence[_Period]) -> str:
    return "和".join(period.label for period in periods)


def _range_of(first: _Period, second: _Period) -> _Period:
    first, second = sorted((first, second), key=lambda p: p.start)
    whole_months = _whole_month(first) and _whole_month(second)
    if whole_months and first.start.year == second.start.year:
        label = f"{first.start.year}年{first.start.month}月至{second.start.month}月"
    else:
        label = f"{first.label}至{second.label}"
    same_month = (first.start.year, first.start.month) == (second.end.year, second.end.month)
    return _Period(first.start, second.end, label, within_month=same_month, filtered=first.filtered and second.filtered)


def _whole_month(period: _Period) -> bool:
    return period.start.day == 1 and period.end == _month_end(period.start.year, period.start.month)


def _months_between(start: date, end: date) -> tuple[str, ...]:
    months = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = _shift_month(year, month, 1)
    return tuple(months)


@dataclass(frozen=True)
class _Filter:
    date_from: str | None
    date_to: str | None
    months: tuple[str, ...]


def _filter_of(period: _Period, context: _Context) -> _Filter:
    """Dates and months for a period; spans keep only catalog months, years without bulletins stay open."""
    if not period.filtered:
        return _Filter(None, None, ())
    date_from, date_to = period.start.isoformat(), period.end.isoformat()
    if period.reported_later and context.catalog.dated_months:
        date_to = None
    asked = _months_between(period.start, period.end)
    if period.within_month:
        return _Filter(date_from, date_to, asked)
    covered = tuple(month for month in context.catalog.covered_months if month in asked)
    if covered:
        return _Filter(date_from, date_to, covered)
    years = set(range(period.start.year, period.end.year + 1))
    if not years & context.catalog.covered_years():
        # Work-report items carry no dates: a date filter would hide the only documents that
        # talk about such a year, so the year stays in the label and the text instead.
        where = "；{}的情况主要见政府工作报告".format(period.label) if context.catalog.report_periods else ""
        context.note(f"语料中没有{_years_label(years)}的{context.catalog.month_source}，不按日期筛选{where}。")
        return _Filter(None, None, ())
    return _Filter(date_from, date_to, asked)


def _years_label(years: set[int]) -> str:
    ordered = sorted(years)
    return f"{ordered[0]}年" if len(ordered) == 1 else f"{ordered[0]}年至{ordered[-1]}年"


# ---------------------------------------------------------------------------------------------
# Intent
# ---------------------------------------------------------------------------------------------

_SUMMARY_WORDS = (
    "总结", "概况", "概要", "综述", "汇总", "回顾", "盘点", "梳理", "大事", "要闻", "重要工作", "重点工作",
    "主要工作", "工作情况", "发生了什么", "有什么新闻", "有哪些新闻", "讲了什么", "说了什么", "主要内容",
    "讲了哪些", "说了哪些", "工作动态", "动态", "都做了什么", "做了哪些工作", "做了什么", "抓了哪些工作",
    "概括", "按领域",
)
# Words that say nothing about a topic: once they and the period are gone, nothing should remain.
_SUMMARY_FILLER = re.compile(
    r"请|帮我|给我|一下|洛阳市|洛阳|全市|市里|市政府|政府|政务信息|政务|信息|月报|的|有哪些|有什么|都|了|"
    r"里|期间|发生|重要|重点|工作|内容|主要|情况|哪些|什么|是|有|呢|吗|一共|总体|整体|简要|简单|"
    r"份|概括|介绍|做|讲|说|在|中|市委|抓|按领域|分领域|按栏目|领域|栏目|分别"
)
_LIST_WORDS = ("哪些", "哪几", "列出", "列举", "罗列", "名单", "清单", "有什么", "都有", "一览")
_PUNCTUATION = re.compile(r"[\s，。！？、；：,.!?;:“”\"'‘’（）()《》…]+")


def _intent_of(text: str, groups: list[_PeriodGroup]) -> Intent:
    """month_summary: a question about one whole month as such; list: asks for several things."""
    if _is_month_summary(text, groups):
        return "month_summary"
    return _list_or_answer(text)


def _list_or_answer(text: str) -> Intent:
    return "list" if any(word in text for word in _LIST_WORDS) else "answer"


def _is_month_summary(text: str, groups: list[_PeriodGroup]) -> bool:
    periods = [period for group in groups for period in group.periods]
    if len(periods) != 1 or not (periods[0].within_month and _whole_month(periods[0])):
        return False
    if not any(word in text for word in _SUMMARY_WORDS):
        return False
    rest = _without_groups(text, groups)
    for word in _SUMMARY_WORDS:
        rest = rest.replace(word, "")
    rest = _PUNCTUATION.sub("", _SUMMARY_FILLER.sub("", rest))
    return len(rest) <= 1


# ---------------------------------------------------------------------------------------------
# Multi-part questions
# ---------------------------------------------------------------------------------------------

_DOCUMENT = re.compile(
    r"(?:洛阳市?|市|[\u4e00-\u9fff]{2}[区县])(?:人民)?(?:政府)?(?:工作)?报告|(?:洛阳市?)?政务信息月报"
)
_COMPARE_LEAD = re.compile(r"^(?:请)?(?:对比|比较|相比)(?:一下)?")
_COMPARE_TAIL = re.compile(r"(?:有什么|有何|有哪些)?(?:不同|区别|差异|异同|变化)(?:吗|呢)?(?=[？?。！!]*$)")


def _part_text(text: str, start: int, end: int, replacement: str) -> str:
    """The question with one period or document in place of the group, comparison words removed."""
    part = text[:start] + replacement + text[end:]
    part = part.replace("分别", "").replace("各自", "")
    part = _COMPARE_LEAD.sub("", part)
    part = _COMPARE_TAIL.sub("", part)
    part = re.sub(r"[的和与]+(?=[？?。！!]*$)", "", part)
    return part.strip() or text


def _document_parts(text: str) -> list[str]:
    """"市政府工作报告和涧西区报告分别…" -> one text per document; [] when fewer than two."""
    mentions = list(_DOCUMENT.finditer(text))
    if len(mentions) < 2:
        return []
    joined = all(_JOIN_CONNECTOR.match(text[a.end() : b.start()].strip()) for a, b in zip(mentions, mentions[1:]))
    if not joined:
        return []
    start, end = mentions[0].start(), mentions[-1].end()
    return [_part_text(text, start, end, m.group(0)) for m in mentions]


# ---------------------------------------------------------------------------------------------
# Parsing a standalone question
# ---------------------------------------------------------------------------------------------


def _parse_standalone(
    text: str, original: str, catalog: Catalog, notes: Sequence[str] = (), split: bool = True
) -> Query:
    context = _Context(catalog, notes=list(notes))
    groups = _group_mentions(text, _find_mentions(text, context))
    periods = _distinct(period for group in groups for period in group.periods)
    filters = [_filter_of(period, context) for period in periods]

    sub_texts: list[str] = []
    if split and len(periods) >= 2:
        if len(groups) == 1:
            sub_texts = [_part_text(text, groups[0].start, groups[0].end, period.label) for period in periods]
        else:
            sub_texts = [_part_text(text, 0, 0, "") for _ in periods]
    elif split:
        sub_texts = _document_parts(text)

    sub_questions: tuple[Query, ...] = ()
    if sub_texts:
        if len(periods) >= 2 and len(groups) != 1:
            # The periods sit in different places ("7月…与2022年相比"): same words, one filter each.
            sub_questions = tuple(_query_for_period(sub, period, catalog) for sub, period in zip(sub_texts, periods))
        else:
            sub_questions = tuple(_parse_standalone(sub, sub, catalog, split=False) for sub in sub_texts)

    date_from, date_to, months = _combined(filters)
    return Query(
        text=text,
        original=original,
        intent=_intent_of(text, groups),
        date_from=date_from,
        date_to=date_to,
        months=months,
        period_label=_label_of(periods),
        sub_questions=sub_questions,
        notes=tuple(context.notes),
        asked_months=_asked_months(periods),
    )


def _query_for_period(text: str, period: _Period, catalog: Catalog) -> Query:
    context = _Context(catalog)
    period_filter = _filter_of(period, context)
    return Query(
        text=text,
        original=text,
        intent=_list_or_answer(text),
        date_from=period_filter.date_from,
        date_to=period_filter.date_to,
        months=period_filter.months,
        period_label=period.label,
        notes=tuple(context.notes),
        asked_months=_asked_months([period]),
    )


def _asked_months(periods: Sequence[_Period]) -> tuple[str, ...]:
    """The months named as months or days ("2022年2月", "7月5日"), which must be covered to answer."""
    return tuple(dict.fromkeys(m for p in periods if p.within_month and p.filtered for m in _months_between(p.start, p.end)))


def _distinct(periods) -> list[_Period]:
    seen: list[_Period] = []
    for period in periods:
        if period not in seen:
            seen.append(period)
    return seen


def _combined(filters: list[_Filter]) -> tuple[str | None, str | None, tuple[str, ...]]:
    """One filter spanning every part; open when any part is open (that part needs the reports)."""
    if not filters:
        return None, None, ()
    months = tuple(sorted({month for f in filters for month in f.months}))
    if any(f.date_from is None for f in filters):
        return None, None, months
    ends = [f.date_to for f in filters]
    return min(f.date_from for f in filters), None if None in ends else max(ends), months


# ---------------------------------------------------------------------------------------------
# Follow-ups
# ---------------------------------------------------------------------------------------------

_FOLLOW_UP_START = re.compile(r"^(?:那么|那|还|另外|此外|他|她|它|这|该|同样|再)")
_FOLLOW_UP_FILLER = re.compile(r"那么|那|呢|的|又|情况|如何|怎么样|怎样|是|吗|还|另外|再|看看|说说|一下|请|[，。！？、,.!?\s]")
_SAME_MONTH_WORDS = re.compile(r"这个月|这月|当月|该月|同月")
_PRONOUN = re.compile(r"(?<!其)[他她](?!们)")

_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵钱严覃武戴"
    "莫孔汤祁牛庞樊殷施乔欧齐葛柴岳申翟靳"
)
# Last characters of places and organisations, which stand before the same verbs as names do.
_NOT_NAME_ENDINGS = frozenset("区县市省局厅委会部办司院校厂所站村镇乡园港馆队团组社室处业企")
_NOT_NAMES = frozenset({"全市", "全区", "全省", "全国", "全年", "高新", "高校", "龙门", "石化", "金融", "江苏", "江西", "黄河"})
_NAME_VERB = re.compile(
    r"(?:同志)?(?:\d{1,2}月(?:\d{1,2}[日号])?)?(?:还|也|又|先后|一行|率队|率团|带队|亲自)?"
    r"(?:会见|会谈|调研|考察|视察|到|去|赴|前往|主持|出席|参加|走访|督导|检查|慰问|看望|接见|讲话|指出|强调|与|呢)"
)


def _looks_like_name(candidate: str) -> bool:
    return (
        len(candidate) in (2, 3)
        and all("\u4e00" <= ch <= "\u9fff" for ch in candidate)
        and candidate[0] in _SURNAMES
        and candidate[-1] not in _NOT_NAME_ENDINGS
        and candidate not in _NOT_NAMES
    )


def _people(text: str) -> list[tuple[int, str]]:
    """Leader names (2-3 characters, a known surname) standing right before 会见/调研/到/主持…"""
    found = []
    for verb in _NAME_VERB.finditer(text):
        end = verb.start()
        for length in (3, 2):
            candidate = text[max(end - length, 0) : end]
            if len(candidate) == length and _looks_like_name(candidate):
                found.append((end - length, candidate))
                break
    return found


def _last_person(*texts: str) -> str | None:
    for text in texts:
        people = _people(text)
        if people:
            return people[-1][1]
    return None


def _is_follow_up(question: str) -> bool:
    core = _PUNCTUATION.sub("", question)
    return bool(_FOLLOW_UP_START.match(core)) or len(core) <= 6 or core.endswith("呢")


def _rewrite_follow_up(question: str, previous: str, previous_answer: str, catalog: Catalog) -> str:
    """Rule-based standalone text for a follow-up, given the previous standalone question."""
    if not _is_follow_up(question):
        return question
    previous_groups = _group_mentions(previous, _find_mentions(previous, _Context(catalog)))
    previous_year = previous_groups[0].periods[0].start.year if previous_groups else None
    previous_label = _label_of([period for group in previous_groups for period in group.periods])

    if previous_label:
        question = _SAME_MONTH_WORDS.sub(previous_label, question)
    person = _last_person(previous, previous_answer)
    if person:
        question = _PRONOUN.sub(person, question)
    mentions = _find_mentions(question, _Context(catalog, default_year=previous_year))
    groups = _group_mentions(question, mentions)

    rest = _FOLLOW_UP_FILLER.sub("", _without_groups(question, groups))
    new_person = rest if rest and _looks_like_name(rest) else None

    if not rest or new_person:
        # "那12月呢？" / "那徐衣显呢？": the previous question, asked about the new period or person.
        text = previous
        if groups:
            label = _label_of([period for group in groups for period in group.periods])
            if previous_groups:
                text = previous[: previous_groups[0].start] + label + previous[previous_groups[-1].end :]
            else:
                text = label + previous
        if new_person and person and new_person != person:
            text = text.replace(person, new_person)
        return text

    text = re.sub(r"^(?:那么|那)(?!些|个|里|时)[，,]?", "", question)
    if not groups and previous_label:
        text = previous_label + text
    return text


def _standalone(question: str, history: Sequence[tuple[str, str]], catalog: Catalog) -> str:
    """Fold the history oldest first so a chain of follow-ups resolves against the whole talk."""
    previous: str | None = None
    previous_answer = ""
    for user_question, assistant_answer in history:
        normalized = _normalize(user_question)
        if normalized and previous is None:
            previous = normalized
        elif normalized:
            previous = _rewrite_follow_up(normalized, previous, previous_answer, catalog)
        previous_answer = assistant_answer or ""
    if previous is None:
        return question
    return _rewrite_follow_up(question, previous, previous_answer, catalog)


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


# "23年2月", "22年政府工作报告": a two-digit year, not a duration ("近20年", "20年来") or an ordinal.
_TWO_DIGIT_YEAR = re.compile(r"(?<![\d第近过去这那前后多几每上下满逾超头达约共])(\d{2})年(?![代来间内前后左右多以])")
_NEAR_CORPUS_YEARS = 5


def _four_digit_years(text: str, catalog: Catalog) -> tuple[str, list[str]]:
    """Write two-digit years in full when a month follows or the year is near the corpus's years."""
    years = catalog.all_years()
    notes: list[str] = []

    def expand(match: re.Match) -> str:
        year = 2000 + int(match.group(1))
        month_follows = re.match(r"\s*\d{1,2}\s*月", text[match.end() :]) is not None
        near = any(abs(year - y) <= _NEAR_CORPUS_YEARS for y in years)
        if not (month_follows or near):
            return match.group(0)
        note = f"“{match.group(0)}”理解为{year}年。"
        if note not in notes:
            notes.append(note)
        return f"{year}年"

    return _TWO_DIGIT_YEAR.sub(expand, text), notes


def parse_query(question: str, catalog: Catalog, history: Sequence[tuple[str, str]] = ()) -> Query:
    """Turn a user's question (and the talk so far) into a standalone Query with its period and intent.

    history: (user_question, assistant_answer) pairs, oldest first. Follow-ups ("那12月呢？",
    "他还去了哪里？") are rewritten by rules into `text`; `original` keeps the user's words.
    """
    if question is None or not question.strip():
        raise ValueError(_EMPTY_QUESTION)
    normalized, year_notes = _four_digit_years(_normalize(question), catalog)
    text = _standalone(normalized, history, catalog)
    notes = tuple(year_notes) + ((f"结合上文，问题理解为：“{text}”。",) if text != normalized else ())
    return _parse_standalone(text, question.strip(), catalog, notes)


_REWRITE_SYSTEM = (
    "你是政务问答系统的问题改写助手。根据对话历史，把用户的追问改写成一个不依赖上文、可以单独检索的完整问题："
    "补全省略的人名、时间（年份和月份）和主题，把“他”“她”“那”“这”等指代换成具体内容。"
    "只输出改写后的问题本身，不要回答问题，不要解释，不要加引号。如果追问本身已经完整，原样输出。"
)
_REWRITE_HUMAN = "对话历史：\n{history}\n\n追问：{question}\n\n改写后的问题："
_HISTORY_TURNS = 3
_ANSWER_CHARS = 200


def rewrite_with_llm(question: str, history: Sequence[tuple[str, str]], chat_model) -> str:
    """Ask a chat model to make a follow-up standalone; the question itself when there is no history.

    chat_model: any langchain chat model (or Runnable taking messages). Falls back to the question
    when the model returns nothing usable.
    """
    if question is None or not question.strip():
        raise ValueError(_EMPTY_QUESTION)
    question = question.strip()
    if not history:
        return question
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    prompt = ChatPromptTemplate.from_messages([("system", _REWRITE_SYSTEM), ("human", _REWRITE_HUMAN)])
    chain = prompt | chat_model | StrOutputParser()
    rewritten = chain.invoke({"history": _format_history(history), "question": question})
    return _clean_rewrite(rewritten) or question


def _format_history(history: Sequence[tuple[str, str]]) -> str:
    lines = []
    for user_question, assistant_answer in list(history)[-_HISTORY_TURNS:]:
        answer = (assistant_answer or "").strip().replace("\n", " ")
        if len(answer) > _ANSWER_CHARS:
            answer = answer[:_ANSWER_CHARS] + "…"
        lines.append(f"用户：{user_question.strip()}")
        lines.append(f"助手：{answer}")
    return "\n".join(lines)


def _clean_rewrite(output: str) -> str:
    """First non-empty line, without a "改写后的问题：" prefix or wrapping quotes."""
    for line in output.splitlines():
        line = re.sub(r"^(?:改写后的问题|独立问题|问题)[：:]\s*", "", line.strip())
        line = line.strip("“”\"'「」 ")
        if line:
            return line
    return ""


__all__ = ["Catalog", "parse_query", "rewrite_with_llm"]
