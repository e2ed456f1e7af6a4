"""The extractive generator: no LLM, the supporting sentences of the best items, cited. Always grounded."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.records import Item
from ingest.textutil import normalize_spaces, split_sentences
from rag.evidence import key_terms
from rag.records import Intent

_MAX_SENTENCES = 6
_YEAR = re.compile(r"(\d{4})年")
_MIN_SENTENCE_CHARS = 6
# A sentence makes the answer when it covers at least this share of what the best sentence covers;
# sentences of other sources must come closer, or weakly related items slip in.
_RELATIVE_CUTOFF = 0.6
_OTHER_SOURCE_CUTOFF = 0.8
_OTHER_SOURCE_FIRST_CUTOFF = 0.5
_FOLLOWING_SENTENCES = 2
_ASKS_FOR_SPECIFICS = re.compile(r"哪|多少|几|什么|谁|怎么|如何|是否|名单|内容|情况")


@dataclass(frozen=True)
class _Candidate:
    n: int
    order: int
    sentence: str
    score: float


def sentence_score(terms: Sequence[str], sentence: str) -> float:
    """Share of the question's key terms that the sentence contains."""
    if not terms:
        return 0.0
    text = normalize_spaces(sentence).lower()
    return sum(1 for term in terms if term in text) / len(terms)


def best_sentences(question: str, item: Item, limit: int = 2) -> list[str]:
    """The item's sentences that best match the question, in document order; the lead if none match."""
    terms = key_terms(question)
    sentences = _sentences(item)
    if not sentences:
        return [item.text.strip()] if item.text.strip() and not item.flagged else []
    ranked = sorted(range(len(sentences)), key=lambda i: (-sentence_score(terms, sentences[i]), i))
    chosen = [i for i in ranked[:limit] if sentence_score(terms, sentences[i]) > 0]
    return [sentences[i] for i in sorted(chosen)] or sentences[:1]


def extractive_answer(
    question: str, sources: Sequence[tuple[int, Item]], intent: Intent = "answer", parts: Sequence[str] = ()
) -> str:
    """Sentences copied verbatim from the sources, each followed by its citation [n].

    A list question gets one line per item (its title and best sentence); any other question gets the
    sentences, from all sources, that best cover the question's key terms (and, for "哪些/多少" questions,
    the sentences that follow the best one), in source order.
    """
    if intent == "list":
        lines = [f"- {item.title}：{best[0]}[{n}]" for n, item in sources if (best := best_sentences(question, item, 1))]
    else:
        # A question in several parts ("2月和12月分别…") gets the best sentences of each part.
        lines = list(dict.fromkeys(f"- {c.sentence}[{c.n}]" for q in (parts or [question]) for c in _ranked_sentences(q, sources)))
    return "根据资料：\n" + "\n".join(lines) if lines else ""


def _sentences(item: Item) -> list[str]:
    """The item's sentences long enough to stand alone in an answer, none that ingest flagged as instructions."""
    flagged = set(item.flagged)
    return [s for s in split_sentences(item.text) if len(s) >= _MIN_SENTENCE_CHARS and s not in flagged]


def _year_penalty(question_years: set[str], sentence: str) -> float:
    """A sentence about other years than the ones asked about ("2021年…" for a 2020 question) counts half."""
    years = set(_YEAR.findall(normalize_spaces(sentence)))
    return 0.5 if question_years and years and not years & question_years else 1.0


def _ranked_sentences(question: str, sources: Sequence[tuple[int, Item]]) -> list[_Candidate]:
    terms = key_terms(question)
    question_years = set(_YEAR.findall(normalize_spaces(question)))
    by_source = {n: _sentences(item) for n, item in sources}
    candidates = [
        _Candidate(n, order, sentence, sentence_score(terms, sentence) * _year_penalty(question_years, sentence))
        for n, sentences in by_source.items()
        for order, sentence in enumerate(sentences)
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
