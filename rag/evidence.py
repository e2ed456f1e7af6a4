"""Retrieval evidence: does a retrieved item actually speak to the question?

Refusal is decided here, before any LLM is called, because a small LLM invents numbers when the
answer is not in its context.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from ingest.lexical import LexicalRow, TermMatrix, TermPresence, gram_codes
from ingest.records import Item
from ingest.textutil import normalize_spaces, split_sentences, words

# Phrases that ask (what, which, how many) or say when: they are not what the question is about.
_ASKING = re.compile(
    r"请问|请|哪些|哪个|哪家|哪位|哪里|哪儿|哪天|什么|多少|怎么样|怎样|怎么|如何|是否|有没有|是不是|为什么|吗|呢|"
    r"去了|分别|主要|重要|具体|情况|内容|介绍|总结|概括|一下|提到|提出|有关|相关|一共|总共|累计|截至|截止|到底|"
    r"几家|几个|几项|几次|几位|几名|多长|多大|多高|多久|第几|哪一步|怎么提|是谁|后来|什么时候|"
    r"哪[一二两三四五六七八九十几]?[项家个位名所座条次种批]|各排|排第|排名第|中间|"
    r"\d{4}\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?)?|\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?|\d{1,2}\s*[日号]|"
    r"今年|去年|本月|上个月|上半年|下半年|上旬|中旬|下旬|月初|月底|月份|最近|期间|当月"
)
_GENERIC = frozenset(
    "年 月 日 工作 活动 开展 举行 召开 时候 时间 市 政府 市政府 市里 报告 工作报告 政府工作报告 月报 政务 信息 "
    "洛阳 洛阳市 我市 全市 获得 拿到 要求 达到 计划 进行 有 是 了 天 哪 几".split()
)
# A number with a counter ("3号线", "第5次", "100亿元") must appear as written: near misses are different facts.
_SPECIFIC_NUMBER = re.compile(r"第?\d+(?:\.\d+)?\s*(?:号线|号|期|届|次|个|家|项|所|座|条|名|位|亿元|万元|亿|万|元|%|％|吨|亩|公里)")


def key_terms(question: str) -> list[str]:
    """The question's content terms: jieba words of what remains once asking words and dates are removed."""
    stripped = _ASKING.sub(" ", normalize_spaces(question))
    terms: list[str] = []
    for token in words(stripped):
        if token in _GENERIC or (len(token) < 2 and not token.isdigit()) or token.isdigit():
            continue
        if token not in terms:
            terms.append(token)
    return terms


def required_numbers(question: str) -> list[str]:
    return [re.sub(r"\s+", "", m.group(0)) for m in _SPECIFIC_NUMBER.finditer(normalize_spaces(question))]


class TermWeights:
    """Inverse document frequency of a term over the corpus items, counted by substring.

    Rare terms ("阳台", "杜苏芮") say what a question is about; common ones ("城市", "项目") do not, so
    an item that shares only the common terms is no evidence. The counts come from the items'
    character unigrams and bigrams, indexed at ingest (`presence`), or from `texts` given here.
    """

    def __init__(self, texts: Iterable[str] = (), presence: TermPresence | None = None) -> None:
        if presence is None:
            rows = [LexicalRow(f"{number:09d}", "", text) for number, text in enumerate(texts)]
            presence = TermPresence(TermMatrix.build(rows, gram_codes))
        self._presence = presence
        self._cache: dict[str, float] = {}

    def idf(self, term: str) -> float:
        if term not in self._cache:
            df = self._presence.frequency(term)
            self._cache[term] = math.log((1 + self._presence.rows) / (1 + df)) + 1.0
        return self._cache[term]


def evidence_score(
    question: str, item: Item, dated: bool = False, weights: TermWeights | None = None, document_title: str = ""
) -> float:
    """How much of the question the item covers, in [0, 1].

    Each key term counts fully when the item contains it, else by the share of its character bigrams
    that the item contains; terms are weighted by their rarity in the corpus when `weights` is given.
    A number with a counter that the item lacks zeroes the score. `dated`: the query carries a date
    filter, so a question with no content terms ("12月5日有什么活动") is answered by any item of that date.
    `document_title` counts too: a district report's paragraphs say "全区", its title names the district.
    """
    haystack = normalize_spaces(f"{document_title} {item.section} {item.title} {item.text}").lower()
    if any(number.lower() not in haystack for number in required_numbers(question)):
        return 0.0
    terms = key_terms(question)
    if not terms:
        return 1.0 if dated else 0.0
    weight = {term: weights.idf(term) if weights else 1.0 for term in terms}
    return sum(weight[term] * _term_coverage(term, haystack) for term in terms) / sum(weight.values())


def _term_coverage(term: str, haystack: str) -> float:
    if any(variant in haystack for variant in _variants(term)):
        return 1.0
    bigrams = [term[i : i + 2] for i in range(len(term) - 1)]
    if not bigrams:
        return 0.0
    return sum(1 for bigram in bigrams if bigram in haystack) / len(bigrams)


# "多少 / 几 / 多长" questions ask for a figure: an item that covers the topic but states no figure
# for what is asked ("城市阳台项目总投资是多少" where the item gives no investment) does not answer them.
_ASKS_FIGURE = re.compile(r"多少|(?<!第)几[个家项次位名所座条天人倍]|多长|多高|多远|百分之几")
_CLAUSE_END = re.compile(r"[，。？！；,?!;：:\s]")
_FIGURE_IN_TEXT = re.compile(r"(?<![\d.])\d+(?:\.\d+)?(?!\s*[年月日号时])|[一二三四五六七八九十百千万两]+(?:个|家|项|次|位|名|所|座|条|倍|成)")


def figure_terms(question: str) -> list[str]:
    """The key terms next to the asking word in its clause ("总投资" in "总投资是多少"); [] if no figure is asked."""
    text = normalize_spaces(question)
    heads: list[str] = []
    for match in _ASKS_FIGURE.finditer(text):
        start = max((m.end() for m in _CLAUSE_END.finditer(text, 0, match.start())), default=0)
        end = next((m.start() for m in _CLAUSE_END.finditer(text, match.end())), len(text))
        before, after = key_terms(text[start : match.start()]), key_terms(text[match.end() : end])
        heads += before[-1:] + after[:1]
    return list(dict.fromkeys(heads))


# Words that state a figure in different ways: a question's "增加到多少" is answered by "增至2503家".
_FIGURE_WORD_GROUPS = (
    frozenset("增加 增至 增到 增长 提高 提升 上升 达到 达 突破".split()),
    frozenset("总数 数量 总量 共有 共计 累计 合计 总计 规模".split()),
    frozenset("下降 降低 减少 降至 减至".split()),
    frozenset("投资 总投资 投入".split()),
    frozenset("gdp 地区生产总值 生产总值 经济总量".split()),
    frozenset("目标 预期目标 力争 确保".split()),
)


def _variants(head: str) -> set[str]:
    return set().union({head}, *(group for group in _FIGURE_WORD_GROUPS if head in group))


def states_figure(item: Item, heads: list[str]) -> bool:
    """True when a sentence of the item has one of the head terms (or a variant) and a figure (not a
    date) stands in it or in the next two sentences ("主要目标是：……生产总值达到8000亿元")."""
    if not heads:
        return True
    variants = set().union(*(_variants(head) for head in heads))
    sentences = split_sentences(normalize_spaces(item.text))
    for index, sentence in enumerate(sentences):
        if any(word in sentence.lower() for word in variants):
            if any(_FIGURE_IN_TEXT.search(s) for s in sentences[index : index + 3]):
                return True
    return False
