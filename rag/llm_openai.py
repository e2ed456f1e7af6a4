"""Any OpenAI-compatible chat endpoint: DeepSeek, Qwen/DashScope, vLLM, Ollama's /v1, llama.cpp server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.llms import LlmUnavailable
from rag.settings import Settings

if TYPE_CHECKING:
    from langchain_openai import ChatOpenAI

NOT_CONFIGURED = (
    "未配置 OpenAI 兼容接口：请设置 HELUO_OPENAI_BASE_URL（如 http://127.0.0.1:11434/v1）和 "
    "HELUO_OPENAI_MODEL，需要时再设置 HELUO_OPENAI_API_KEY。 / "
    "No OpenAI-compatible endpoint is configured: set HELUO_OPENAI_BASE_URL and HELUO_OPENAI_MODEL "
    "(and HELUO_OPENAI_API_KEY if the server needs one)."
)

# Local servers (Ollama, vLLM, llama.cpp) ignore the key, but the client refuses to start without one.
_PLACEHOLDER_KEY = "not-needed"
_CONNECT_SECONDS = 5.0


def openai_configured(settings: Settings) -> bool:
    """A model name plus somewhere to send it: a base URL, or a key for the official API."""
    has_target = bool(settings.openai_base_url.strip() or settings.openai_api_key.strip())
    return bool(settings.openai_model.strip()) and has_target


def make_openai_chat(settings: Settings) -> ChatOpenAI:
    """A streaming chat model for the configured endpoint.

    No retries, and a read timeout of `first_token_timeout`: a server that is down, hung or slow to
    start answering costs one timeout before the answer falls back, not the client's default
    backoff over several attempts.
    """
    if not openai_configured(settings):
        raise LlmUnavailable(NOT_CONFIGURED)
    import httpx
    from langchain_openai import ChatOpenAI  # about a second to import: only when it is used

    wait = settings.first_token_timeout
    return ChatOpenAI(
        model=settings.openai_model.strip(),
        base_url=settings.openai_base_url.strip() or None,
        api_key=settings.openai_api_key.strip() or _PLACEHOLDER_KEY,
        timeout=httpx.Timeout(wait, connect=min(wait, _CONNECT_SECONDS)),
        max_retries=0,
        streaming=True,
        temperature=0.0,
        max_tokens=settings.max_answer_tokens,
    )
