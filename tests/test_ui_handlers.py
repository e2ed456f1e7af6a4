"""The web handlers without a server: a streamed answer links its verified citations at once and
is saved when done; closing the handler (stop, closed tab) closes the answer stream and keeps the
stopped turn; follow-ups read only what is on screen. Fake assistant events, a real history store."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from ingest.records import Document, Item
from rag.records import Answer, Citation, SentenceCheck
from rag.service import Delta, Done
from ui.history import HistoryStore

ITEM = Item("f#1", "001_x.txt", "bulletin", 1, "时政", "江凌到伊川县调研", "7月6日，江凌到伊川县调研。", 3, 3, "2023-07-06")
DOCUMENT = Document("001_x.txt", "bulletin", "政务信息月报（2023年7月）", "2023-07", "", "", 1)
CITATION = Citation(1, ITEM, "7月6日，江凌到伊川县调研。")


@dataclass(frozen=True)
class CitedDelta(Delta):
    """Delta as the llm branch extends it: the verified citations of the text it carries."""

    text: str
    citations: tuple = ()


def answer(text: str = "江凌到伊川县调研。[1]") -> Answer:
    return Answer("江凌去了哪里？", text, False, "openai", citations=[CITATION], checks=[SentenceCheck(text, (1,), True)])


@pytest.fixture
def handlers(tmp_path):
    from ui.web import WebHandlers

    catalog = SimpleNamespace(documents=lambda: [DOCUMENT])
    assistant = SimpleNamespace(index=SimpleNamespace(catalog=catalog), months=lambda: ["2023-07"], calls=[])
    return WebHandlers(assistant, SimpleNamespace(home=tmp_path / "home"), HistoryStore.for_home(tmp_path / "home"))


def run(handlers, stream, question="江凌去了哪里？", turns=(), conversation=None):
    handlers.assistant.ask_stream = lambda *args, **kwargs: stream(kwargs)
    return handlers.ask(question, [], list(turns), conversation, "", "openai")


def test_verified_citations_link_while_streaming_and_the_answer_is_saved(handlers):
    def stream(_):
        yield CitedDelta("江凌到伊川县调研。[1]", (CITATION,))
        yield Done(answer())

    updates = [(u, str(u[0][-1]["content"]) if isinstance(u[0], list) else "") for u in run(handlers, stream)]  # shown as it came
    streaming, shown = next((u, shown) for u, shown in updates if shown.endswith("▌") and "cite-" in str(u[3]))
    assert 'href="#cite-1-1"' in shown  # linked before the answer is done
    assert 'id="cite-1-1"' in streaming[3]  # and its card is already in the sources panel
    updates = [u for u, _ in updates]
    chat, turns, conversation, sources, box, listing, exported = updates[-1]
    assert turns[-1].status == "answered" and "▌" not in chat[-1]["content"] and box == ""
    saved = handlers.history.turns(conversation)
    assert [(t.number, t.status, t.answer.text) for t in saved] == [(1, "answered", "江凌到伊川县调研。[1]")]
    assert saved[0].documents == {DOCUMENT.file: DOCUMENT} and exported.endswith(".md")


def test_closing_the_handler_closes_the_answer_stream_and_keeps_the_stopped_turn(handlers):
    closed, release = threading.Event(), threading.Event()

    def stream(_):
        try:
            yield Delta("江凌到")
            release.wait(5)  # the model is writing its next word
            yield Delta("伊川县")
        finally:
            closed.set()

    handler = run(handlers, stream)
    updates = [next(handler), next(handler)]  # the pending message, then the first words
    while "江凌到" not in str(updates[-1][0][-1]["content"]):
        updates.append(next(handler))
    conversation = updates[-1][2]
    started = time.perf_counter()
    handler.close()  # what Gradio does on stop and on a closed tab
    assert time.perf_counter() - started < 1  # the handler never waits for the model
    release.set()
    assert closed.wait(2)  # the answer stream is closed as soon as it hands over its next piece
    [turn] = handlers.history.turns(conversation)
    assert (turn.status, turn.partial, turn.answer) == ("stopped", "江凌到", None)


def test_after_the_stop_mark_the_answer_sends_nothing_that_could_hide_it(handlers):
    closed, more = threading.Event(), threading.Event()

    def stream(_):
        try:
            yield Delta("江凌到")
            more.wait(5)
            yield Delta("伊川县")  # written after stop was pressed, before Gradio's cancel arrived
            yield Delta("调研")
        finally:
            closed.set()

    handler = run(handlers, stream)
    update = next(handler)
    while "江凌到" not in str(update[0][-1]["content"]):
        update = next(handler)
    chat, turns, conversation = update[0], update[1], update[2]
    marked = handlers.stopped(chat, turns, conversation)
    assert "已停止生成" in marked[-1]["content"]
    more.set()
    assert [u for u in handler if "伊川县" in str(u[0])] == []  # the handler ends without showing it
    assert closed.wait(2)  # and the answer stream behind it is closed
    [turn] = handlers.history.turns(conversation)
    assert (turn.status, turn.partial) == ("stopped", "江凌到")


def test_stop_before_the_first_word_marks_the_turn_stopped(handlers):
    release = threading.Event()

    def stream(_):
        yield Delta("")  # a heartbeat: the local model is still reading its prompt
        release.wait(5)
        yield Delta("江凌到")

    handler = run(handlers, stream)
    chat = next(handler)[0]  # the pending message
    updates = [next(handler) for _ in range(3)]  # heartbeats: the model has written nothing yet
    [(turns, conversation)] = [(u[1], u[2]) for u in updates if isinstance(u[1], list)]  # the turn, once
    assert turns[-1].answer is None and conversation
    assert "已停止生成" in handlers.stopped(chat, turns, conversation)[-1]["content"]
    release.set()
    assert [u for u in handler if "江凌到" in str(u[0])] == []


def test_a_question_that_fails_validation_is_no_turn(handlers):
    def stream(_):
        raise ValueError("问题不能为空，请输入一个问题 (empty question)")
        yield  # a generator, like ask_stream

    chat, turns, conversation, *_ = list(run(handlers, stream, question=""))[-1]
    assert "问题不能为空，请输入一个问题" in chat[-1]["content"] and "empty question" not in chat[-1]["content"]
    assert handlers.history.conversations() == []


def test_follow_ups_read_the_answered_turns_on_screen_and_regenerate_replaces_the_last(handlers):
    seen = []

    def stream(kwargs):
        seen.append(kwargs["history"])
        yield Done(answer(f"第{len(seen)}次回答。[1]"))

    *_, (chat, turns, conversation, *_rest) = run(handlers, stream)
    *_, (chat, turns, conversation, *_rest) = run(handlers, stream, "那7月呢？", turns, conversation)
    assert seen[-1] == [("江凌去了哪里？", "第1次回答。[1]")]
    *_, (chat, turns, conversation, *_rest) = handlers.regenerate(turns, conversation, "extractive")
    assert seen[-1] == [("江凌去了哪里？", "第1次回答。[1]")]  # asked again with what came before it
    assert [t.answer.text for t in handlers.history.turns(conversation)] == ["第1次回答。[1]", "第3次回答。[1]"]
    assert len(chat) == 4 and "第3次回答" in chat[-1]["content"]
    cleared = handlers.new_conversation()
    assert cleared[:3] == ([], [], None)
