"""`heluo ask` / `ask --json -` / `summarize` as real processes when what they depend on fails: an
OpenAI-compatible server answering 500, invalid JSON, a broken stream or nothing (tests/fake_openai.py),
and a Chroma server that goes away in the middle of a batch. Every question gets its answer or its
error line; nobody sees a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fake_openai import FakeOpenAI
from test_chroma_server import chroma_server  # noqa: F401 (a fixture: a real `chroma run` on a free port)

from conftest import CORPUS, make_settings

GDP_QUESTION = "2020年洛阳市地区生产总值是多少？"


def heluo_env(settings, **extra: str) -> dict:
    env = {name: value for name, value in os.environ.items() if not name.startswith("HELUO_")}
    return {**env, "HELUO_HOME": str(settings.home), "HELUO_CACHE": str(settings.cache_dir), "HELUO_CORPUS": str(settings.corpus), **extra}


def heluo(settings, *args: str, stdin: str | None = None, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ui.cli", *args], env=heluo_env(settings, **extra), input=stdin,
                          capture_output=True, text=True, timeout=300)


def server_env(server: FakeOpenAI) -> dict:
    return {"HELUO_LLM": "openai", "HELUO_OPENAI_BASE_URL": server.base_url, "HELUO_OPENAI_MODEL": "fake", "HELUO_FIRST_TOKEN_TIMEOUT": "2"}


def test_ask_with_a_server_answering_500_gives_the_extractive_answer(indexed_settings):
    with FakeOpenAI(["500"]) as server:
        result = heluo(indexed_settings, "ask", GDP_QUESTION, **server_env(server))
    assert result.returncode == 0, result.stderr
    assert "5128.4亿元" in result.stdout and "HTTP 500" in result.stdout and "抽取式" in result.stdout
    assert "Traceback" not in result.stderr


def test_a_batch_answers_every_line_whatever_the_server_does(indexed_settings):
    questions = [GDP_QUESTION, "2020年洛阳市社会消费品零售总额是多少？", "2020年洛阳为企业减负多少亿元？", "2020年洛阳市地区生产总值增长多少？"]
    with FakeOpenAI(["500", "invalid_json", "broken_sse", "hang"]) as server:
        result = heluo(indexed_settings, "ask", "--json", "-", stdin="\n".join(questions) + "\n", **server_env(server))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["question"] for line in lines] == questions, result.stderr
    assert all(line["llm"] == "extractive" and not line["refused"] for line in lines)
    reasons = ["HTTP 500", "无法解析", "不完整", "超时"]
    assert all(any(reason in notice for notice in line["notices"]) for line, reason in zip(lines, reasons, strict=True))
    assert all(0 < line["completeness"] <= 1 for line in lines)
    assert result.returncode == 0 and "Traceback" not in result.stderr


def test_summarize_with_a_failing_server_returns_the_digest(indexed_settings):
    with FakeOpenAI(["500"]) as server:
        result = heluo(indexed_settings, "summarize", "2023-07", "--json", **server_env(server))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert "### 时政/" in answer["answer"] and answer["citations"]
    assert any("HTTP 500" in notice for notice in answer["notices"])


@pytest.mark.slow
def test_a_chroma_server_going_away_mid_batch_still_answers_every_line(tmp_path, chroma_server):  # noqa: F811
    from ingest.index import ingest

    chroma_url = chroma_server.url
    settings = make_settings(tmp_path / "home", chroma_url=chroma_url)
    assert not ingest([CORPUS / "004_3a04fcff32c40ffe.txt"], settings).failed
    process = subprocess.Popen([sys.executable, "-m", "ui.cli", "ask", "--json", "-"], env=heluo_env(settings, HELUO_CHROMA_URL=chroma_url, HELUO_LLM="extractive"),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdin.write(GDP_QUESTION + "\n")
    process.stdin.flush()
    first = json.loads(process.stdout.readline())
    assert "5128.4亿元" in first["answer"]
    chroma_server.terminate()
    chroma_server.wait(timeout=30)
    out, err = process.communicate("2020年洛阳市社会消费品零售总额是多少？\n2020年洛阳为企业减负多少亿元？\n", timeout=120)
    later = [json.loads(line) for line in out.splitlines()]
    assert [line["question"] for line in later] == ["2020年洛阳市社会消费品零售总额是多少？", "2020年洛阳为企业减负多少亿元？"]
    assert all("error" in line or line["answer"] for line in later)
    assert "Traceback" not in err


def test_an_embedder_failing_mid_batch_costs_only_its_lines(indexed_settings, monkeypatch):
    from typer.testing import CliRunner

    from ingest import embedder
    from rag.settings import get_settings
    from ui.cli import app

    calls = []
    real_query = embedder.CachedEmbedder.embed_query

    def failing_after_the_first(self, text):
        calls.append(text)
        if len(calls) > 1:
            raise ConnectionError("embedding server went away")
        return real_query(self, text)

    monkeypatch.setattr(embedder.CachedEmbedder, "embed_query", failing_after_the_first)
    for name, value in heluo_env(indexed_settings, HELUO_LLM="extractive").items():
        if name.startswith("HELUO_"):
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["ask", "--json", "-"], input=f"{GDP_QUESTION}\n2020年洛阳市社会消费品零售总额是多少？\n")
    finally:
        get_settings.cache_clear()
    first, second = (json.loads(line) for line in result.output.splitlines())
    assert "5128.4亿元" in first["answer"]
    assert second["question"] == "2020年洛阳市社会消费品零售总额是多少？" and "ConnectionError" in second["error"]
    assert result.exit_code == 1
