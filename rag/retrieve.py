"""Hybrid retrieval: dense (Chroma) + BM25 (jieba tokens), fused by reciprocal rank, one hit per item.

What a question needs is read from the catalog by id (the candidates' chunks and items); the BM25
index and the evidence weights are the persisted lexical indexes, kept in step with the catalog's
version, so an ingest by another process is seen on the next question and only its files reload.
"""

from __future__ import annotations

import threading
from functools import cached_property

from ingest.embedder import EmbeddingServiceError
from ingest.index import Index
from ingest.lexical import Bm25Index, LexicalIndexes, LexicalSnapshot
from ingest.records import Item
from ingest.store import VectorStore, date_range_filter
from rag.evidence import TermWeights
from rag.fusion import interleave, reciprocal_rank_fusion
from rag.records import Hit, Query

__all__ = ["Bm25Index", "Retriever"]

DENSE_UNAVAILABLE = "向量检索暂不可用，本次只用关键词检索（{error}）"


class Retriever:
    def __init__(self, index: Index, candidates: int = 40, reranker: str = "") -> None:
        self.index = index
        self.candidates = candidates
        self._reranker_name = reranker
        self._lock = threading.Lock()
        self._weights: tuple[LexicalSnapshot, TermWeights] | None = None
        self._store_version: int | None = None  # the catalog version the vector store was opened at
        self._lexical = LexicalIndexes(index.catalog, index.settings.index_dir / "lexical")

    def _snapshot(self) -> LexicalSnapshot:
        """The lexical indexes as of the catalog's current version (one small query when nothing changed)."""
        return self._lexical.current()

    def refresh(self) -> None:
        """Catch up with the catalog now (e.g. right after an upload); questions also do it themselves."""
        self._snapshot()

    def warm_up(self) -> None:
        """Load what the first question would otherwise wait for: the indexes, the vector store, the query encoder."""
        self._vector_store(self._snapshot().version).count()
        try:
            self.index.embedder.embed_query("预热")
        except EmbeddingServiceError:
            pass  # questions fall back to BM25 and say so

    @cached_property
    def _reranker(self):
        if not self._reranker_name:
            return None
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import CrossEncoder

        return CrossEncoder(self._reranker_name, device="cpu")

    def retrieve(self, query: Query, k: int = 5, notices: list[str] | None = None) -> list[Hit]:
        """Top-k items for the query; a multi-part query retrieves each part and interleaves them.

        `notices` (if given) receives what the user should know about this retrieval, in Chinese.
        """
        if k <= 0:
            raise ValueError("k must be at least 1")
        if query.sub_questions:
            per_part = [self._retrieve_one(part, k, notices) for part in query.sub_questions]
            by_id = {hit.item.item_id: hit for hits in per_part for hit in hits}
            order = interleave([[h.item.item_id for h in hits] for hits in per_part], k * len(per_part))
            return [by_id[item_id] for item_id in order]
        return self._retrieve_one(query, k, notices)

    def _retrieve_one(self, query: Query, k: int, notices: list[str] | None = None) -> list[Hit]:
        snapshot = self._snapshot()
        bm25 = snapshot.chunks
        dense_ids = [m.chunk_id for m in self._dense(query, snapshot.version, notices)]
        lexical_ids = bm25.search(query.text, self.candidates, query.date_from, query.date_to)
        chunks_by_id = self.index.catalog.chunks_by_id([*dense_ids, *lexical_ids])
        dense = [cid for cid in dense_ids if cid in chunks_by_id]  # the catalog decides what is current
        lexical = [cid for cid in lexical_ids if cid in chunks_by_id]
        items = self.index.catalog.items_by_id(c.item_id for c in chunks_by_id.values())
        fused = reciprocal_rank_fusion([dense, lexical])
        dense_rank = {cid: rank for rank, cid in enumerate(dense, start=1)}
        bm25_rank = {cid: rank for rank, cid in enumerate(lexical, start=1)}
        hits: dict[str, Hit] = {}
        for chunk_id, score in fused:
            chunk = chunks_by_id[chunk_id]
            if chunk.item_id in hits or chunk.item_id not in items:
                continue  # the item's best chunk already represents it
            hits[chunk.item_id] = Hit(items[chunk.item_id], score, chunk.text, dense_rank.get(chunk_id), bm25_rank.get(chunk_id))
        ranked = list(hits.values())
        if self._reranker is not None and ranked:
            ranked = self._rerank(query.text, ranked[: max(k * 4, 20)])
        return ranked[:k]

    def _dense(self, query: Query, version: int, notices: list[str] | None):
        """Vector matches; when the embeddings server fails, none (BM25 alone answers) and a notice says so."""
        try:
            vector = self.index.embedder.embed_query(query.text)
        except EmbeddingServiceError as error:
            notice = DENSE_UNAVAILABLE.format(error=error)
            if notices is not None and notice not in notices:
                notices.append(notice)
            return []
        return self._vector_store(version).search(vector, self.candidates, date_range_filter(query.date_from, query.date_to))

    def _vector_store(self, version: int) -> VectorStore:
        """The vector store, reopened when another process changed the catalog since it was opened."""
        with self._lock:
            if self._store_version is None:
                self._store_version = version
            elif version > self._store_version:
                if self.index.catalog.written_elsewhere(self._store_version, version):
                    self.index.reopen_store()
                self._store_version = version
        return self.index.store

    def _rerank(self, text: str, hits: list[Hit]) -> list[Hit]:
        scores = self._reranker.predict([(text, hit.chunk_text) for hit in hits])
        order = sorted(range(len(hits)), key=lambda i: -float(scores[i]))
        return [hits[i] for i in order]

    def items(self) -> dict[str, Item]:
        """Every item of the corpus (a whole read: questions use the catalog by id instead)."""
        return {item.item_id: item for item in self.index.catalog.items()}

    @property
    def term_weights(self) -> TermWeights:
        """Evidence weights from the item terms indexed at ingest, as of the catalog's current version."""
        snapshot = self._snapshot()
        with self._lock:
            if self._weights is None or self._weights[0] is not snapshot:
                self._weights = (snapshot, TermWeights(presence=snapshot.item_terms))
            return self._weights[1]
