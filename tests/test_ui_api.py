"""The web app served on 127.0.0.1 and called through gradio_client, as another program would."""

from __future__ import annotations

import os
import re
import shutil
import socket
from pathlib import Path

import pytest

from conftest import CORPUS, make_settings

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(settings):
    """Build and serve the app in this process; returns (app, url)."""
    from rag.service import Assistant
    from ui.web import build_app, serve

    app = build_app(Assistant(settings), settings)
    _, url, _ = serve(app, settings, port=free_port(), block=False)
    return app, url


def client(url: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gradio_client import Client

    return Client(url, verbose=False)


def text_of(message: dict) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def last_reply(chat: list[dict]) -> str:
    return text_of(chat[-1])


@pytest.fixture(scope="module")
def served(indexed_settings):
    app, url = start(indexed_settings)
    yield url
    app.close()


def test_question_returns_cited_answer_with_full_sources_and_export(served):
    chat, sources, box, conversations, exported = client(served).predict(question="2020年洛阳市地区生产总值是多少？", month="", llm="extractive", api_name="/ask")
    reply = last_reply(chat)
    assert chat[-2]["role"] == "user" and chat[-1]["role"] == "assistant"
    links = re.findall(r'href="#(cite-1-\d+)"', reply)
    assert links, reply
    assert "5128.4" in reply
    assert "heluo-status" in reply and "原文摘录" in reply and "有来源支持的句子" in reply
    for anchor in set(links):
        assert f'id="{anchor}"' in sources  # every [n] has a card with the item's text
    assert "<mark>" in sources and "5128.4" in re.sub(r"<[^>]+>", "", sources)
    assert box == ""
    markdown = Path(exported).read_text(encoding="utf-8")  # the whole conversation
    assert markdown.startswith("# 2020年洛阳市地区生产总值是多少？")
    assert "## 第 1 问：2020年洛阳市地区生产总值是多少？" in markdown
    assert "### 来源" in markdown and "[1] **" in markdown and "5128.4" in markdown


def test_follow_up_uses_the_conversation(served):
    session = client(served)
    first, *_ = session.predict(question="12月江凌开展了哪些调研？", month="", llm="extractive", api_name="/ask")
    chat, sources, _, _, _ = session.predict(question="那7月呢？", chat=first, month="", llm="extractive", api_name="/ask")
    assert len(chat) == 4
    reply = last_reply(chat)
    assert "结合上文" in reply and "江凌" in reply  # the follow-up was read against the first question
    assert 'href="#cite-2-1"' in reply
    latest = sources.split('id="turn-1"', 1)[0]  # newest turn first
    assert 'id="turn-2"' in latest and "2023-07-" in latest and "2023-12-" not in latest
    assert 'id="turn-1"' in sources  # the first answer's cards stay reachable


def test_a_new_conversation_forgets_what_follow_ups_read(served):
    session = client(served)
    session.predict(question="12月江凌开展了哪些调研？", month="", llm="extractive", api_name="/ask")
    chat, sources, box, listing, exported = session.predict(api_name="/new_conversation")
    assert chat == [] and exported is None and "heluo-empty" in sources
    chat, *_ = session.predict(question="那7月呢？", chat=[], month="", llm="extractive", api_name="/ask")
    assert "结合上文" not in last_reply(chat)  # nothing hidden is left to read it against


def test_conversations_are_listed_reopened_renamed_and_deleted(served):
    session = client(served)
    *_, listing, _ = session.predict(question="涧西区2021年实现地区生产总值多少？", month="", llm="extractive", api_name="/ask")
    [(label, conversation)] = [(label, value) for label, value in listing["choices"] if label.startswith("涧西区2021年实现地区生产总值多少？")]
    other = client(served)  # another page: it reopens the conversation from the list
    update, sources, _, _, exported = other.predict(conversation, api_name="/open_conversation")
    chat = update["value"]  # the chat comes with its 👍/👎 state
    assert [m["role"] for m in chat] == ["user", "assistant"] and 'href="#cite-1-1"' in last_reply(chat)
    assert update["feedback_value"] == [None]
    assert 'id="cite-1-1"' in sources and "涧西区" in Path(exported).read_text(encoding="utf-8")
    listing = other.predict("涧西区 GDP", api_name="/rename_conversation")
    assert ("涧西区 GDP" in [label.split(" · ")[0] for label, _ in listing["choices"]])
    chat, _, _, listing, exported = other.predict(api_name="/delete_conversation")
    assert chat == [] and exported is None and conversation not in [value for _, value in listing["choices"]]


def test_month_summary_streams_a_cited_digest(served):
    chat, sources, _, _, exported = client(served).predict(month="2023-07", llm="extractive", api_name="/summarize")
    reply = last_reply(chat)
    assert "2023年7月" in text_of(chat[-2])
    assert "2023年7月" in reply and "本月要点" in reply and reply.count('<details class="heluo-section">') >= 10
    assert len(set(re.findall(r'href="#cite-1-(\d+)"', reply))) >= 20
    assert sources.count('class="heluo-card"') >= 20
    assert "### 来源" in Path(exported).read_text(encoding="utf-8")


def test_summary_without_a_month_asks_for_one(served):
    chat, *_ = client(served).predict(month="", llm="extractive", api_name="/summarize")
    assert "请先" in last_reply(chat) and "摘要月份" in last_reply(chat)


@pytest.mark.parametrize(
    ("question", "llm", "expected"),
    [
        ("", "extractive", "问题不能为空"),
        ("洛阳" * 400, "extractive", "问题太长"),
        ("洛阳有哪些重要工作？", "openai", "暂不可用"),
    ],
)
def test_errors_become_friendly_messages(served, question, llm, expected):
    chat, *_ = client(served).predict(question=question, month="", llm=llm, api_name="/ask")
    reply = last_reply(chat)
    assert expected in reply and "heluo-error" in reply
    assert "Traceback" not in reply


@pytest.fixture
def library(tmp_path):
    """A private corpus copy and index, so uploads and deletions never touch the bundled corpus."""
    from ingest.index import ingest

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = make_settings(tmp_path / "home", corpus=corpus)
    ingest([corpus], settings)
    app, url = start(settings)
    yield settings, url
    app.close()


def test_bad_upload_is_reported_and_loses_nothing(library, tmp_path):
    from gradio_client import handle_file

    settings, url = library
    empty = tmp_path / "upload" / "空白.txt"
    empty.parent.mkdir()
    empty.write_text("   \n", encoding="utf-8")
    table, _, _, status, *_ = client(url).predict(paths=[handle_file(empty)], api_name="/upload")
    assert "空白.txt" in status and "✗" in status and "已有的索引不受影响" in status
    assert len(table["data"]) == 5
    assert sorted(p.name for p in settings.corpus.iterdir()) == sorted(p.name for p in CORPUS.iterdir())


def test_delete_removes_file_and_index_entry(library):
    settings, url = library
    victim = sorted(CORPUS.glob("003_*.txt"))[0].name
    table, choices, _, status = client(url).predict(file=victim, api_name="/delete")
    assert victim in status
    assert victim not in [row[0] for row in table["data"]] and len(table["data"]) == 4
    assert not (settings.corpus / victim).exists()
    assert (CORPUS / victim).exists()
