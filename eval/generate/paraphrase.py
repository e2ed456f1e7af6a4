"""Paraphrases by rule: the same question in everyday wording, with words the corpus never uses.

A user does not copy a bulletin's title: they say "几号" for 哪一天, "碰面" for 举行工作会谈, "23年" for
2023年, leave out the month when the event is specific enough, or say "那次". Each rule rewrites one
phrasing; a paraphrase applies every rule that matches (at least one) and keeps the gold, key facts
and answerability of its source. A rule that brings in a synonym is kept only while that word never
occurs in the corpus, so the paraphrase really asks in words retrieval cannot match verbatim.

Which questions get paraphrased is a salted hash of their id (`SHARE` of them), never a choice made
after seeing how any system does on them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from eval.generate.corpus import squash, stable_hash

SHARE = 0.4


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    replacement: str
    new_words: tuple[str, ...] = ()  # words the rule brings in: each must be absent from the corpus


def _rule(name: str, pattern: str, replacement: str, *new_words: str) -> Rule:
    return Rule(name, re.compile(pattern), replacement, new_words)


RULES = (
    _rule("day", r"是哪一天(的事)?[？?]$|是在几月几日[？?]$|是哪天[？?]$", "是几号？", "几号"),
    _rule("when", r"发生在什么时候[？?]$|是什么时候的事[？?]$", "是啥时候的事？", "啥"),
    _rule("that_time", r"^“(.+)”(?=是啥时候|是几号)", r"\1那次", "那次"),
    _rule("led", r"是由谁带队的[？?]$|带队的是谁[？?]$", "领头的是哪位？", "领头"),
    _rule("meet", r"举行了工作会谈|举行工作会谈", "碰面", "碰面"),
    _rule("met", r"会谈的(?=[？?]$)", "碰面的", "碰面"),
    _rule("which", r"有哪些", "都有啥", "啥"),
    _rule("how_many_small", r"多少(个|家|项|户|名|人|件|所|座|条|枚|场|支|批|部|种|处)(?![万亿次])", r"几\1"),
    # Only years the documents speak of (2020-2023): "25年" for 2025 would read as "25 years".
    _rule("short_year", r"(?<!\d)20(2[0-3])年", r"\1年"),
    _rule("city", r"洛阳市(?![委政人纪中])|我市", "洛阳"),
    _rule("held", r"召开(?=是)", ""),
    _rule("held_past", r"召开了", "开了"),
    _rule("rated", r"获评|被评为", "评上了", "评上了"),
    _rule("new", r"新增", "新添了", "新添"),
)
# Dropping the month keeps a question answerable only when its event is named precisely.
_LEADING_MONTH = re.compile(r"^\d{4}年\d{1,2}月，")
DROP_MONTH_TAGS = ("title_figure", "date_of", "meeting_partner", "led_by")


def usable_rules(corpus_text: str) -> list[Rule]:
    """The rules whose new words the corpus never uses (checked, not assumed)."""
    squashed = squash(corpus_text)
    return [rule for rule in RULES if not any(word in squashed for word in rule.new_words)]


def paraphrase(text: str, rules: Sequence[Rule], tags: Sequence[str] = ()) -> tuple[str, list[str]]:
    """The question rewritten by every matching rule, and the names of the rules applied."""
    applied = []
    for rule in rules:
        rewritten = rule.pattern.sub(rule.replacement, text)
        if rewritten != text:
            text, applied = rewritten, [*applied, rule.name]
    if any(tag in DROP_MONTH_TAGS for tag in tags) and _LEADING_MONTH.search(text):
        text, applied = _LEADING_MONTH.sub("", text), [*applied, "no_month"]
    return text, applied


def chosen(records: Iterable[dict], share: float = SHARE) -> list[dict]:
    """The records whose id falls in the paraphrased share (a salted hash of the id)."""
    return [r for r in records if int(stable_hash(f"paraphrase|{r['id']}")[:8], 16) / 16**8 < share]


def paraphrases(records: Iterable[dict], corpus_text: str) -> list[dict]:
    """Paraphrase records (without id) of the chosen records that at least one rule changes."""
    rules = usable_rules(corpus_text)
    out = []
    for record in chosen(records):
        text, applied = paraphrase(record["question"], rules, record.get("tags", ()))
        if not applied or squash(text) == squash(record["question"]):
            continue
        copy = {key: value for key, value in record.items() if key not in ("id", "provenance", "tags", "paraphrase_of")}
        copy.update(question=text, provenance="paraphrase", paraphrase_of=record["id"], tags=[*record.get("tags", ()), "rule_paraphrase"])
        out.append(copy)
    return out


__all__ = ["RULES", "SHARE", "paraphrase", "paraphrases", "usable_rules"]
