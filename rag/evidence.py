"""Retrieval evidence: does a retrieved item actually speak to the question?

Refusal is decided here, before any LLM is called, because a small LLM invents numbers when the
answer is not in its context.
"""

from __future__ import annotations

import re

from ingest.records import Item
from ingest.textutil import normalize_spaces, tokenize

# Words that say when or ask how, not what: they must not count as evidence of the topic.
_QUESTION_WORDS = frozenset(
    "年 月 日 今年 去年 上半年 下半年 上旬 中旬 下旬 本月 上个月 最近 期间 当月 哪天 时候 时间 "
    "主要 重要 工作 内容 具体 分别 开展 举行 召开 活动 哪些 几 多少 情况 什么 怎样 提到 提出 介绍 总结 "
    "概括 有没有 是不是 吗 呢 了 过 哪 哪个 哪家 哪位 谁 市 政府 报告 月报 政务 信息".split()
)
_DATE_TOKEN = re.compile(r"^\d{1,4}(年|月|日|号)?$|^[一二三四五六七八九十]+月$")


def key_terms(question: str) -> list[str]:
    """The question's content terms: jieba tokens minus question words and date parts."""
    terms = []
    for token in tokenize(normalize_spaces(question)):
        if token in _QUESTION_WORDS or _DATE_TOKEN.match(token) or len(token) < 2 and not token.isdigit():
            continue
        if token not in terms:
            terms.append(token)
    return terms


def evidence_score(question: str, item: Item) -> float:
    """Share of the question's key terms found in the item (title, section and text)."""
    terms = key_terms(question)
    if not terms:
        return 0.0
    haystack = normalize_spaces(f"{item.section} {item.title} {item.text}").lower()
    return sum(1 for term in terms if term in haystack) / len(terms)
