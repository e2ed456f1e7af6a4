"""Which generator answers: the rule for `auto`, the chat model behind each LLM name, and what a
failure of that model means in words a user understands.

`extractive` needs no chat model; `local` and `openai` are built lazily so that importing this
module stays cheap. `hybrid` answers extractively at once and asks an LLM (the configured endpoint,
else the local model) for a lead sentence after.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from rag.settings import Settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

LLM_NAMES = ("extractive", "local", "openai", "hybrid")
_SERVER_DOWN_STATUSES = frozenset({502, 503, 504})


class LlmUnavailable(RuntimeError):
    """The requested generator cannot run here; the message says what to install or configure."""


class LlmTimeout(TimeoutError):
    """The model sent no text within the first-text timeout, or stopped sending it."""


class LlmBusy(LlmTimeout):
    """The model was busy with another answer for the whole first-text timeout."""


class EmptyAnswer(RuntimeError):
    """The model ended without writing anything."""


def resolve_llm_name(requested: str | None, settings: Settings) -> str:
    """The generator to use for a request ("auto" or None: the setting, then the rule below).

    auto: openai when an endpoint is configured, else hybrid when the local model is installed
    (the extractive answer at once, the local model's lead sentence after: on the eval set as
    complete and faithful as extractive, where the 1.5B model's own answers are neither, and the
    first text as fast; see the README), else extractive. An explicit name is honoured or fails
    with LlmUnavailable.
    """
    from rag.llm_local import INSTALL_HINT, local_model_available
    from rag.llm_openai import NOT_CONFIGURED, openai_configured

    name = (requested or settings.llm or "auto").strip().lower()
    if name == "auto":
        if openai_configured(settings):
            return "openai"
        if local_model_available(settings):
            return "hybrid"
        return "extractive"
    if name not in LLM_NAMES:
        raise ValueError(f"未知的生成器 {name!r}：请选择 auto、{'、'.join(LLM_NAMES)} 之一。")
    if name == "openai" and not openai_configured(settings):
        raise LlmUnavailable(NOT_CONFIGURED)
    if name == "hybrid" and not (openai_configured(settings) or local_model_available(settings)):
        raise LlmUnavailable(INSTALL_HINT)
    if name == "local" and not local_model_available(settings):
        if settings.local_model:
            raise LlmUnavailable(
                f"HELUO_LOCAL_MODEL 指向的文件不存在：{settings.local_model}。 / "
                f"HELUO_LOCAL_MODEL points to a missing file: {settings.local_model}."
            )
        raise LlmUnavailable(INSTALL_HINT)
    return name


def chat_backend(name: str, settings: Settings) -> str:
    """The chat model a resolved generator runs on ("hybrid": the endpoint when configured, else local)."""
    if name != "hybrid":
        return name
    from rag.llm_openai import openai_configured

    return "openai" if openai_configured(settings) else "local"


def llm_label(backend: str) -> str:
    """The chat model's name in notices users read."""
    return {"local": "本地模型", "openai": "大模型接口"}.get(backend, backend)


def get_chat_model(name: str, settings: Settings) -> BaseChatModel:
    """The chat model for a resolved LLM name ("local" assembles its model file on first use)."""
    if name == "openai":
        from rag.llm_openai import make_openai_chat

        return make_openai_chat(settings)
    if name == "local":
        from rag.llm_local import make_local_chat

        return make_local_chat(settings)
    raise ValueError(
        f"{name!r} 没有对应的语言模型：只有 local 和 openai 有；请先用 resolve_llm_name 决定生成器。"
    )


def is_connection_error(exc: BaseException) -> bool:
    """True when `exc` means the LLM server could not be reached or timed out (so fall back).

    Looks through the exception's causes, since clients wrap the socket error (httpx inside openai
    inside langchain).
    """
    import httpx
    import openai
    from langchain_core.exceptions import ModelConnectionError, ModelTimeoutError

    reachability_errors = (
        openai.APIConnectionError,  # includes APITimeoutError
        ModelConnectionError,
        ModelTimeoutError,
        httpx.TransportError,  # connect/read timeouts, refused connections, broken streams
        ConnectionError,
        TimeoutError,
        socket.gaierror,
    )
    for current in _causes(exc):
        if isinstance(current, reachability_errors):
            return True
        if isinstance(current, openai.APIStatusError) and current.status_code in _SERVER_DOWN_STATUSES:
            return True
    return False


def describe_failure(exc: BaseException) -> str:
    """What went wrong with the LLM, in Chinese, for the notice that goes with the fallback answer."""
    import json

    import httpx
    import openai

    chain = _causes(exc)
    if any(isinstance(e, LlmBusy) for e in chain):
        return "正忙于其他回答"
    if any(isinstance(e, (LlmTimeout, TimeoutError, httpx.TimeoutException, openai.APITimeoutError)) for e in chain):
        return "响应超时"
    for error in chain:
        if isinstance(error, openai.APIStatusError):
            return f"返回错误（HTTP {error.status_code}）"
    if any(isinstance(e, EmptyAnswer) for e in chain):
        return "没有返回任何内容"
    unreadable = (httpx.RemoteProtocolError, httpx.DecodingError, json.JSONDecodeError, UnicodeDecodeError, openai.APIResponseValidationError)
    if any(isinstance(e, unreadable) for e in chain):
        return "返回的数据不完整或无法解析"
    if is_connection_error(exc):
        return "无法连接"
    if any(isinstance(e, LlmUnavailable) for e in chain):
        return f"不可用：{exc}"
    return f"出错（{type(chain[-1]).__name__}）"


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it was raised from, each once."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain
