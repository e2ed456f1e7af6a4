"""The answer chain end to end on the real index, with langchain-core fake chat models for the LLM."""

from __future__ import annotations

import httpx
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from rag.prompting import REFUSAL
from rag.service import Assistant, Delta, Done

GDP_QUESTION = "2020年洛阳市地区生产总值是多少？"


def fake_llm(*replies: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(content=reply) for reply in replies]))


class ExplodingModel(GenericFakeChatModel):
    """A chat model whose server is down: every call fails to connect."""

    def _stream(self, *args, **kwargs):
        raise httpx.ConnectError("connection refused")

    def _generate(self, *args, **kwargs):
        raise httpx.ConnectError("connection refused")


def llm_assistant(indexed_settings, model) -> Assistant:
    settings = indexed_settings.model_copy(update={"openai_base_url": "http://127.0.0.1:9/v1", "openai_model": "fake", "llm": "openai"})
    return Assistant(settings, chat_models={"openai": model})


def test_extractive_answer_is_cited_and_faithful(assistant):
    answer = assistant.ask(GDP_QUESTION, llm="extractive")
    assert not answer.refused and answer.llm == "extractive"
    assert "5128.4亿元" in answer.text
    assert answer.citations and all(c.quote in c.item.text for c in answer.citations)
    assert any(c.item.file.startswith("004_") for c in answer.citations)
    assert answer.fidelity == 1.0 and not answer.unsupported
    assert set(answer.timings_ms) >= {"retrieve", "generate", "total"}


def test_llm_citations_kept_and_bad_numbers_dropped(indexed_settings):
    model = fake_llm("2020年洛阳市地区生产总值达到5128.4亿元[1]，同比增长3%[1][9]。")
    answer = llm_assistant(indexed_settings, model).ask(GDP_QUESTION)
    assert answer.llm == "openai" and not answer.refused
    assert "[9]" not in answer.text and "[1]" in answer.text
    assert [c.n for c in answer.citations] == [1]
    assert "5128.4亿元" in answer.citations[0].item.text
    assert answer.fidelity == 1.0


def test_invented_number_is_flagged(indexed_settings):
    model = fake_llm("2020年洛阳市地区生产总值达到5128.4亿元[1]。同比增长9.9%[1]。")
    answer = llm_assistant(indexed_settings, model).ask(GDP_QUESTION)
    assert any("9.9%" in sentence for sentence in answer.unsupported)
    assert answer.fidelity < 1.0


def test_llm_refusal_despite_evidence_falls_back_to_the_sources(indexed_settings):
    answer = llm_assistant(indexed_settings, fake_llm(REFUSAL)).ask(GDP_QUESTION)
    assert not answer.refused and answer.llm == "extractive"
    assert "5128.4亿元" in answer.text and answer.citations
    assert any("未能作答" in notice for notice in answer.notices)


def test_no_evidence_refuses_without_calling_the_llm(indexed_settings):
    answer = llm_assistant(indexed_settings, ExplodingModel(messages=iter([]))).ask("洛阳地铁3号线什么时候开通？")
    assert answer.refused and answer.text == REFUSAL and not answer.citations


def test_uncovered_month_is_refused_and_named(assistant):
    answer = assistant.ask("2023年5月洛阳召开了哪些重要会议？")
    assert answer.refused
    assert "2023年5月" in answer.text and "2023年7月" in answer.text
    assert not answer.retrieved


def test_llm_down_falls_back_to_extractive(indexed_settings):
    answer = llm_assistant(indexed_settings, ExplodingModel(messages=iter([]))).ask(GDP_QUESTION)
    assert answer.llm == "extractive" and not answer.refused
    assert "5128.4亿元" in answer.text
    assert any("无法连接" in notice for notice in answer.notices)


def test_stream_yields_pieces_then_the_verified_answer(indexed_settings):
    model = fake_llm("2020年洛阳市地区生产总值达到5128.4亿元 [1]。同比增长3%[1]。")
    events = list(llm_assistant(indexed_settings, model).ask_stream(GDP_QUESTION))
    deltas = [e for e in events if isinstance(e, Delta)]
    assert len(deltas) > 1 and isinstance(events[-1], Done)  # sentence by sentence
    assert "5128.4亿元" in "".join(d.text for d in deltas)
    assert events[-1].answer.citations


@pytest.mark.parametrize("question, message", [("", "不能为空"), ("   ", "不能为空"), ("问" * 600, "太长")])
def test_bad_questions_are_rejected_clearly(assistant, question, message):
    with pytest.raises(ValueError, match=message):
        assistant.ask(question)


def test_month_filter_keeps_answers_inside_the_month(assistant):
    answer = assistant.ask("洛阳召开了哪些会议？", month="2023-12")
    assert answer.retrieved and all(hit.item.date.startswith("2023-12") for hit in answer.retrieved)


def test_date_question_uses_items_of_that_day(assistant):
    answer = assistant.ask("2023年12月5日洛阳有什么活动？")
    assert not answer.refused
    assert answer.citations and all(c.item.date == "2023-12-05" for c in answer.citations)


@pytest.mark.parametrize("month", ["2023-02", "2023-07", "2023-12"])
def test_month_summary_covers_every_section(assistant, month):
    answer = assistant.summarize(month)
    items = [i for d in assistant.index.catalog.documents() if d.period == month for i in assistant.index.catalog.items(d.file)]
    sections = {"/".join(i.section.split("/")[:2]) for i in items}
    assert all(f"### {section}（" in answer.text for section in sections)
    assert f"共收录 {len(items)} 条" in answer.text
    assert len(answer.citations) >= len(sections)
    assert all(c.item.file == items[0].file for c in answer.citations)
    assert answer.fidelity >= 0.95


def test_summary_intent_from_ask(assistant):
    answer = assistant.ask("2023年7月洛阳有哪些重要工作？")
    assert "2023年7月" in answer.text and "### " in answer.text and len(answer.citations) > 10


def test_summary_of_a_missing_month(assistant):
    answer = assistant.summarize("2023-05")
    assert answer.refused and "2023年5月" in answer.text
    with pytest.raises(ValueError, match="YYYY-MM"):
        assistant.summarize("July")


def test_follow_up_by_rules_inherits_the_subject(assistant):
    history = [("2023年7月江凌到哪些县区调研？", "江凌到伊川县调研[1]")]
    answer = assistant.ask("那12月呢？", history=history)
    assert answer.query.months == ("2023-12",)
    assert "江凌" in answer.query.text
    assert answer.citations and all(c.item.date.startswith("2023-12") for c in answer.citations)


def test_follow_up_rewritten_by_a_remote_llm(indexed_settings):
    model = fake_llm("2020年洛阳市地区生产总值同比增长多少？", "2020年洛阳市地区生产总值同比增长3%[1]。")
    history = [(GDP_QUESTION, "全市地区生产总值达到5128.4亿元[1]。")]
    answer = llm_assistant(indexed_settings, model).ask("同比增长多少？", history=history)
    assert answer.question == "同比增长多少？"
    assert answer.query.text == "2020年洛阳市地区生产总值同比增长多少？"
    assert "3%" in answer.text and answer.fidelity == 1.0


def test_a_report_the_corpus_lacks_is_refused_as_such(assistant):
    answer = assistant.ask("2022年洛阳市政府工作报告提出的全市GDP增长目标是多少？")
    assert answer.refused and "2022年的洛阳市政府工作报告" in answer.text and "涧西区" in answer.text
    assert not assistant.ask("2022年涧西区政府工作报告提出的地区生产总值目标是多少？").refused


def test_topic_without_the_asked_figure_is_refused(assistant):
    assert assistant.ask("洛阳城市阳台项目总投资是多少？").refused
    assert not assistant.ask("洛阳城市阳台项目是哪天开工的？").refused


def test_an_llm_answer_the_sources_do_not_support_is_replaced_by_the_sources(indexed_settings):
    model = fake_llm("洛阳2020年GDP增长了9.9%[1]。人均收入达到20.5万元[1]。")
    answer = llm_assistant(indexed_settings, model).ask(GDP_QUESTION)
    assert answer.llm == "extractive" and "5128.4亿元" in answer.text and answer.fidelity == 1.0
    assert any("无法核实" in notice for notice in answer.notices)
