"""The extractive generator: no LLM, the supporting sentences of the best items, cited. Always grounded."""

from __future__ import annotations

from collections.abc import Sequence

from ingest.records import Item
from ingest.textutil import split_sentences, tokenize
from rag.records import Intent

_MAX_SENTENCES = 6


def sentence_overlap(question_tokens: set[str], sentence: str) -> float:
    """Share of the question's content tokens that the sentence contains."""
    if not question_tokens:
        return 0.0
    tokens = set(tokenize(sentence))
    return len(question_tokens & tokens) / len(question_tokens)


def best_sentences(question: str, item: Item, limit: int = 2) -> list[str]:
    """The item's sentences that best match the question, in document order; the lead if none match."""
    question_tokens = set(tokenize(question))
    sentences = [s for s in split_sentences(item.text) if len(s) >= 6]
    if not sentences:
        return [item.text.strip()] if item.text.strip() else []
    scored = sorted(range(len(sentences)), key=lambda i: (-sentence_overlap(question_tokens, sentences[i]), i))
    chosen = [i for i in scored[:limit] if sentence_overlap(question_tokens, sentences[i]) > 0]
    return [sentences[i] for i in sorted(chosen)] or sentences[:1]


def extractive_answer(question: str, sources: Sequence[tuple[int, Item]], intent: Intent = "answer") -> str:
    """Bulleted sentences copied verbatim from the sources, each followed by its citation [n]."""
    lines: list[str] = []
    per_item = 1 if intent == "list" or len(sources) > 3 else 2
    for n, item in sources:
        for sentence in best_sentences(question, item, per_item):
            lines.append(f"- {sentence}[{n}]")
            if len(lines) >= _MAX_SENTENCES:
                break
        if len(lines) >= _MAX_SENTENCES:
            break
    if not lines:
        return ""
    return "根据资料：\n" + "\n".join(lines)
