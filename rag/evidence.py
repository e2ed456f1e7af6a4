"""Retrieval evidence: does a retrieved item actually speak to the question?

Refusal is decided here, before any LLM is called, because a small LLM invents numbers when the
answer is not in its context.
"""

from __future__ import annotations

import re

from ingest.records import Item
from ingest.textutil import normalize_spaces, tokenize

# Phrases that ask (what, which, how many) or say when: they are not what the question is about.
_ASKING = re.compile(
    r"请问|请|哪些|哪个|哪家|哪位|哪里|哪儿|哪天|什么|多少|怎么样|怎样|怎么|如何|是否|有没有|是不是|为什么|吗|呢|"
    r"去了|分别|主要|重要|具体|情况|内容|介绍|总结|概括|一下|提到|提出|有关|相关|"
    r"\d{4}\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?)?|\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?|\d{1,2}\s*[日号]|"
    r"今年|去年|本月|上个月|上半年|下半年|上旬|中旬|下旬|月初|月底|月份|最近|期间|当月"
)
_GENERIC = frozenset("年 月 日 工作 活动 开展 举行 召开 时候 时间 市 政府 报告 月报 政务 信息 洛阳 洛阳市 我市 全市".split())
# A number with a counter ("3号线", "第5次", "100亿元") must appear as written: near misses are different facts.
_SPECIFIC_NUMBER = re.compile(r"第?\d+(?:\.\d+)?\s*(?:号线|号|期|届|次|个|家|项|所|座|条|名|位|亿元|万元|亿|万|元|%|％|吨|亩|公里)")


def key_terms(question: str) -> list[str]:
    """The question's content terms: jieba tokens of what remains once asking words and dates are removed."""
    stripped = _ASKING.sub(" ", normalize_spaces(question))
    terms: list[str] = []
    for token in tokenize(stripped):
        if token in _GENERIC or (len(token) < 2 and not token.isdigit()) or token.isdigit():
            continue
        if token not in terms:
            terms.append(token)
    return terms


def required_numbers(question: str) -> list[str]:
    return [re.sub(r"\s+", "", m.group(0)) for m in _SPECIFIC_NUMBER.finditer(normalize_spaces(question))]


def evidence_score(question: str, item: Item, dated: bool = False) -> float:
    """How much of the question the item covers, in [0, 1].

    Each key term counts fully when the item contains it, else by the share of its character bigrams
    that the item contains (jieba's search mode glues words like "江凌去"). A number with a counter
    that the item lacks zeroes the score. `dated`: the query carries a date filter, so a question
    with no content terms ("12月5日有什么活动") is answered by any item of that date.
    """
    haystack = normalize_spaces(f"{item.section} {item.title} {item.text}").lower()
    if any(number.lower() not in haystack for number in required_numbers(question)):
        return 0.0
    terms = key_terms(question)
    if not terms:
        return 1.0 if dated else 0.0
    return sum(_term_coverage(term, haystack) for term in terms) / len(terms)


def _term_coverage(term: str, haystack: str) -> float:
    if term in haystack:
        return 1.0
    bigrams = [term[i : i + 2] for i in range(len(term) - 1)]
    if not bigrams:
        return 0.0
    return sum(1 for bigram in bigrams if bigram in haystack) / len(bigrams)
