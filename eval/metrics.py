"""Evaluation metrics: small pure functions over ids, texts and flags, so each is easy to test by hand.

Conventions shared by the retrieval and citation metrics:
- retrieved / cited ids are item ids in rank order;
- gold ids are one entry per gold item, each either an item id or the set of item ids that count as
  that gold item (an item split across ids, a title repeated in a bulletin); `resolve_gold_ids` builds
  them from the eval set's gold items and the indexed items.
A metric that is undefined for its input (no gold to find, no key facts to check) raises ValueError
rather than returning a number that would silently skew an average: score unanswerable questions with
the refusal metrics instead.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from typing import Protocol

from eval.dataset import GoldItem

GoldIds = Sequence[str | Collection[str]]

# Two titles this similar after normalisation name the same item (TOC vs body spelling differences).
TITLE_SIMILARITY = 0.8
_WHITESPACE = re.compile(r"\s+")


class SourceItem(Protocol):
    item_id: str
    file: str
    title: str
    text: str


class SupportCheck(Protocol):
    supported: bool


def normalize(text: str) -> str:
    """Compare-ready text: full-width digits/letters/punctuation folded (NFKC), whitespace removed, lower case."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", text)).lower()


def matches_gold(file: str, title: str, text: str, gold: GoldItem) -> bool:
    """Whether a source item is this gold item: same file, and an equal normalised title or the quote in its text."""
    if file != gold.file:
        return False
    return normalize(title) == normalize(gold.title) or normalize(gold.quote) in normalize(text)


def resolve_gold_ids(gold: Iterable[GoldItem], items: Iterable[SourceItem]) -> list[frozenset[str]]:
    """For each gold item, the ids of the indexed items holding its quote (those with its title when none does).

    An empty set means the index lost that item (a parsing gap): it then counts as never retrieved.
    """
    items = list(items)
    resolved = []
    for entry in gold:
        same_file = [item for item in items if item.file == entry.file]
        quote = normalize(entry.quote)
        by_quote = frozenset(item.item_id for item in same_file if quote in normalize(item.text))
        title = normalize(entry.title)
        by_title = frozenset(item.item_id for item in same_file if normalize(item.title) == title)
        resolved.append(by_quote or by_title)
    return resolved


def hit_at_k(retrieved_ids: Sequence[str], gold_ids: GoldIds, k: int) -> float:
    """1.0 when any gold item is among the first k retrieved, else 0.0."""
    return 1.0 if _found_gold(retrieved_ids[: _checked_k(k)], gold_ids) else 0.0


def recall_at_k(retrieved_ids: Sequence[str], gold_ids: GoldIds, k: int) -> float:
    """Share of the gold items found among the first k retrieved."""
    return len(_found_gold(retrieved_ids[: _checked_k(k)], gold_ids)) / len(gold_ids)


def reciprocal_rank(retrieved_ids: Sequence[str], gold_ids: GoldIds) -> float:
    """1/rank of the first retrieved gold item (0.0 when none is retrieved); its mean over questions is MRR."""
    gold_sets = _gold_sets(gold_ids)
    for rank, item_id in enumerate(retrieved_ids, start=1):
        if any(item_id in accepted for accepted in gold_sets):
            return 1.0 / rank
    return 0.0


def canonical(text: str) -> str:
    """The verifier's comparable form (rag.verify): `normalize` plus Chinese numerals as Arabic digits and
    no thousands separators, so 第十三次 ≡ 第13次 and 2,000 ≡ 2000. Only notation is folded: no synonyms
    (4金 does not match 4枚金牌), so a match still means the answer states the fact."""
    from rag.verify import _canonical  # the one place that defines what "the same figure" means

    return _canonical(normalize(text))


def key_fact_recall(answer_text: str, key_facts: Sequence[str]) -> float:
    """Share of the key facts the answer contains, both in canonical form (`canonical`)."""
    if not key_facts:
        raise ValueError("no key facts to check: key_fact_recall is for answerable questions only")
    answer = canonical(answer_text)
    return sum(canonical(fact) in answer for fact in key_facts) / len(key_facts)


def answer_contains(answer_text: str, expected: str) -> bool:
    """The CRUD-RAG rule: the expected answer string, whitespace removed, is a substring of the answer."""
    expected = _WHITESPACE.sub("", expected)
    if not expected:
        raise ValueError("empty expected answer: give the answer string the question is scored on")
    return expected in _WHITESPACE.sub("", answer_text)


def shares_run(text: str, document: str, length: int = 24) -> bool:
    """Whether `text` and `document` share a run of min(len(text), length) characters (whitespace removed):
    the CRUD-RAG rule for "this retrieved text comes from that gold file"."""
    text, document = _WHITESPACE.sub("", text), _WHITESPACE.sub("", document)
    if not text:
        return False
    run = min(len(text), _checked_k(length))
    return any(text[start : start + run] in document for start in range(len(text) - run + 1))


def citation_precision(cited: Sequence[str], gold: GoldIds, supported: Collection[str] = ()) -> float:
    """Share of cited items that are right: a gold item, or an item whose quote the verifier found supporting."""
    if not cited:
        return 0.0
    gold_sets = _gold_sets(gold)
    right = [
        item_id for item_id in cited if item_id in supported or any(item_id in accepted for accepted in gold_sets)
    ]
    return len(right) / len(cited)


def citation_recall(cited: Sequence[str], gold: GoldIds) -> float:
    """Share of the gold items the answer cites."""
    return len(_found_gold(cited, gold)) / len(gold)


def faithfulness(checks: Sequence[SupportCheck]) -> float:
    """Share of answer sentences the verifier found supported by the sources they cite."""
    if not checks:
        raise ValueError("no sentence checks: verify the answer first (rag.verify); refusals have nothing to score")
    return sum(bool(check.supported) for check in checks) / len(checks)


def refusal_accuracy(answerable: Sequence[bool], refused: Sequence[bool]) -> float:
    """Share of unanswerable questions the system refused."""
    outcomes = [was_refused for can_answer, was_refused in _paired(answerable, refused) if not can_answer]
    if not outcomes:
        raise ValueError("no unanswerable questions: refusal accuracy needs some with answerable=false")
    return sum(outcomes) / len(outcomes)


def false_refusal_rate(answerable: Sequence[bool], refused: Sequence[bool]) -> float:
    """Share of answerable questions the system wrongly refused."""
    outcomes = [was_refused for can_answer, was_refused in _paired(answerable, refused) if can_answer]
    if not outcomes:
        raise ValueError("no answerable questions: false-refusal rate needs some with answerable=true")
    return sum(outcomes) / len(outcomes)


def summary_coverage(answer: str | Sequence[str], required_titles: Sequence[str]) -> float:
    """Share of required item titles a summary mentions: inside its text, or among its cited titles."""
    if not required_titles:
        raise ValueError("no required titles: summary_coverage needs the month's key items")
    if isinstance(answer, str):
        text = normalize(answer)
        covered = [normalize(title) in text for title in required_titles]
    else:
        cited = [normalize(title) for title in answer]
        covered = [any(_same_title(normalize(title), other) for other in cited) for title in required_titles]
    return sum(covered) / len(required_titles)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) with linear interpolation between ranks, as numpy's default; p50 is the median."""
    if not values:
        raise ValueError("no values: percentile needs at least one measurement")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile p={p} must be between 0 and 100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def _same_title(required: str, cited: str) -> bool:
    if not required or not cited:
        return False
    if required in cited:
        return True
    return difflib.SequenceMatcher(None, required, cited).ratio() >= TITLE_SIMILARITY


def _gold_sets(gold_ids: GoldIds) -> list[frozenset[str]]:
    if not gold_ids:
        raise ValueError("no gold items: retrieval and citation metrics are for answerable questions only")
    return [frozenset([entry]) if isinstance(entry, str) else frozenset(entry) for entry in gold_ids]


def _found_gold(ids: Sequence[str], gold_ids: GoldIds) -> list[int]:
    """Indexes of the gold items at least one of `ids` stands for."""
    present = set(ids)
    return [index for index, accepted in enumerate(_gold_sets(gold_ids)) if accepted & present]


def _checked_k(k: int) -> int:
    if k < 1:
        raise ValueError(f"k={k}: the cut-off must be at least 1")
    return k


def _paired(answerable: Sequence[bool], refused: Sequence[bool]) -> list[tuple[bool, bool]]:
    if len(answerable) != len(refused):
        raise ValueError(
            f"{len(answerable)} answerable flags but {len(refused)} refused flags: pass one of each per question"
        )
    return list(zip(answerable, refused))
