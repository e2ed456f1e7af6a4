"""Bounds on LLM output and checking it as it streams: the repetition guard, token and time budgets,
complete-sentence detection, and the verifier's view of a source (pure functions on hand-made data)."""

from __future__ import annotations

import itertools

import pytest
from langchain_core.messages import AIMessageChunk

from ingest.records import Item
from rag.bounded import BoundedStream, Budget, RepetitionGuard
from rag.streaming import SentenceStream, complete_length
from rag.verify import UNVERIFIED_MARK, Verifier, verify_answer

BUDGET = Budget(tokens=1000, seconds=60, first_text_seconds=20)


def item(n: int, title: str, text: str, section: str = "时政/重要会议", date: str | None = "2023-07-06", file: str = "001_x.txt") -> Item:
    return Item(f"i{n}", file, "bulletin", n, section, title, text, 1, 2, date)


FLOOD = item(1, "全市防汛工作会议召开", "7月6日，全市防汛工作会议召开。市委书记江凌主持会议，市长徐衣显作具体部署。")
REPORT = item(
    2,
    "经济运行",
    "全市地区生产总值达到5128.4亿元，同比增长3%，高于全省1.7个百分点。",
    section="一、2020年工作回顾/（一）经济运行",
    date=None,
    file="004_r.txt",
)


class TestRepetitionGuard:
    def feed_all(self, pieces) -> bool:
        guard = RepetitionGuard()
        return any(guard.feed(piece) for piece in pieces)

    def test_a_looping_phrase_is_caught_within_a_few_repeats(self):
        guard = RepetitionGuard()
        text = "本月，洛阳市党政代表团和" + "重要会议、" * 50
        caught_at = next(n for n in range(1, len(text) + 1) if guard.feed(text[n - 1]))
        assert caught_at <= len("本月，洛阳市党政代表团和") + 4 * len("重要会议、")

    def test_a_long_phrase_said_three_times_is_caught(self):
        sentence = "市委书记江凌主持召开市委常委会会议，研究部署近期重点工作。"
        assert self.feed_all([sentence, "会议强调要抓好落实。", sentence, "同时要统筹安排。", sentence])

    def test_a_list_of_distinct_items_is_not_repetition(self):
        answer = (
            "7月5日，江凌到伊川县调研[1]。\n- 7月6日，江凌到宜阳县调研[2]。\n- 7月12日，江凌到汝阳县调研乡村振兴工作[3]。\n"
            "- 7月20日，江凌到嵩县调研防汛工作[4]。\n2020年、2021年、2022年地区生产总值分别增长3%、4.8%、3.5%[5]。"
        )
        assert not self.feed_all(answer)  # fed character by character, as a stream
        assert not self.feed_all([answer])

    def test_short_repeats_are_not_a_loop(self):
        assert not self.feed_all(["……", "哈哈", "1、2、3、4、5、6"])


class TestBoundedStream:
    def test_an_endless_source_stops_at_the_token_budget_and_is_closed(self):
        closed = []

        def endless():
            try:
                for n in itertools.count():
                    yield f"第{n}项，"
            finally:
                closed.append(True)

        stream = BoundedStream(endless(), Budget(tokens=50, seconds=60, first_text_seconds=20))
        text = "".join(stream)
        assert stream.stop_reason == "tokens" and closed
        assert 0 < len(text) < 400

    def test_a_slow_source_stops_at_the_time_budget(self):
        now = iter(range(0, 1000, 7))  # every piece takes 7 "seconds"
        stream = BoundedStream((f"第{n}项，" for n in itertools.count()), Budget(100_000, 30, 20), clock=lambda: next(now))
        pieces = list(stream)
        assert stream.stop_reason == "time" and len(pieces) == 5

    def test_a_looping_source_stops_as_repetition(self):
        stream = BoundedStream(itertools.repeat("重要会议、"), BUDGET)
        text = "".join(stream)
        assert stream.stop_reason == "repetition" and text.count("重要会议") <= 4

    def test_the_backends_own_token_limit_counts(self):
        chunks = [AIMessageChunk(content="全市"), AIMessageChunk(content="防汛", response_metadata={"finish_reason": "length"})]
        stream = BoundedStream(iter(chunks), BUDGET)
        assert "".join(stream) == "全市防汛" and stream.stop_reason == "tokens"

    def test_a_source_that_ends_by_itself_has_no_stop_reason(self):
        stream = BoundedStream(iter(["全市", "防汛", ""]), BUDGET)
        assert "".join(stream) == "全市防汛" and stream.stop_reason == ""


class TestCompleteSentences:
    @pytest.mark.parametrize(
        ("text", "complete"),
        [
            ("7月6日，全市防汛工作会议召开", ""),
            ("会议召开[1]。", ""),  # the next piece may still be a marker
            ("会议召开。", ""),
            ("会议召开。[1]", ""),
            ("会议召开[1]。市委", "会议召开[1]。"),
            ("会议召开。[1][2]江凌", "会议召开。[1][2]"),
            ("- 会议召开[1]\n- 江凌", "- 会议召开[1]\n"),
            ("增长3.5%，高于全省", ""),
        ],
    )
    def test_complete_prefix(self, text, complete):
        assert text[: complete_length(text)] == complete

    def test_text_is_shown_only_as_whole_checked_sentences(self):
        stream = SentenceStream(Verifier([(1, FLOOD)]))
        shown = [stream.feed(piece) for piece in ["7月6日，全市防汛", "工作会议召开[1]", "。市委书记江凌", "主持会议[1]。"]]
        assert shown[:2] == [None, None]
        assert shown[2].text == "7月6日，全市防汛工作会议召开[1]。" and [c.n for c in shown[2].citations] == [1]
        assert shown[3] is None
        rest = stream.finish(complete=True)
        assert rest.text == "市委书记江凌主持会议[1]。"

    def test_an_invented_figure_never_shows_with_its_citation(self):
        stream = SentenceStream(Verifier([(1, FLOOD)]))
        stream.feed("会议要求投入资金9999.9亿元[1]。")
        checked = stream.feed("另")
        assert "9999.9亿元" in checked.text and "[1]" not in checked.text and UNVERIFIED_MARK in checked.text
        assert checked.citations == ()

    def test_a_sentence_said_again_is_dropped_and_counted(self):
        stream = SentenceStream(Verifier([(1, FLOOD)]))
        for piece in ["全市防汛工作会议召开[1]。", "全市防汛工作会议召开[1]。", "江凌主持会议[1]。"]:
            stream.feed(piece)
        stream.finish(complete=True)
        assert stream.repeats == 1 and stream.text.count("全市防汛工作会议召开") == 1

    def test_a_sentence_cut_off_mid_way_is_dropped(self):
        stream = SentenceStream(Verifier([(1, FLOOD)]))
        stream.feed("全市防汛工作会议召开[1]。市委书记")
        assert stream.finish(complete=False) is None and stream.text == "全市防汛工作会议召开[1]。"


class TestWhatASourceSays:
    def test_a_year_in_the_section_heading_supports_the_claim(self):
        result = verify_answer("2020年，全市地区生产总值达到5128.4亿元[1]。", [(1, REPORT)])
        assert result.checks[0].supported, result.checks[0].reason

    def test_the_document_title_is_part_of_the_source(self):
        answer = "据洛阳市第十五届人民代表大会的政府工作报告，全市地区生产总值达到5128.4亿元[1]。"
        assert not verify_answer(answer, [(1, REPORT)]).checks[0].supported
        titled = verify_answer(answer, [(1, REPORT)], documents={"004_r.txt": "洛阳市第十五届人民代表大会政府工作报告"})
        assert titled.checks[0].supported

    def test_an_unsupported_sentence_loses_its_citation_and_is_marked(self):
        result = verify_answer("7月6日，全市防汛工作会议召开[1]。会议投入资金9999.9亿元[1]。", [(1, FLOOD)])
        assert result.text == f"7月6日，全市防汛工作会议召开[1]。会议投入资金9999.9亿元{UNVERIFIED_MARK}。"
        assert [c.n for c in result.citations] == [1] and result.checks[1].citations == ()
        assert verify_answer(result.text, [(1, FLOOD)]).text == result.text  # checking twice changes nothing

    def test_pieces_checked_one_by_one_add_up_to_the_whole(self):
        pieces = ["7月6日，全市防汛工作会议召开[1]。", "市委书记江凌主持会议[1]。", "投入9999亿元[1]。"]
        verifier = Verifier([(1, FLOOD)])
        for piece in pieces:
            verifier.add(piece)
        whole = verify_answer("".join(pieces), [(1, FLOOD)])
        assert verifier.result() == whole

    def test_rollback_forgets_the_pieces_since_the_mark(self):
        verifier = Verifier([(1, FLOOD)])
        verifier.add("7月6日，全市防汛工作会议召开[1]。")
        mark = verifier.mark()
        verifier.add("投入9999亿元[1]。")
        verifier.rollback(mark)
        assert verifier.result() == verify_answer("7月6日，全市防汛工作会议召开[1]。", [(1, FLOOD)])


class TestSentencesSummingUpSeveralSources:
    visits = [
        item(n, f"江凌到{place}调研", f"7月{day}日，市委书记江凌到{place}调研{topic}等工作。", "时政/领导活动", f"2023-07-{day:02d}")
        for n, (place, day, topic) in enumerate(
            [("孟津区", 19, "产业发展、黄河防汛"), ("伊川县", 5, "特色产业发展、乡村治理"), ("偃师区", 11, "邻里中心建设"), ("嵩县", 20, "乡村振兴")], start=1
        )
    ]
    sources = list(enumerate(visits, start=1))

    def test_a_lead_naming_three_items_cites_all_three(self):
        result = verify_answer("2023年7月，市委书记江凌先后到孟津区、伊川县和偃师区调研。", self.sources)
        check = result.checks[0]
        assert check.supported, check.reason
        assert set(check.citations) == {1, 2, 3}

    def test_a_place_no_source_names_is_still_flagged(self):
        result = verify_answer("2023年7月，市委书记江凌先后到孟津区、伊川县和栾川县调研。", self.sources)
        assert not result.checks[0].supported
