"""The LLM path of the assistant on the real index: bounded, cancellable, complete, checked while it
streams, and falling back to the extractive answer whatever the LLM does.

Fake chat models (langchain-core's, or small subclasses) test the chain; a real OpenAI-compatible
HTTP server (tests/fake_openai.py) that answers 500, invalid JSON, a broken stream or not at all
tests the failures as the client library sees them.
"""

from __future__ import annotations

import copy
import itertools
import threading

import pytest
from fake_openai import FakeOpenAI
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from rag.service import Assistant, Delta, Done
from rag.verify import UNVERIFIED_MARK

GDP_QUESTION = "2020年洛阳市地区生产总值是多少？"
LIST_QUESTION = "2023年7月江凌到哪些县区调研？"


def fake_llm(*replies: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(content=reply) for reply in replies]))


class ScriptedModel(GenericFakeChatModel):
    """Streams `pieces` (any iterable, endless ones too) and records whether its stream was closed."""

    pieces: object = ()
    closed: object = None

    def _stream(self, *args, **kwargs):
        try:
            for piece in self.pieces:
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        finally:
            self.closed.set()


def scripted(pieces) -> ScriptedModel:
    return ScriptedModel(messages=iter([]), pieces=pieces, closed=threading.Event())


def reconfigured(assistant: Assistant, chat_models: dict, **settings) -> Assistant:
    """The session's assistant (its loaded index shared) with other settings and chat models."""
    clone = copy.copy(assistant)
    clone.settings = assistant.settings.model_copy(update=settings)
    clone._chat_models = chat_models
    return clone


def with_llm(assistant, model, name: str = "openai", **settings) -> Assistant:
    values = {"openai_base_url": "http://127.0.0.1:9/v1", "openai_model": "fake", "llm": name, **settings}
    return reconfigured(assistant, {"openai": model}, **values)


def with_server(assistant, server: FakeOpenAI, **settings) -> Assistant:
    values = {"openai_base_url": server.base_url, "openai_model": "fake", "llm": "openai", "first_token_timeout": 2.0, **settings}
    return reconfigured(assistant, {}, **values)


# ---------------------------------------------------------------- bounded


def test_a_model_repeating_itself_forever_is_cut_off(assistant):
    model = scripted(itertools.chain(["本月，洛阳市党政代表团和"], itertools.repeat("重要会议、")))
    answer = with_llm(assistant, model).summarize("2023-07")
    assert model.closed.is_set()
    assert "### 时政/" in answer.text  # the digest stays
    assert "重要会议、重要会议" not in answer.text
    assert any("重复" in notice or "无法核实" in notice for notice in answer.notices)


def test_a_model_writing_forever_stops_at_the_token_budget(assistant):
    model = scripted(f"2020年洛阳市地区生产总值达到5128.4亿元[1]，第{n}次。" for n in itertools.count())
    answer = with_llm(assistant, model, max_answer_tokens=60).ask(GDP_QUESTION)
    assert model.closed.is_set() and not answer.refused
    assert "5128.4亿元" in answer.text


# ---------------------------------------------------------------- cancellation


def test_closing_the_stream_stops_the_llm_at_once(assistant):
    model = scripted(f"2020年洛阳市地区生产总值达到5128.4亿元[1]，第{n}次。" for n in itertools.count())
    events = with_llm(assistant, model).ask_stream(GDP_QUESTION)
    assert next(events) == Delta("")  # a heartbeat before the model starts: closing here costs no LLM work
    assert next(event for event in events if isinstance(event, Delta) and event.text)  # the model is writing
    events.close()  # what Gradio does when the user presses stop or goes away
    assert model.closed.is_set()


def test_closing_a_summary_stream_closes_the_http_response(assistant):
    with FakeOpenAI(["endless"]) as server:
        events = with_server(assistant, server).summarize_stream("2023-12")
        shown = [next(events) for _ in range(4)]  # the digest, the overview's heading, two overview sentences
        assert all(isinstance(event, Delta) for event in shown)
        events.close()
        assert server.client_gone.wait(5), "the server kept streaming to a client that left"


# ---------------------------------------------------------------- streaming checked sentence by sentence


def test_streamed_sentences_carry_their_verified_citations(assistant):
    model = fake_llm("2020年洛阳市地区生产总值达到5128.4亿元[1]。同比增长9999.9%[1]。")
    events = list(with_llm(assistant, model).ask_stream(GDP_QUESTION))
    deltas = [e for e in events if isinstance(e, Delta)]
    shown = "".join(d.text for d in deltas)
    assert "9999.9%" not in shown or "9999.9%[1]" not in shown
    invented = next(d for d in deltas if "9999.9%" in d.text)
    assert UNVERIFIED_MARK in invented.text and invented.citations == ()
    supported = next(d for d in deltas if "5128.4亿元" in d.text)
    assert [c.n for c in supported.citations] == [1] and "5128.4" in supported.citations[0].quote
    final = events[-1].answer
    assert isinstance(events[-1], Done) and UNVERIFIED_MARK in final.text and "9999.9%[1]" not in final.text


# ---------------------------------------------------------------- completeness


def test_a_list_answer_names_every_item_retrieval_found(assistant):
    model = fake_llm("2023年7月，江凌到伊川县等地调研[1]。")
    answer = with_llm(assistant, model).ask(LIST_QUESTION)
    assert not answer.refused and answer.query.intent == "list"
    assert answer.completeness == 1.0
    lead, listed = answer.text.split("\n\n", 1)
    assert lead.startswith("2023年7月，江凌到伊川县等地调研[") and answer.checks[0].supported
    cited_by_lead = [c for c in answer.citations if f"[{c.n}]" in lead]
    assert cited_by_lead and all("伊川县" in c.item.title for c in cited_by_lead)  # re-cited to the item that says so
    assert listed.count("\n- ") >= 2  # the cited list follows the lead


class PromptRecorder(GenericFakeChatModel):
    """Answers with a fixed reply and keeps the prompts it was given."""

    prompts: list = []

    def _stream(self, messages, *args, **kwargs):
        self.prompts.append("\n".join(str(m.content) for m in messages))
        yield ChatGenerationChunk(message=AIMessageChunk(content="2023年7月，江凌到伊川县等地调研[1]。"))


def test_a_long_list_lead_reads_only_the_sources_that_fit_its_prompt_budget(assistant):
    question = "2023年12月召开了哪些重要会议？"  # a month's list: some 30 items
    prompts = {}
    for budget in (1800, 300):
        model = PromptRecorder(messages=iter([]), prompts=[])
        answer = with_llm(assistant, model, context_tokens=budget).ask(question)
        prompts[budget] = (model.prompts[-1].count("<资料 编号="), len(answer.citations))
    (wide_read, wide_cited), (narrow_read, narrow_cited) = prompts[1800], prompts[300]
    assert narrow_cited == wide_cited >= 10  # the list stays whole
    assert 1 <= narrow_read < wide_read < wide_cited  # the lead reads what fits its budget


def test_completeness_is_measured_for_every_answer(assistant):
    answer = assistant.ask(GDP_QUESTION, llm="extractive")
    assert 0 < answer.completeness <= 1
    assert assistant.ask("洛阳地铁3号线什么时候开通？").completeness is None  # a refusal has nothing to cover
    summary = assistant.summarize("2023-02")
    assert 0 < summary.completeness < 1  # the digest cites the key items, not all 103


def test_hybrid_shows_the_extractive_answer_first_then_the_lead(assistant):
    model = fake_llm("2020年洛阳市地区生产总值为5128.4亿元[1]。")
    events = list(with_llm(assistant, model, name="hybrid").ask_stream(GDP_QUESTION))
    first = events[0]
    assert isinstance(first, Delta) and "根据资料" in first.text and first.citations
    answer = events[-1].answer
    assert answer.llm == "hybrid" and answer.text.endswith("2020年洛阳市地区生产总值为5128.4亿元[1]。")
    assert answer.fidelity == 1.0


def test_an_unsupported_lead_is_left_out(assistant):
    model = fake_llm("2020年洛阳市地区生产总值为9999亿元[1]。")
    answer = with_llm(assistant, model, name="hybrid").ask(GDP_QUESTION)
    assert answer.llm == "extractive" and "9999" not in answer.text and answer.fidelity == 1.0
    assert any("无法核实" in notice for notice in answer.notices)


# ---------------------------------------------------------------- every failure falls back


@pytest.mark.parametrize(
    ("behaviour", "said"),
    [("500", "HTTP 500"), ("invalid_json", "无法解析"), ("broken_sse", "不完整"), ("hang", "超时")],
)
def test_a_failing_server_gives_the_extractive_answer_with_a_notice(assistant, behaviour, said):
    with FakeOpenAI([behaviour]) as server:
        answer = with_server(assistant, server, first_token_timeout=1.0).ask(GDP_QUESTION)
    assert answer.llm == "extractive" and not answer.refused and "5128.4亿元" in answer.text
    assert any(said in notice and "抽取式" in notice for notice in answer.notices), answer.notices
    assert len(server.requests) == 1  # no blind retry


def test_a_server_answering_nothing_falls_back(assistant):
    with FakeOpenAI(["ok"], answer=[""]) as server:
        answer = with_server(assistant, server).ask(GDP_QUESTION)
    assert answer.llm == "extractive" and any("没有返回任何内容" in notice for notice in answer.notices)


def test_a_good_server_answer_is_kept(assistant):
    with FakeOpenAI(["ok"]) as server:
        answer = with_server(assistant, server).ask(GDP_QUESTION)
    assert answer.llm == "openai" and answer.text.startswith("2020年，洛阳市地区生产总值达到5128.4亿元[1]。")
    assert server.requests[0]["max_tokens" if "max_tokens" in server.requests[0] else "max_completion_tokens"] > 0


def test_summarize_with_a_failing_llm_returns_the_digest(assistant):
    with FakeOpenAI(["500"]) as server:
        answer = with_server(assistant, server).summarize("2023-07")
    assert not answer.refused and answer.llm == "extractive" and "### 时政/" in answer.text
    assert "### 概述" not in answer.text
    assert any("HTTP 500" in notice and "摘要" in notice for notice in answer.notices)
