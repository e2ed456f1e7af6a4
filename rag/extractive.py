"""The extractive generator: no LLM, the supporting sentences of the best items, cited. Always grounded.

Sentences are ranked by the same weighted term coverage that decides refusal (rag.evidence): a
sentence that holds the question's rare terms beats one that holds its common ones. The answer to
"哪些 / 多少 / 谁" often follows the sentence that repeats the question's words, so its next sentences
come along; a question asking when gets the item's date with the sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.records import Item
from ingest.textutil import split_sentences
from rag.answer_types import has_figure
from rag.evidence import QuestionTerms, TermWeights, asks_time, coverage, has_date, item_context, read_question, years_in
from rag.records import Intent

_MAX_SENTENCES = 6
_MIN_SENTENCE_CHARS = 6
# A sentence makes the answer when it covers at least this share of what the best sentence covers;
# sentences of other sources must come closer, or weakly related items slip in.
_RELATIVE_CUTOFF = 0.6
_OTHER_SOURCE_CUTOFF = 0.8
_OTHER_SOURCE_FIRST_CUTOFF = 0.5
_FOLLOWING_SENTENCES = 2
# A sentence that holds the kind of thing asked for (a figure for "多少") ranks above an equal one without.
_ANSWER_TYPE_BONUS = 0.15
_ASKS_WHO = re.compile(r"谁|哪位|哪些人|什么人")
# A third-person pronoun or demonstrative as the subject: the person is named in the sentence before.
_PRONOUN_SUBJECT = re.compile(r"他|她|其|该[人男女名]|此人")
_ASKS_FOR_SPECIFICS = re.compile(r"哪|多少|几|什么|啥|谁|怎么|如何|是否|名单|内容|情况")


@dataclass(frozen=True)
class _Candidate:
    n: int
    order: int
    sentence: str
    score: float


def candidate_sentences(item: Item) -> list[str]:
    """The item's candidate answer sentences (the one list evidence and answers share)."""
    return _sentences(item)


def _sentences(item: Item) -> list[str]:
    """The item's sentences long enough to stand alone in an answer, none that ingest flagged as instructions."""
    flagged = set(item.flagged)
    return [s for s in split_sentences(item.text) if len(s) >= _MIN_SENTENCE_CHARS and s not in flagged]


def sentence_score(question: QuestionTerms, sentence: str, context: str = "") -> float:
    """Weighted share of the question's terms the sentence holds, half on its own and half under its
    item's headings (a sentence of the item the question is about beats a stray match elsewhere), plus
    a bonus when it holds the kind of thing asked for."""
    score = (coverage(question, sentence) + coverage(question, f"{context} {sentence}")) / 2 if context else coverage(question, sentence)
    if score and question.asks_figure and has_figure(sentence):
        score += _ANSWER_TYPE_BONUS
    if score and asks_time(question.text) and has_date(sentence):
        score += _ANSWER_TYPE_BONUS
    return score


def best_sentences(question: str, item: Item, limit: int = 2, weights: TermWeights | None = None) -> list[str]:
    """The item's sentences that best match the question, in document order; the lead if none match."""
    terms = read_question(question, weights)
    sentences = _sentences(item)
    if not sentences:
        return [item.text.strip()] if item.text.strip() and not item.flagged else []
    scores = [sentence_score(terms, s, item_context(item)) for s in sentences]
    ranked = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    chosen = [i for i in ranked[:limit] if scores[i] > 0]
    return [sentences[i] for i in sorted(chosen)] or sentences[:1]


def extractive_answer(
    question: str,
    sources: Sequence[tuple[int, Item]],
    intent: Intent = "answer",
    parts: Sequence[str] = (),
    weights: TermWeights | None = None,
) -> str:
    """Sentences copied verbatim from the sources, each followed by its citation [n].

    A list question gets one line per item (its title and best sentence); any other question gets the
    sentences, from all sources, that best cover the question's key terms (and, for "哪些/多少" questions,
    the sentences that follow the best one), in source order. A question asking when gets each
    quoted item's date when its sentences do not say it.
    """
    if intent == "list":
        lines = [
            f"- {_headline(question, item)}：{best[0]}[{n}]"
            for n, item in sources
            if (best := best_sentences(question, item, 1, weights))
        ]
    else:
        # A question in several parts ("2月和12月分别…") gets the best sentences of each part.
        by_n = dict(sources)
        chosen = list(dict.fromkeys((c.n, c.sentence) for q in (parts or [question]) for c in _ranked_sentences(q, sources, weights)))
        lines = _with_dates(question, chosen, by_n)
    return "根据资料：\n" + "\n".join(lines) if lines else ""


def _headline(question: str, item: Item) -> str:
    """An item's title, with its date when the question asks when and the title does not say it."""
    when = _date_label(item)
    if when and asks_time(question) and not has_date(item.title):
        return f"{item.title}（{when}）"
    return item.title


def _with_dates(question: str, chosen: Sequence[tuple[int, str]], by_n: dict[int, Item]) -> list[str]:
    """Answer lines; for a question asking when, the first line of each item carries its date."""
    lines, dated = [], set()
    wants_date = asks_time(question)
    for n, sentence in chosen:
        item = by_n[n]
        when = _date_label(item)
        if wants_date and when and n not in dated and not has_date(sentence):
            lines.append(f"- {item.title}（{when}）：{sentence}[{n}]")
        else:
            lines.append(f"- {sentence}[{n}]")
        dated.add(n)
    return lines


def _date_label(item: Item) -> str:
    if not item.date or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", item.date):
        return ""
    year, month, day = item.date.split("-")
    return f"{year}年{int(month)}月{int(day)}日"


def _year_penalty(question_years: set[str], sentence: str) -> float:
    """A sentence about other years than the ones asked about ("2021年…" for a 2020 question) counts half."""
    years = years_in(sentence)
    return 0.5 if question_years and years and not years & question_years else 1.0


def _ranked_sentences(question: str, sources: Sequence[tuple[int, Item]], weights: TermWeights | None = None) -> list[_Candidate]:
    terms = read_question(question, weights)
    question_years = set(terms.years)
    candidates = [
        _Candidate(n, order, sentence, sentence_score(terms, sentence, item_context(item)) * _year_penalty(question_years, sentence))
        for n, item in sources
        for order, sentence in enumerate(_sentences(item))
    ]
    if not candidates:
        return []
    best = max(candidates, key=lambda c: (c.score, -c.n, -c.order))
    if best.score == 0:  # nothing matches word for word: the lead sentence of the strongest source
        return [next(c for c in candidates if c.n == sources[0][0])]
    chosen = {(best.n, best.order): best}
    # The answer to "哪些/多少/谁" usually follows the sentence that repeats the question's words.
    if _ASKS_FOR_SPECIFICS.search(question):
        for c in candidates:
            following = c.n == best.n and best.order < c.order <= best.order + _FOLLOWING_SENTENCES
            if following and _year_penalty(question_years, c.sentence) == 1.0:
                chosen[(c.n, c.order)] = c
    # "最终，他被判处…" answers "谁被判处…" only with the sentence that says who "他" is.
    if _ASKS_WHO.search(question) and _PRONOUN_SUBJECT.search(best.sentence[:8]):
        for c in candidates:
            if c.n == best.n and c.order == best.order - 1:
                chosen[(c.n, c.order)] = c
    represented = {best.n}
    for c in sorted(candidates, key=lambda c: (-c.score, c.n, c.order)):
        if len(chosen) >= _MAX_SENTENCES:
            break
        if c.n == best.n:
            cutoff = _RELATIVE_CUTOFF
        else:  # another item's best sentence may add the other half of a two-part answer
            cutoff = _OTHER_SOURCE_CUTOFF if c.n in represented else _OTHER_SOURCE_FIRST_CUTOFF
        if c.score >= best.score * cutoff:
            chosen.setdefault((c.n, c.order), c)
            represented.add(c.n)
    return sorted(chosen.values(), key=lambda c: (c.n, c.order))
