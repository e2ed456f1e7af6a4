"""The outside sets' baseline: plain BM25 over whole articles, answered by the same extractive picker.

One document per file (no parsing, no chunks: the article is the unit), tokens from the project's
one tokenizer (`ingest.textutil.tokenize`, rjieba search mode), scores by bm25s with its defaults.
The answer is the shared extractive picker over the top articles, as for the naive baseline
(`eval.naive`), and it never refuses: there is no evidence gate in a baseline. Each article is
wrapped in an Item so that the picker, the verifier and the harness take it unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from eval.naive import baseline_answer
from ingest.records import Item, content_hash
from ingest.textutil import tokenize
from rag.extractive import extractive_answer
from rag.records import Answer, Hit

TOP_K = 5
# The same number of sources the naive baseline's extractive answer quotes (eval.naive).
EXTRACTIVE_SOURCES = 3
_TITLE_CHARS = 60


def article_item(file: str, text: str, position: int = 0) -> Item:
    first = next((line.strip() for line in text.splitlines() if line.strip()), file)
    return Item(
        item_id=f"article:{file}#{content_hash(text, length=10)}",
        file=file,
        kind="generic",
        position=position,
        section="",
        title=first[:_TITLE_CHARS],
        text=text,
        line_start=1,
        line_end=text.count("\n") + 1,
    )


class ArticleBm25:
    """Index whole articles once (`texts`: file name -> text), then `retrieve` / `ask` like the other systems."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        import bm25s

        if not texts:
            raise ValueError("没有文章可供检索：the corpus folder holds no readable .txt/.md file")
        self.articles = [article_item(file, text, n) for n, (file, text) in enumerate(sorted(texts.items()))]
        self._bm25 = bm25s.BM25()
        self._bm25.index([tokenize(item.text) or ["\u0000"] for item in self.articles], show_progress=False)

    def retrieve(self, question: str, k: int = TOP_K) -> list[Hit]:
        tokens = tokenize(question)
        if not tokens:
            return []
        scores = self._bm25.get_scores(tokens)
        order = sorted(range(len(self.articles)), key=lambda i: (-float(scores[i]), i))[:k]
        return [Hit(self.articles[i], float(scores[i]), self.articles[i].text, bm25_rank=rank)
                for rank, i in enumerate(order, start=1) if scores[i] > 0]

    def ask(self, question: str, llm: str = "extractive") -> Answer:
        if llm != "extractive":
            raise ValueError(f"bm25 基线只支持 extractive 生成 (got {llm!r}); use bm25-extractive")
        started = time.perf_counter()
        hits = self.retrieve(question)
        retrieve_ms = _ms(started)
        sources: Sequence[tuple[int, Item]] = [(n, hit.item) for n, hit in enumerate(hits[:EXTRACTIVE_SOURCES], start=1)]
        answer = baseline_answer(question, extractive_answer(question, list(sources)) if sources else "", sources, llm)
        answer.retrieved = hits
        answer.timings_ms = {"retrieve": retrieve_ms, "generate": _ms(started) - retrieve_ms, "total": _ms(started)}
        return answer


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


__all__ = ["ArticleBm25", "TOP_K", "article_item"]
