"""The command line as outside checks call it: real processes, the JSON contract of DESIGN.md, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ASK_KEYS = {"question", "answer", "refused", "llm", "citations", "retrieved", "timings_ms"}
CITATION_KEYS = {"n", "item_id", "file", "section", "title", "date", "quote"}
RETRIEVED_KEYS = {"item_id", "file", "section", "title", "date", "score", "text"}


def heluo(settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HELUO_HOME": str(settings.home), "HELUO_CACHE": str(settings.cache_dir), "HELUO_CORPUS": str(settings.corpus), "HELUO_LLM": "extractive"}
    return subprocess.run([sys.executable, "-m", "ui.cli", *args], env=env, input=stdin, capture_output=True, text=True, timeout=300)


def test_help_lists_the_commands(indexed_settings):
    out = heluo(indexed_settings, "--help").stdout
    assert all(command in out for command in ("ingest", "docs", "ask", "summarize", "serve", "eval"))


def test_ingest_is_incremental_and_reports_a_summary(indexed_settings):
    result = heluo(indexed_settings, "ingest")
    assert result.returncode == 0
    assert "文档 5" in result.stdout and "未变 5" in result.stdout and "新增 0" in result.stdout
    # Not a terminal: one progress line per document, as it goes, on stderr.
    progress = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] + "]" for line in progress] == [f"[{n}/5]" for n in range(1, 6)]
    assert progress[0].endswith(".txt")


def test_docs_json(indexed_settings):
    documents = json.loads(heluo(indexed_settings, "docs", "--json").stdout)
    assert [(d["kind"], d["period"], d["items"]) for d in documents] == [
        ("bulletin", "2023-02", 103), ("bulletin", "2023-07", 115), ("bulletin", "2023-12", 122),
        ("report", "2022-04-23", 83), ("report", "2021-02-07", 40),
    ]
    assert all({"file", "kind", "title", "period", "items"} <= set(d) for d in documents)


def test_ask_json_contract(indexed_settings):
    result = heluo(indexed_settings, "ask", "2020年洛阳市地区生产总值是多少？", "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert ASK_KEYS <= set(answer) and {"unsupported", "fidelity"} <= set(answer)
    assert answer["refused"] is False and answer["llm"] == "extractive" and "5128.4亿元" in answer["answer"]
    assert answer["citations"] and all(CITATION_KEYS <= set(c) for c in answer["citations"])
    assert answer["retrieved"] and all(RETRIEVED_KEYS <= set(r) for r in answer["retrieved"])
    scores = [r["score"] for r in answer["retrieved"]]
    assert scores == sorted(scores, reverse=True)  # rank order
    assert set(answer["timings_ms"]) >= {"retrieve", "generate", "total"}


def test_ask_batch_from_stdin(indexed_settings):
    result = heluo(indexed_settings, "ask", "--json", "-", stdin="2020年洛阳市地区生产总值是多少？\n\n2023年5月洛阳召开了哪些会议？\n")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2 and not lines[0]["refused"] and lines[1]["refused"]


def test_history_lists_saved_conversations(indexed_settings):
    from ui.history import HistoryStore, SavedTurn

    store = HistoryStore.for_home(indexed_settings.home)
    conversation = store.create("12月江凌开展了哪些调研？")
    store.save_turn(conversation.id, SavedTurn(1, "12月江凌开展了哪些调研？"))
    listed = json.loads(heluo(indexed_settings, "history", "--json").stdout)
    assert listed[0] == {"id": conversation.id, "title": "12月江凌开展了哪些调研？", "started": conversation.started, "turns": 1}
    assert conversation.id in heluo(indexed_settings, "history").stdout
    store.delete(conversation.id)


def test_summarize_prints_its_overview_and_one_line_per_item(indexed_settings):
    out = heluo(indexed_settings, "summarize", "2023-07").stdout
    assert out.index("本月要点") < out.index("### 时政/领导活动")
    assert "\n- 江凌与万达集团董事长王健林举行工作会谈（7月25日）[" in out
    assert "来源：" not in out and "heluo summarize 2023-07 --json" in out  # the quotes are one command away, not 80 lines of them


def test_summarize_json(indexed_settings):
    answer = json.loads(heluo(indexed_settings, "summarize", "2023-12", "--json").stdout)
    assert ASK_KEYS <= set(answer) and "2023年12月" in answer["answer"] and len(answer["citations"]) > 20


@pytest.mark.parametrize(
    "args, message",
    [
        (("ask", ""), "不能为空"),
        (("ask", "会议", "--month", "2023-5"), "YYYY-MM"),
        (("ask", "会议", "--llm", "gpt"), "未知的生成器"),
        (("summarize", "2023-05"), "2023年5月"),
        (("ingest", "/no/such/folder"), "不存在"),
    ],
)
def test_errors_exit_non_zero_with_a_message(indexed_settings, args, message):
    result = heluo(indexed_settings, *args)
    assert result.returncode != 0
    assert message in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
