"""Hybrid retrieval: dense (Chroma) + BM25 (jieba tokens), fused by reciprocal rank, one hit per item."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ingest.index import Index
from ingest.records import Chunk, Item
from ingest.store import date_range_filter, date_to_int, filter_span, needs_day_precision
from ingest.textutil import tokenize
from rag.evidence import TermWeights
from rag.fusion import interleave, reciprocal_rank_fusion
from rag.records import Hit, Query


@dataclass(frozen=True)
class _ChunkRow:
    chunk: Chunk
    date: int
    date_end: int


class Bm25Index:
    """BM25 over all current chunks, built in memory from the catalog (a fraction of a second)."""

    def __init__(self, chunks: Sequence[Chunk], items: dict[str, Item], periods: Mapping[str, str]) -> None:
        import bm25s

        self.rows = [_ChunkRow(c, *filter_span(items[c.item_id], periods.get(c.file, ""))) for c in chunks if c.item_id in items]
        self._dates = np.array([r.date for r in self.rows], dtype=np.int64)
        self._date_ends = np.array([r.date_end for r in self.rows], dtype=np.int64)
        self._day_precise = np.array([items[r.chunk.item_id].date is not None for r in self.rows], dtype=bool)
        self._bm25 = bm25s.BM25()
        if self.rows:
            self._bm25.index([tokenize(r.chunk.text) or ["\u0000"] for r in self.rows], show_progress=False)

    def search(self, text: str, n: int, date_from: str | None = None, date_to: str | None = None) -> list[Chunk]:
        tokens = tokenize(text)
        if not self.rows or not tokens:
            return []
        scores = self._bm25.get_scores(tokens)
        mask = np.ones(len(self.rows), dtype=bool)
        if date_from or date_to:
            mask &= self._dates > 0
        if date_from:
            mask &= self._date_ends >= date_to_int(date_from)
        if date_to:
            mask &= self._dates <= date_to_int(date_to)
        if needs_day_precision(date_from, date_to):
            mask &= self._day_precise
        scores = np.where(mask & (scores > 0), scores, -1.0)
        order = np.argsort(-scores, kind="stable")[:n]
        return [self.rows[i].chunk for i in order if scores[i] > 0]


class Retriever:
    def __init__(self, index: Index, candidates: int = 40, reranker: str = "") -> None:
        self.index = index
        self.candidates = candidates
        self._reranker_name = reranker
        self._lock = threading.Lock()

    @cached_property
    def _state(self) -> tuple[Bm25Index, dict[str, Chunk], dict[str, Item]]:
        items = {item.item_id: item for item in self.index.catalog.items()}
        chunks = self.index.catalog.chunks()
        periods = {d.file: d.period for d in self.index.catalog.documents()}
        return Bm25Index(chunks, items, periods), {c.chunk_id: c for c in chunks}, items

    def refresh(self) -> None:
        """Forget the in-memory BM25 and item maps after the index changed (e.g. an upload)."""
        with self._lock:
            self.__dict__.pop("_state", None)
            self.__dict__.pop("term_weights", None)

    @cached_property
    def _reranker(self):
        if not self._reranker_name:
            return None
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import CrossEncoder

        return CrossEncoder(self._reranker_name, device="cpu")

    def retrieve(self, query: Query, k: int = 5) -> list[Hit]:
        """Top-k items for the query; a multi-part query retrieves each part and interleaves them."""
        if k <= 0:
            raise ValueError("k must be at least 1")
        if query.sub_questions:
            per_part = [self._retrieve_one(part, k) for part in query.sub_questions]
            by_id = {hit.item.item_id: hit for hits in per_part for hit in hits}
            order = interleave([[h.item.item_id for h in hits] for hits in per_part], k * len(per_part))
            return [by_id[item_id] for item_id in order]
        return self._retrieve_one(query, k)

    def _retrieve_one(self, query: Query, k: int) -> list[Hit]:
        with self._lock:
            bm25, chunks_by_id, items = self._state
        dense_matches = self.index.store.search(
            self.index.embedder.embed_query(query.text), self.candidates, date_range_filter(query.date_from, query.date_to)
        )
        dense = [m.chunk_id for m in dense_matches if m.chunk_id in chunks_by_id]  # catalog decides what is current
        lexical = [c.chunk_id for c in bm25.search(query.text, self.candidates, query.date_from, query.date_to)]
        fused = reciprocal_rank_fusion([dense, lexical])
        dense_rank = {cid: rank for rank, cid in enumerate(dense, start=1)}
        bm25_rank = {cid: rank for rank, cid in enumerate(lexical, start=1)}
        hits: dict[str, Hit] = {}
        for chunk_id, score in fused:
            chunk = chunks_by_id[chunk_id]
            if chunk.item_id in hits:
                continue  # the item's best chunk already represents it
            hits[chunk.item_id] = Hit(items[chunk.item_id], score, chunk.text, dense_rank.get(chunk_id), bm25_rank.get(chunk_id))
        ranked = list(hits.values())
        if self._reranker is not None and ranked:
            ranked = self._rerank(query.text, ranked[: max(k * 4, 20)])
        return ranked[:k]

    def _rerank(self, text: str, hits: list[Hit]) -> list[Hit]:
        scores = self._reranker.predict([(text, hit.chunk_text) for hit in hits])
        order = sorted(range(len(hits)), key=lambda i: -float(scores[i]))
        return [hits[i] for i in order]

    def items(self) -> dict[str, Item]:
        with self._lock:
            return self._state[2]

    @cached_property
    def term_weights(self) -> TermWeights:
        return TermWeights(f"{item.title} {item.text}" for item in self.items().values())
