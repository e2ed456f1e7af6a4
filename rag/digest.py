"""Month summaries built from every item of the month, not from a top-k list.

The digest opens with a short overview (the month's most important items, one lede sentence each,
from different sections), then groups the month's items by section: how many items, who the
leaders' activities involved, how many meetings, and the key items, one line each (title, date,
citation). Every line cites its item. It needs no LLM and is ready in well under a second; with an
LLM, the model's overview follows it, and `overview_first` shows it in the extractive one's place.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.records import Item
from ingest.textutil import split_sentences

_FIGURE = re.compile(r"\d[\d,.]*\s*(?:万|亿)?\s*(?:元|人次|人|家|个|项|件|亩|吨|公里|千米|平方米|%|％|座|所|条|户|台|套|次|名|场)")
_LEADER = re.compile(
    r"^([\u4e00-\u9fff]{2,3}?)(?:会见|到|调研|与|主持|出席|参加|率|同|在|带队|督导|检查|看望|慰问|走访|接待|深入|召开|暗访|宣讲|讲授|察看|赴|分别|一行|和|、)"
)
_NOT_A_PERSON = re.compile(r"[市县区省委府局厅部院会组团队党镇乡村州国]")
_MEETING = re.compile(r"会议|大会|座谈会|推进会|研讨会|论坛|常务会|全体会|召开|举行|开幕|闭幕")
_MAJOR_MEETING = re.compile(r"全会|全体会议|常务会议|常委会|代表大会|工作会议|经济工作|总结表彰|述职评议|人大|政协")
_MAX_KEY_ITEMS = 8
# The overview: this many items, each from a different section, so it spans the month.
_OVERVIEW_ITEMS = 5
# A lede longer than this reads as a paragraph: the overview shows the item's title instead.
_OVERVIEW_SENTENCE_CHARS = 90
OVERVIEW_HEADING = "### 本月要点"
# What rag.service puts before an LLM's overview, which it streams after the digest.
LLM_OVERVIEW_HEADING = "### 概述"


@dataclass(frozen=True)
class DigestBullet:
    item: Item
    detail: str  # a sentence of the item, verbatim, carrying its key figure (or its lead sentence)


@dataclass(frozen=True)
class SectionDigest:
    section: str
    count: int
    bullets: tuple[DigestBullet, ...]
    leaders: tuple[tuple[str, int], ...] = ()
    meetings: int = 0


@dataclass(frozen=True)
class MonthDigest:
    month: str
    documents: tuple[str, ...]
    total: int
    sections: tuple[SectionDigest, ...]

    def cited_items(self) -> list[DigestBullet]:
        return [bullet for section in self.sections for bullet in section.bullets]


def leader_of(title: str) -> str | None:
    """The person at the start of a leader-activity title ("江凌到伊川县调研" -> "江凌"), if any."""
    match = _LEADER.match(title)
    if not match or _NOT_A_PERSON.search(match.group(1)):
        return None
    return match.group(1)


def key_sentence(item: Item) -> str:
    """The item's first sentence that carries a figure, else its lead sentence (never a flagged one)."""
    sentences = [s for s in split_sentences(item.text) if s not in item.flagged]
    for sentence in sentences:
        if _FIGURE.search(sentence):
            return sentence
    if sentences:
        return sentences[0]
    return "（该条含疑似指令的文字，不予摘录）" if item.flagged else item.text


def _importance(item: Item) -> tuple[int, int]:
    """Major meetings first, then any meeting or leader's activity, then items carrying figures."""
    score = 3 if _MAJOR_MEETING.search(item.title) else 1 if _MEETING.search(item.title) else 0
    score += 1 if leader_of(item.title) else 0
    score += min(len(_FIGURE.findall(item.text)), 2)
    return score, len(item.text)


def _section_digest(section: str, items: Sequence[Item]) -> SectionDigest:
    leaders = Counter(name for name in (leader_of(item.title) for item in items) if name)
    meetings = sum(1 for item in items if _MEETING.search(item.title))
    if len(items) <= _MAX_KEY_ITEMS:
        chosen = list(items)
    else:
        ranked = sorted(items, key=_importance, reverse=True)[:_MAX_KEY_ITEMS]
        chosen = sorted(ranked, key=lambda item: item.position)
    bullets = tuple(DigestBullet(item, key_sentence(item)) for item in chosen)
    return SectionDigest(section, len(items), bullets, tuple(leaders.most_common()), meetings)


def build_digest(month: str, items: Sequence[Item]) -> MonthDigest:
    """Digest of all the items of one month, sections in document order."""
    if not items:
        raise ValueError(f"语料中没有{month}的条目 (no items for {month})")
    by_section: dict[str, list[Item]] = {}
    for item in sorted(items, key=lambda i: (i.file, i.position)):
        by_section.setdefault(_top_level(item.section), []).append(item)
    sections = tuple(_section_digest(section, group) for section, group in by_section.items())
    documents = tuple(dict.fromkeys(item.file for item in items))
    return MonthDigest(month, documents, len(items), sections)


def _top_level(section: str) -> str:
    """Group at the first two levels ("时政/领导活动"), which is how the bulletins organise news."""
    parts = [p for p in section.split("/") if p]
    return "/".join(parts[:2]) if parts else "其他"


def month_label(month: str) -> str:
    year, mon = month.split("-")
    return f"{year}年{int(mon)}月"


def render_digest(digest: MonthDigest) -> tuple[str, list[tuple[int, DigestBullet]]]:
    """Markdown digest: overview, then one heading per section and one line per key item, [n] each.

    Counts are computed from the index, not claimed by a source, so they live in the headings;
    every item line is the item's own title and date, which its source states.
    """
    numbered: list[tuple[int, DigestBullet]] = []
    number_of: dict[str, int] = {}
    sections: list[str] = []
    for section in digest.sections:
        sections.append(f"### {section.section}（{_section_stats(section)}）")
        for bullet in section.bullets:
            n = len(numbered) + 1
            numbered.append((n, bullet))
            number_of[bullet.item.item_id] = n
            sections.append(f"- {bullet.item.title}{_when(bullet.item)}[{n}]")
        sections.append("")
    lines = [f"## {month_label(digest.month)}洛阳政务信息摘要（本月共收录 {digest.total} 条，{len(digest.sections)} 个栏目）", ""]
    lines += [OVERVIEW_HEADING] + [f"- {_overview_line(item)}[{number_of[item.item_id]}]" for item in overview_items(digest)] + [""]
    return "\n".join(lines + sections).rstrip() + "\n", numbered


def overview_items(digest: MonthDigest) -> list[Item]:
    """The month's most important key items, at most one per section, in document order."""
    best = [max(section.bullets, key=lambda b: _importance(b.item)).item for section in digest.sections if section.bullets]
    # Ties go to the earlier section: bulletins lead with what their editors rank first.
    ranked = sorted(enumerate(best), key=lambda pair: (_importance(pair[1])[0], -pair[0]), reverse=True)
    chosen = [item for _, item in ranked[:_OVERVIEW_ITEMS]]
    return sorted(chosen, key=lambda item: (item.file, item.position))


def _overview_line(item: Item) -> str:
    """The item's lede sentence when it is short enough to scan, else its title and date."""
    sentences = split_sentences(item.text)
    lede = sentences[0].strip() if sentences else ""
    if lede and len(lede) <= _OVERVIEW_SENTENCE_CHARS:
        return lede
    return f"{item.title}{_when(item)}"


def overview_first(summary_text: str) -> str:
    """A summary as it should read: an LLM's overview, streamed after the digest under
    LLM_OVERVIEW_HEADING, moved into the place of the extractive overview (which it replaces).

    Text without an LLM overview comes back unchanged.
    """
    head, found, llm = summary_text.partition(f"\n{LLM_OVERVIEW_HEADING}\n")
    if not found or OVERVIEW_HEADING not in head:
        return summary_text
    llm = llm.strip()
    before, _, rest = head.partition(OVERVIEW_HEADING)
    sections = rest[rest.find("\n### "):] if "\n### " in rest else "\n"
    return f"{before}{OVERVIEW_HEADING}\n{llm}\n{sections.rstrip()}\n" if llm else head.rstrip() + "\n"


def _section_stats(section: SectionDigest) -> str:
    stats = [f"{section.count} 条"]
    if section.leaders:
        stats.append("、".join(f"{name} {count} 项" for name, count in section.leaders[:6]))
    if section.meetings:
        stats.append(f"会议 {section.meetings} 项")
    if section.count > len(section.bullets):
        stats.append(f"列出 {len(section.bullets)} 条要点")
    return " · ".join(stats)


def _when(item: Item) -> str:
    """"（7月5日）" after a title, or nothing for an undated item."""
    short = _short_date(item)
    return f"（{short}）" if short else ""


def _short_date(item: Item) -> str:
    if not item.date:
        return ""
    month, day = int(item.date[5:7]), int(item.date[8:10])
    text = f"{month}月{day}日"
    if item.date_end and item.date_end != item.date:
        end_month, end_day = int(item.date_end[5:7]), int(item.date_end[8:10])
        text += f"至{end_day}日" if end_month == month else f"至{end_month}月{end_day}日"
    return text


def outline_for_overview(digest: MonthDigest, numbered: list[tuple[int, DigestBullet]], max_items: int) -> str:
    """`max_items` of the month's key items as numbered, dated titles: the most important item of
    each section, the biggest sections first, then second items, and so on.

    A 1.5B model reads ~1000 tokens of outline in 15-30 s on 2 cores and then loops over it; eight
    titles (~350 tokens of prompt) it reads in a few seconds and sums up in three sentences.
    Taking sections in turn keeps the overview about the month, not only about its many meetings.
    """
    number_of = {id(bullet): n for n, bullet in numbered}
    queues = {
        section.section: sorted(section.bullets, key=lambda bullet: _importance(bullet.item), reverse=True)
        for section in sorted(digest.sections, key=lambda section: section.count, reverse=True)
    }
    chosen: set[int] = set()
    while len(chosen) < max_items and any(queues.values()):
        for queue in queues.values():
            if queue and len(chosen) < max_items:
                chosen.add(id(queue.pop(0)))
    # Titles only, in document order: with section names as headings the model wrote about the
    # sections ("这是时政/重要会议中的…") instead of the work.
    return "\n".join(
        f"[{number_of[id(b)]}] {b.item.title}{_when(b.item)}" for section in digest.sections for b in section.bullets if id(b) in chosen
    )
