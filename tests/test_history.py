"""Saved conversations (ui.history): typed records through SQLite, follow-ups, feedback, and the
candidate eval questions exported from disliked answers. Everything on hand-made answers."""

from __future__ import annotations

import json

import pytest

from eval.dataset import parse_question
from eval.feedback import export_feedback
from ingest.records import Document, Item
from rag.records import Answer, Citation, Query, SentenceCheck
from ui import render
from ui.history import HistoryStore, SavedTurn, follow_up_history, title_from

ITEM = Item(
    item_id="001_x#0007-abc",
    file="001_x.txt",
    kind="bulletin",
    position=7,
    section="时政/领导活动",
    title="江凌到伊川县调研",
    text="7月6日，市委书记江凌到伊川县调研。\n他强调要抓好项目建设。",
    line_start=40,
    line_end=41,
    date="2023-07-06",
)
DOCUMENT = Document("001_x.txt", "bulletin", "政务信息月报（2023年7月）", "2023-07", "", "abc", 115)


def make_answer(text: str = "江凌到伊川县调研，强调要抓好项目建设。[1]", **overrides) -> Answer:
    values = dict(
        question="7月江凌去了哪里调研？",
        text=text,
        refused=False,
        llm="extractive",
        citations=[Citation(1, ITEM, "他强调要抓好项目建设。")],
        checks=[SentenceCheck(text, (1,), True)],
        fidelity=1.0,
        completeness=0.75,
        timings_ms={"total": 12.5},
        notices=["“7月”理解为 2023年7月。"],
        query=Query(text="2023年7月江凌去了哪里调研？", original="7月江凌去了哪里调研？", intent="list", months=("2023-07",), period_label="2023年7月"),
    )
    values.update(overrides)
    return Answer(**values)


@pytest.fixture
def store(tmp_path):
    return HistoryStore.for_home(tmp_path / "home")


def ask(store: HistoryStore, conversation: str, question: str, answer: Answer | None) -> SavedTurn:
    turn = SavedTurn(store.next_number(conversation), question, "ask", "", "auto")
    store.save_turn(conversation, turn)
    if answer is not None:
        turn = turn.answered(answer, {DOCUMENT.file: DOCUMENT, "other.txt": DOCUMENT})
        store.save_turn(conversation, turn)
    return turn


class TestConversations:
    def test_a_reopened_answer_renders_exactly_as_it_was_shown(self, store):
        conversation = store.create("7月江凌去了哪里调研？").id
        answer = make_answer()
        ask(store, conversation, answer.question, answer)
        reopened = HistoryStore(store.path).turns(conversation)  # a new store: as after a restart
        assert len(reopened) == 1 and reopened[0].status == "answered"
        again = reopened[0].answer
        assert again.citations == answer.citations and again.checks == answer.checks and again.query.months == ("2023-07",)
        assert again.completeness == 0.75 and again.notices == answer.notices
        assert reopened[0].documents == {DOCUMENT.file: DOCUMENT}  # only what the answer cites
        shown = render.answer_message(answer, 1, {DOCUMENT.file: DOCUMENT})
        assert render.answer_message(again, 1, reopened[0].documents) == shown
        assert render.citation_card(again.citations[0], 1, reopened[0].documents) == render.citation_card(answer.citations[0], 1, {DOCUMENT.file: DOCUMENT})

    def test_listing_title_date_turns_newest_first_rename_delete(self, store):
        first = store.create("  2023年7月洛阳有哪些重要工作？\n请按栏目概括一下，越详细越好，谢谢你的帮助  ").id
        ask(store, first, "2023年7月洛阳有哪些重要工作？", make_answer())
        second = store.create("那12月呢？").id
        ask(store, second, "那12月呢？", None)
        listed = store.conversations()
        assert [c.id for c in listed] == [second, first]
        assert listed[1].title.startswith("2023年7月洛阳有哪些重要工作？ 请按") and listed[1].title.endswith("…")
        assert len(listed[1].title) == 30 and "\n" not in listed[1].title
        assert listed[1].turns == 1 and listed[1].started[:4].isdigit() and "T" in listed[1].started
        ask(store, first, "那12月呢？", make_answer())
        assert store.conversations()[0].id == first  # the one used last comes first
        assert store.rename(first, "  七月 工作  ") and store.get(first).title == "七月 工作"
        with pytest.raises(ValueError, match="标题不能为空"):
            store.rename(first, "   ")
        assert store.delete(first) and store.get(first) is None and store.turns(first) == []
        assert not store.delete(first)

    def test_follow_ups_read_only_answered_turns_and_regenerate_replaces(self, store):
        conversation = store.create("q").id
        ask(store, conversation, "12月江凌开展了哪些调研？", make_answer("江凌到伊川县调研。[1]"))
        stopped = ask(store, conversation, "那7月呢？", None)
        store.save_turn(conversation, SavedTurn(stopped.number, stopped.question, partial="7月，江凌"))
        turns = store.turns(conversation)
        assert [t.status for t in turns] == ["answered", "stopped"] and turns[1].partial == "7月，江凌"
        assert follow_up_history(turns) == [("12月江凌开展了哪些调研？", "江凌到伊川县调研。[1]")]
        store.save_turn(conversation, turns[1].answered(make_answer("7月江凌在伊川。[1]"), {}))
        turns = store.turns(conversation)
        assert len(turns) == 2 and turns[1].number == 2 and turns[1].answer.text == "7月江凌在伊川。[1]"
        assert store.next_number(conversation) == 3

    def test_title_from_an_empty_question(self):
        assert title_from(" \n ") == ""


class TestFeedback:
    def test_thumbs_and_reason_are_stored_with_the_turn(self, store):
        conversation = store.create("q").id
        ask(store, conversation, "问题一", make_answer())
        assert store.set_feedback(conversation, 1, "up")
        assert store.turns(conversation)[0].feedback == "up"
        store.set_feedback(conversation, 1, "down")
        store.set_feedback(conversation, 1, "down", "  漏掉了偃师区  ")
        turn = store.turns(conversation)[0]
        assert (turn.feedback, turn.feedback_reason) == ("down", "漏掉了偃师区")
        assert not store.set_feedback(conversation, 9, "up")

    def test_disliked_answers_become_candidate_eval_questions(self, store, tmp_path):
        conversation = store.create("q").id
        ask(store, conversation, "7月江凌去了哪里调研？", make_answer())
        ask(store, conversation, "很好的问题", make_answer())
        summary = SavedTurn(3, "总结2023年7月洛阳的重要工作", "summarize", "2023-07", "local")
        store.save_turn(conversation, summary.answered(make_answer(query=None), {}))
        store.set_feedback(conversation, 1, "down", "漏掉了嵩县")
        store.set_feedback(conversation, 2, "up")
        store.set_feedback(conversation, 3, "down")
        out = tmp_path / "candidates.jsonl"
        assert export_feedback(store, out) == 2
        first, second = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert first["question"] == "7月江凌去了哪里调研？" and first["period"] == "2023-07" and first["type"] == "factoid"
        assert first["feedback"]["reason"] == "漏掉了嵩县" and first["feedback"]["cited"][0]["title"] == ITEM.title
        assert second["type"] == "month_summary" and second["period"] == "2023-07"
        assert first["id"] != second["id"]
        # Once a reviewer fills in what only a person knows and drops `feedback`, it is an eval line.
        completed = {k: v for k, v in first.items() if k != "feedback"}
        completed.update(reference_answer="7月6日江凌到伊川县调研。", key_facts=["伊川县"], gold=[{"file": ITEM.file, "title": ITEM.title, "quote": "他强调要抓好项目建设"}])
        assert parse_question(completed).question == first["question"]
        with pytest.raises(ValueError):
            parse_question(first)  # not loadable as it is: it needs a person first
