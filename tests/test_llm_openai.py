"""The openai backend against a real OpenAI-compatible HTTP server (a standard-library stub), and the
rule that picks a generator."""

from __future__ import annotations

import json
import socket

import httpx
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from rag import llm_local
from rag.llm_openai import make_openai_chat, openai_configured
from rag.llms import LlmUnavailable, chat_backend, describe_failure, get_chat_model, is_connection_error, resolve_llm_name
from rag.settings import Settings

ANSWER_PIECES = ["2020年，", "洛阳市地区生产总值", "达到5128.4亿元", "[1]。"]
ANSWER = "".join(ANSWER_PIECES)


class _StubOpenAI(BaseHTTPRequestHandler):
    """Answers /v1/chat/completions like an OpenAI-compatible server and records each request."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if self.path != "/v1/chat/completions":
            self.send_error(404)
            return
        if body.get("stream"):
            self._stream(body["model"])
        else:
            self._complete(body["model"])

    def _complete(self, model: str) -> None:
        payload = {
            "id": "chatcmpl-stub",
            "object": "chat.completion",
            "created": 1700000000,
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42},
        }
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, model: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        deltas = [{"role": "assistant", "content": ""}] + [{"content": piece} for piece in ANSWER_PIECES]
        for index, delta in enumerate(deltas):
            last = index == len(deltas) - 1
            self._event(
                {
                    "id": "chatcmpl-stub",
                    "object": "chat.completion.chunk",
                    "created": 1700000000,
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": "stop" if last else None}],
                }
            )
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _event(self, payload: dict) -> None:
        self.wfile.write(b"data: " + json.dumps(payload, ensure_ascii=False).encode("utf-8") + b"\n\n")
        self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def stub_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubOpenAI)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def clean_env(monkeypatch):
    """Settings come only from the test: no HELUO_* variables, no .env file."""
    import os

    for name in list(os.environ):
        if name.startswith("HELUO_") or name.startswith("OPENAI_"):
            monkeypatch.delenv(name)


def make_settings(tmp_path: Path, **overrides) -> Settings:
    return Settings(_env_file=None, home=tmp_path / "home", **overrides)


def endpoint_settings(tmp_path: Path, base_url: str, **overrides) -> Settings:
    values = {"openai_base_url": base_url, "openai_model": "qwen-plus", "openai_api_key": "sk-test-123"}
    values.update(overrides)
    return make_settings(tmp_path, **values)


def closed_port() -> int:
    """A loopback port nothing listens on: bound by the OS, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


QUESTION = [
    SystemMessage(content="你是河洛问答助手，只根据资料回答，并标注出处。"),
    HumanMessage(content="资料：[1] 全市地区生产总值达到5128.4亿元。\n问题：2020年洛阳市地区生产总值是多少？"),
]


def test_invoke_returns_the_servers_answer(stub_server, tmp_path, clean_env):
    settings = endpoint_settings(tmp_path, f"http://127.0.0.1:{stub_server.server_port}/v1")

    reply = make_openai_chat(settings).invoke(QUESTION)

    assert reply.content == ANSWER


def test_stream_yields_several_chunks_that_join_to_the_answer(stub_server, tmp_path, clean_env):
    settings = endpoint_settings(tmp_path, f"http://127.0.0.1:{stub_server.server_port}/v1")

    chunks = [chunk.content for chunk in make_openai_chat(settings).stream(QUESTION)]

    assert len([text for text in chunks if text]) == len(ANSWER_PIECES)
    assert "".join(chunks) == ANSWER
    assert stub_server.requests[-1]["body"]["stream"] is True


def test_request_carries_model_messages_and_key(stub_server, tmp_path, clean_env):
    settings = endpoint_settings(tmp_path, f"http://127.0.0.1:{stub_server.server_port}/v1", max_answer_tokens=77)

    make_openai_chat(settings).invoke(QUESTION)

    (request,) = stub_server.requests
    body = request["body"]
    headers = {name.lower(): value for name, value in request["headers"].items()}
    assert request["path"] == "/v1/chat/completions"
    assert body["model"] == "qwen-plus"
    assert body["messages"] == [
        {"role": "system", "content": QUESTION[0].content},
        {"role": "user", "content": QUESTION[1].content},
    ]
    assert headers["authorization"] == "Bearer sk-test-123"
    assert body["temperature"] == 0
    assert body.get("max_tokens", body.get("max_completion_tokens")) == 77


def test_a_server_without_a_key_still_gets_a_request(stub_server, tmp_path, clean_env):
    settings = endpoint_settings(tmp_path, f"http://127.0.0.1:{stub_server.server_port}/v1", openai_api_key="")

    assert make_openai_chat(settings).invoke(QUESTION).content == ANSWER


@pytest.mark.timeout(30)
def test_a_down_server_fails_with_a_connection_error(tmp_path, clean_env):
    settings = endpoint_settings(tmp_path, f"http://127.0.0.1:{closed_port()}/v1", first_token_timeout=5)
    model = make_openai_chat(settings)

    with pytest.raises(Exception) as invoked:
        model.invoke(QUESTION)
    with pytest.raises(Exception) as streamed:
        list(model.stream(QUESTION))

    assert is_connection_error(invoked.value)
    assert is_connection_error(streamed.value)


def test_is_connection_error_rejects_ordinary_errors():
    assert not is_connection_error(ValueError("bad question"))
    assert not is_connection_error(LlmUnavailable("not configured"))
    wrapped = RuntimeError("chain failed")
    wrapped.__cause__ = ConnectionRefusedError("refused")
    assert is_connection_error(wrapped)


@pytest.mark.parametrize(
    ("base_url", "model", "key", "configured"),
    [
        ("http://127.0.0.1:11434/v1", "qwen2.5", "", True),
        ("", "deepseek-chat", "sk-1", True),
        ("http://127.0.0.1:11434/v1", "", "sk-1", False),
        ("", "deepseek-chat", "", False),
        ("  ", "  ", "", False),
    ],
)
def test_openai_configured(tmp_path, clean_env, base_url, model, key, configured):
    settings = make_settings(tmp_path, openai_base_url=base_url, openai_model=model, openai_api_key=key)
    assert openai_configured(settings) is configured


def test_make_openai_chat_refuses_without_configuration(tmp_path, clean_env):
    with pytest.raises(LlmUnavailable, match="HELUO_OPENAI_BASE_URL"):
        make_openai_chat(make_settings(tmp_path))


class TestResolveLlmName:
    @pytest.fixture
    def parts(self, monkeypatch):
        """Pretend the local model parts are (or are not) installed."""

        def set_installed(installed: bool) -> None:
            monkeypatch.setattr(llm_local, "parts_installed", lambda: installed)

        return set_installed

    def test_auto_prefers_a_configured_endpoint(self, tmp_path, clean_env, parts):
        parts(True)
        settings = endpoint_settings(tmp_path, "http://127.0.0.1:8000/v1")
        assert resolve_llm_name("auto", settings) == "openai"
        assert resolve_llm_name(None, settings) == "openai"

    def test_auto_uses_the_local_model_for_hybrid_answers_when_its_parts_are_installed(self, tmp_path, clean_env, parts):
        parts(True)
        settings = make_settings(tmp_path)
        assert resolve_llm_name(None, settings) == "hybrid"
        assert chat_backend("hybrid", settings) == "local"

    def test_auto_uses_an_explicit_model_file(self, tmp_path, clean_env, parts):
        parts(False)
        model_file = tmp_path / "my.gguf"
        model_file.write_bytes(b"GGUF")
        assert resolve_llm_name("auto", make_settings(tmp_path, local_model=str(model_file))) == "hybrid"

    def test_hybrid_leads_with_a_configured_endpoint(self, tmp_path, clean_env, parts):
        parts(False)
        settings = endpoint_settings(tmp_path, "http://127.0.0.1:8000/v1")
        assert resolve_llm_name("hybrid", settings) == "hybrid" and chat_backend("hybrid", settings) == "openai"
        with pytest.raises(LlmUnavailable):
            resolve_llm_name("hybrid", make_settings(tmp_path))

    def test_auto_falls_back_to_extractive(self, tmp_path, clean_env, parts):
        parts(False)
        assert resolve_llm_name(None, make_settings(tmp_path)) == "extractive"
        missing = make_settings(tmp_path, local_model=str(tmp_path / "missing.gguf"))
        assert resolve_llm_name("auto", missing) == "extractive"

    def test_the_setting_is_used_when_nothing_is_requested(self, tmp_path, clean_env, parts):
        parts(True)
        assert resolve_llm_name(None, make_settings(tmp_path, llm="extractive")) == "extractive"

    def test_an_explicit_request_is_honoured(self, tmp_path, clean_env, parts):
        parts(True)
        settings = endpoint_settings(tmp_path, "http://127.0.0.1:8000/v1")
        assert resolve_llm_name("extractive", settings) == "extractive"
        assert resolve_llm_name("local", settings) == "local"
        assert resolve_llm_name("OpenAI", settings) == "openai"

    def test_unavailable_requests_say_what_to_configure(self, tmp_path, clean_env, parts):
        parts(False)
        settings = make_settings(tmp_path)
        with pytest.raises(LlmUnavailable, match="HELUO_OPENAI_BASE_URL"):
            resolve_llm_name("openai", settings)
        with pytest.raises(LlmUnavailable, match=r"pip install -e '\.\[local\]'"):
            resolve_llm_name("local", settings)
        with pytest.raises(LlmUnavailable, match="HELUO_LOCAL_MODEL"):
            resolve_llm_name("local", make_settings(tmp_path, local_model=str(tmp_path / "missing.gguf")))

    def test_unknown_names_are_rejected(self, tmp_path, clean_env):
        with pytest.raises(ValueError, match="gpt"):
            resolve_llm_name("gpt", make_settings(tmp_path))


def test_get_chat_model_builds_the_openai_model(stub_server, tmp_path, clean_env):
    settings = endpoint_settings(tmp_path, f"http://127.0.0.1:{stub_server.server_port}/v1")
    model = get_chat_model(resolve_llm_name("auto", settings), settings)
    assert model.invoke(QUESTION).content == ANSWER


def test_get_chat_model_has_no_model_for_extractive(tmp_path, clean_env):
    with pytest.raises(ValueError, match="extractive"):
        get_chat_model("extractive", make_settings(tmp_path))


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (httpx.ConnectError("refused"), "无法连接"),
        (httpx.ReadTimeout("slow"), "超时"),
        (httpx.RemoteProtocolError("peer closed connection without sending complete message body"), "不完整"),
        (json.JSONDecodeError("Expecting value", "{x", 1), "无法解析"),
        (ValueError("boom"), "ValueError"),
    ],
)
def test_each_failure_is_described_in_chinese(error, said):
    wrapped = RuntimeError("chain failed")
    wrapped.__cause__ = error
    assert said in describe_failure(error) and said in describe_failure(wrapped)
