"""The kind of answer a question asks for, and whether an item's best window holds one.

An item can cover every word of a question and still not answer it: "一共奖励了多少名先进个人" is not
answered by "拿出1000余万元进行表彰", "评奖结果是几号公布的" not by "2月，省文化和旅游厅公布了…",
"最后建成了多少个" not by "到年底将建成200个", "签了哪些协议" not by a meeting that "达成共识". The
asking word names the answer's type (closed classes of Chinese: counters, day and clock words, rank
words, words of outcome against plan, a few events a text states in so many words), so the check is
one of form, not of the eval's phrasings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.records import Item
from ingest.textutil import jieba_engine, normalize_spaces

# Counters that say what is counted (a generic "个", "次", "种" or "块" does not); a group's counters
# stand for each other ("多少名选手" is answered by "192名" or "192人", not by "1000余万元").
COUNTER_GROUPS = ("名人位", "家", "项", "所", "座", "条", "件", "张", "枚", "台", "艘", "支", "户", "套", "处", "场", "辆", "架", "栋", "分", "亩")
_COUNTS = {
    group: re.compile(rf"(?:\d+(?:\.\d+)?|[一二三四五六七八九十百千两]+)\s*(?:余|多)?\s*(?:万|千|百)?\s*[{group}]") for group in COUNTER_GROUPS
}
_ASKS_DAY = re.compile(r"几号|哪天|哪一天|哪日|几月几日|几月几号")
_DAY_IN_TEXT = re.compile(r"(?:\d{1,2}|[一二三四五六七八九十]{1,3})\s*[日号]|当天|当日|今天|昨天|近日")
_ASKS_CLOCK = re.compile(r"几点|几时")
_CLOCK_IN_TEXT = re.compile(
    r"\d{1,2}\s*[:：]\s*\d{2}|(?:\d{1,2}|[一二三四五六七八九十]{1,3})\s*[点时](?!\s*[\d一二三四五六七八九]+\s*%)|上午|下午|凌晨|晚上|早上|中午"
)
# "排" of a rank, not of "安排"/"编排" ("安排多少个巡察组" asks a count).
_ASKS_RANK = re.compile(r"(?<![安编彩])排(?:名)?(?:在)?(?:第几|多少)|第几名|第几位|位列第几|位居第几|居第几")
_RANK_IN_TEXT = re.compile(
    r"第\s*[\d一二三四五六七八九十百]+\s*[名位]|(?:排名|排|位列|位居|居)[^，。；]{0,10}?(?:第|前)\s*[\d一二三四五六七八九十百]+|榜首|首位|冠军|第一"
)
# Asking what actually came of something ("实际增长了多少", "后来通车了吗"): a plan does not answer it.
_ASKS_OUTCOME = re.compile(r"实际|最终|最后|后来|到底|真的")
# What a plan or forecast says, as opposed to a result.
_STATES_PLAN = re.compile(r"目标|预期|计划|力争|争取|确保|规划|拟|预计|将|年底前")
# Chinese classifiers (a closed word class): a numeral before one states a count ("两组", "三个").
CLASSIFIERS = "个家项次位名所座条倍成组批届件张枚块台艘种类支户套处人场份期轮辆架只头间层栋亩元"
# A count or amount, not a date ("2503家", "4金2银5铜", "三个").
FIGURE_IN_TEXT = re.compile(
    rf"(?<![\d.])\d+(?:\.\d+)?(?!\s*[年月日号时:：\d])|[一二三四五六七八九十百千万两]+[{CLASSIFIERS}]|[\d一二三四五六七八九十两]+[金银铜]"
)


# Events whose occurrence a text states in so many words: asked as done ("签了哪些协议", "哪天开工的"),
# an item that never says it (a meeting "达成共识", a project "洽谈") does not report that event.
# Each: what the question says, what the item must say.
_EVENTS = (
    (re.compile(r"签(?!名|字)"), re.compile(r"签")),
    (re.compile(r"出国|出访"), re.compile(r"出国|出访")),
    (re.compile(r"开工"), re.compile(r"开工|动工|开建|奠基")),
    (re.compile(r"通车"), re.compile(r"通车|通行|开通")),
    # A completion; of a title or a programme it is said "成功创建" ("建成了几个达标县").
    (re.compile(r"竣工|建成"), re.compile(r"竣工|建成|完工|落成|成功创建|创建成功|创成|通过验收")),
    (re.compile(r"投产"), re.compile(r"投产|投用|投运")),
)


@dataclass(frozen=True)
class AskedFor:
    """What the answer must hold besides the question's words.

    counter: the counter group of a count asked with its counter ("多少名" -> "名人位"), or "".
    day / clock / rank: a day ("几号"), a time of day ("几点"), a rank ("排第几") is asked.
    outcome: what actually happened is asked ("实际", "最后", "后来"), so a plan does not answer.
    events: indexes into _EVENTS of the events asked as done (a signing, a trip abroad, a start of works).
    """

    counter: str = ""
    day: bool = False
    clock: bool = False
    rank: bool = False
    outcome: bool = False
    events: tuple[int, ...] = ()


def has_figure(text: str) -> bool:
    """A count or amount stands in the text (a date is not one)."""
    return bool(FIGURE_IN_TEXT.search(text))


def asked_for(question: str) -> AskedFor:
    text = normalize_spaces(question)
    return AskedFor(
        counter=asked_counter(text),
        day=bool(_ASKS_DAY.search(text)),
        clock=bool(_ASKS_CLOCK.search(text)),
        rank=bool(_ASKS_RANK.search(text)),
        outcome=bool(_ASKS_OUTCOME.search(text)),
        events=tuple(n for n, (asked, _) in enumerate(_EVENTS) if asked.search(text)),
    )


def asked_counter(question: str) -> str:
    """The counter group of the count asked ("名人位" for "多少名", "条" for "几条"), or "": the counter
    must be a word of its own ("多少人民币" asks money, "哪几家" asks which)."""
    tokens = [token.strip() for token in jieba_engine().cut(question) if token.strip()]
    for previous, token in zip(["", *tokens], tokens):
        counter = token[1:] if token.startswith("几") and previous != "哪" else token if previous == "多少" else ""
        group = next((group for group in COUNTER_GROUPS if len(counter) == 1 and counter in group), "")
        if group:
            return group
    return ""


def counts_in(counter_group: str, text: str) -> bool:
    """A number stands with one of the group's counters ("192名", "两家", "9.08分")."""
    return bool(_COUNTS[counter_group].search(text))


def unanswered(asked: AskedFor, item: Item, sentences: Sequence[str], window: tuple[int, int]) -> str:
    """Why the item cannot give the kind of answer asked for ("" when it can). The best window and
    the sentence after it are where the answer must stand; a count may stand anywhere in the item."""
    near = "".join(sentences[window[0] : window[1] + 1])
    if asked.counter and not counts_in(asked.counter, f"{item.title} {item.text}"):
        return f"没有以“{asked.counter[0]}”计的数"
    if asked.day and not _states_day(item, near):
        return "没有说是哪一天"
    if asked.clock and not _CLOCK_IN_TEXT.search(near):
        return "没有说是几点"
    if asked.rank and not _RANK_IN_TEXT.search(near):
        return "没有说排第几"
    if any(not _EVENTS[n][1].search(f"{item.title} {item.text}") for n in asked.events):
        return "没有说发生过"
    if asked.outcome and (_STATES_PLAN.search(f"{item.section} {item.title}") or _plans_only(sentences[window[0] : window[1]])):
        return "只有目标，没有实际结果"
    return ""


def _states_day(item: Item, near: str) -> bool:
    """The item is dated to the day, or a day stands near its best window."""
    dated = bool(item.date and re.fullmatch(r"\d{4}-\d{2}-\d{2}", item.date))
    return dated or bool(_DAY_IN_TEXT.search(f"{item.title} {near}"))


def _plans_only(window: Sequence[str]) -> bool:
    """The window's figures (or, without any, its sentences) are all stated as plans or forecasts."""
    stated = [sentence for sentence in window if has_figure(sentence)] or list(window)
    return bool(stated) and all(_STATES_PLAN.search(sentence) for sentence in stated)
