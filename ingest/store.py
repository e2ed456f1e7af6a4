"""The one module that talks to Chroma: embedded (PersistentClient) or a server by URL.

Chroma never embeds anything itself here (its default embedding function downloads a model): we
always pass our own vectors. Metadata carries what queries filter on; dates are integers (20230728)
and months too (202307) because Chroma's range operators only compare numbers.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ingest.records import Chunk, Item

_ADD_BATCH = 500
_MAX_IDS_OVER_HTTP = 5000
# Closer similarities than this may come out in another order from Chroma's own arithmetic.
_TIE = 1e-5


@dataclass(frozen=True)
class VectorMatch:
    chunk_id: str
    item_id: str
    similarity: float


def date_to_int(iso: str | None) -> int:
    return int(iso.replace("-", "")) if iso else 0


def filter_span(item: Item, period: str = "") -> tuple[int, int]:
    """The (first, last) day an item counts for in period filters, as integers; (0, 0) when undated.

    An item's own date wins. An item without one counts for its document's period: a bulletin item
    dated only by its month ("7月，…", "近日") spans the bulletin's month, and an item of a dated
    notice or article its document's day (or month). A report's period is the day it was delivered,
    not when its contents happened: its undated items stay undated.
    """
    if item.date:
        return date_to_int(item.date), date_to_int(item.date_end or item.date)
    if item.kind == "report" or not period:
        return 0, 0
    if re.fullmatch(r"\d{4}-\d{2}", period):
        month = int(period.replace("-", ""))
        return month * 100 + 1, month * 100 + 31
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", period):
        return date_to_int(period), date_to_int(period)
    return 0, 0


def chunk_metadata(chunk: Chunk, item: Item, period: str = "") -> dict[str, Any]:
    first, last = filter_span(item, period)
    return {
        "item_id": item.item_id,
        "file": item.file,
        "kind": item.kind,
        "section": item.section,
        "title": item.title,
        "position": item.position,
        "date": first,
        "date_end": last,
        "day_precise": item.date is not None,
        "month": first // 100,
    }


def needs_day_precision(date_from: str | None, date_to: str | None) -> bool:
    """A period shorter than a whole month ("12月5日", "7月下旬") must not match items dated only by month."""
    if not (date_from and date_to):
        return False
    return not (date_from.endswith("-01") and int(date_to[8:10]) >= 28) and date_from[:7] == date_to[:7]


def date_range_filter(date_from: str | None, date_to: str | None) -> dict[str, Any] | None:
    """A Chroma `where` for items whose date span overlaps [date_from, date_to] (both inclusive)."""
    conditions: list[dict[str, Any]] = []
    if date_from:
        conditions.append({"date_end": {"$gte": date_to_int(date_from)}})
    if date_to:
        conditions.append({"date": {"$lte": date_to_int(date_to)}})
    if date_from or date_to:
        conditions.append({"date": {"$gt": 0}})  # undated items (the reports) never match a period
    if needs_day_precision(date_from, date_to):
        conditions.append({"day_precise": True})
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


class VectorStore:
    def __init__(self, path: Path, collection: str, embedder_name: str, url: str = "") -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.url = url
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if url:
            parsed = urlparse(url if "://" in url else f"http://{url}")
            if not parsed.hostname:
                raise ValueError(f"HELUO_CHROMA_URL={url!r} is not a URL like http://127.0.0.1:8000")
            self._client = chromadb.HttpClient(
                host=parsed.hostname, port=parsed.port or 8000, ssl=parsed.scheme == "https", settings=chroma_settings
            )
        else:
            path.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        # One collection per embedder: vectors of different models must never be mixed.
        suffix = hashlib.sha256(embedder_name.encode()).hexdigest()[:8]
        self.collection_name = f"{collection}_{suffix}"
        self._collection = self._client.get_or_create_collection(
            self.collection_name, metadata={"hnsw:space": "cosine", "embedder": embedder_name}, embedding_function=None
        )

    def ids(self) -> set[str]:
        return set(self._collection.get(include=[])["ids"])

    def count(self) -> int:
        return self._collection.count()

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray, items: dict[str, Item], periods: Mapping[str, str]) -> None:
        """Write chunks with their vectors; `periods` maps a file to its document period (for filter spans)."""
        for start in range(0, len(chunks), _ADD_BATCH):
            batch = chunks[start : start + _ADD_BATCH]
            # No documents: the catalog holds the texts, and Chroma would build a full-text index of
            # them (measured: 3.6x the write time and 5x the disk for 500-character Chinese chunks).
            self._collection.upsert(
                ids=[c.chunk_id for c in batch],
                embeddings=vectors[start : start + _ADD_BATCH],
                metadatas=[chunk_metadata(c, items[c.item_id], periods.get(c.file, "")) for c in batch],
            )

    def delete(self, chunk_ids: Sequence[str]) -> None:
        ids = list(chunk_ids)
        for start in range(0, len(ids), _ADD_BATCH):
            self._collection.delete(ids=ids[start : start + _ADD_BATCH])

    def search(self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None, ids: Sequence[str] | None = None) -> list[VectorMatch]:
        """The n nearest chunks, among those `where` selects; `ids`, when given, are exactly the chunks
        `where` selects (from the lexical index's spans): Chroma then looks them up by id instead of
        scanning every chunk's metadata (measured at 5,000 items: 8-14 ms CPU against 43-73 ms), the
        same nearest neighbours. An id Chroma lacks (another process's write in flight) falls back to `where`."""
        if n <= 0:
            return []
        if ids is not None and self._ids_worth_sending(len(ids)):
            from chromadb.errors import ChromaError

            if not ids:
                return []
            try:
                return self._all_by_distance(vector, ids) if len(ids) <= n else self._query(vector, n, ids=list(ids))
            except (ChromaError, KeyError):
                pass
        return self._query(vector, n, where=where)

    def _all_by_distance(self, vector: np.ndarray, ids: Sequence[str]) -> list[VectorMatch]:
        """All of `ids`, nearest first: what the index returns when it holds no more than n of them,
        computed here. Chroma's filtered graph search cannot fill n from so few, so it visits every
        node (measured at 50,000 items: 72 ms for 13 ids of one day, 39 ms for 48,619 ids)."""
        found = self._collection.get(ids=list(ids), include=["embeddings", "metadatas"])
        by_id = dict(zip(found["ids"], zip(found["embeddings"], found["metadatas"])))
        vectors = np.asarray([by_id[chunk_id][0] for chunk_id in ids], dtype=np.float32)  # KeyError: not in Chroma (yet)
        similarity = (vectors @ vector) / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(vector))
        order = np.argsort(-similarity, kind="stable")
        if len(order) > 1 and np.min(np.diff(similarity[order[::-1]])) < _TIE:
            return self._query(vector, len(ids), ids=list(ids))  # (near) ties: the index's own order decides
        return [VectorMatch(ids[i], by_id[ids[i]][1]["item_id"], float(similarity[i])) for i in order]

    def _ids_worth_sending(self, count: int) -> bool:
        # To a server every id travels with every question: beyond a few thousand, its filter is cheaper.
        return not self.url or count <= _MAX_IDS_OVER_HTTP

    def _query(self, vector: np.ndarray, n: int, **selection: Any) -> list[VectorMatch]:
        # An empty collection answers with no match (no count() first: it costs as much as a search).
        result = self._collection.query(query_embeddings=[vector.tolist()], n_results=n, include=["metadatas", "distances"], **selection)
        return [
            VectorMatch(chunk_id, metadata["item_id"], 1.0 - float(distance))
            for chunk_id, metadata, distance in zip(result["ids"][0], result["metadatas"][0], result["distances"][0])
            if metadata is not None  # a vector deleted by another process, still in this one's index
        ]

    def get_metadata(self, where: dict[str, Any]) -> list[dict[str, Any]]:
        return self._collection.get(where=where, include=["metadatas"])["metadatas"]
