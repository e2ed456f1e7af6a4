"""Typed records that flow through question answering: Query -> Hit -> Answer(citations)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ingest.records import Item

Intent = Literal["answer", "month_summary", "list"]


@dataclass(frozen=True)
class Query:
    """A standalone question with the period it is restricted to.

    date_from / date_to: inclusive ISO dates used as a metadata filter (None: no restriction).
    months: the "YYYY-MM" months the period covers (empty when not restricted to months).
    notes: sentences shown to the user, e.g. which month a relative word resolved to.
    sub_questions: parts of a question that spans two periods or documents, each retrieved alone.
    asked_months: the months named as months or days (not a whole year's): when none of them is
    covered by the corpus, the question is about a period it lacks.
    """

    text: str
    original: str
    intent: Intent = "answer"
    date_from: str | None = None
    date_to: str | None = None
    months: tuple[str, ...] = ()
    period_label: str = ""
    sub_questions: tuple["Query", ...] = ()
    notes: tuple[str, ...] = ()
    asked_months: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    """One retrieved source item; chunks of the same item are merged into one hit."""

    item: Item
    score: float
    chunk_text: str
    dense_rank: int | None = None
    bm25_rank: int | None = None


@dataclass(frozen=True)
class Citation:
    n: int
    item: Item
    quote: str  # the exact supporting sentence(s), verbatim from item.text


@dataclass(frozen=True)
class SentenceCheck:
    sentence: str
    citations: tuple[int, ...]
    supported: bool
    reason: str = ""
    # The sentence repeats text a source holds as instructions or phishing (ingest.untrusted).
    echoes_flagged: bool = False


@dataclass
class Answer:
    question: str
    text: str
    refused: bool
    llm: str
    citations: list[Citation] = field(default_factory=list)
    retrieved: list[Hit] = field(default_factory=list)
    checks: list[SentenceCheck] = field(default_factory=list)
    fidelity: float = 1.0
    # Share of the retrieved items that answer the question which the answer cites (None: not measured).
    completeness: float | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    query: Query | None = None

    @property
    def unsupported(self) -> list[str]:
        return [check.sentence for check in self.checks if not check.supported]
