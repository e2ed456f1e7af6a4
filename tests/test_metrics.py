"""Metrics on tiny hand-made cases, empty inputs included."""

from __future__ import annotations

import pytest

from eval.dataset import GoldItem
from eval.metrics import (
    answer_contains,
    canonical,
    citation_precision,
    citation_recall,
    false_refusal_rate,
    faithfulness,
    hit_at_k,
    key_fact_recall,
    matches_gold,
    normalize,
    percentile,
    recall_at_k,
    reciprocal_rank,
    refusal_accuracy,
    resolve_gold_ids,
    shares_run,
    summary_coverage,
)
from ingest.records import Item
from rag.records import SentenceCheck

FEB = "000_feb.txt"


def _item(item_id: str, title: str, text: str, file: str = FEB) -> Item:
    return Item(
        item_id=item_id, file=file, kind="bulletin", position=0, section="时政/重要会议",
        title=title, text=text, line_start=1, line_end=1,
    )


class TestNormalize:
    def test_folds_spaces_and_full_width_forms(self):
        assert normalize("2 月 6 日，５１２８．４ 亿元（ＧＤＰ）") == normalize("2月6日，5128.4亿元(gdp)")


class TestGoldMatching:
    gold = GoldItem(FEB, "市委常委会会议召开", "2月6日，市委常委会召开会议")

    def test_matches_by_title_with_spaces_ignored(self):
        assert matches_gold(FEB, "市委常委会 会议召开", "另一段文字", self.gold)

    def test_matches_by_quote_inside_the_text(self):
        assert matches_gold(FEB, "别的标题", "前文。2 月 6 日，市委常委会召开会议。后文", self.gold)

    def test_other_file_never_matches(self):
        assert not matches_gold("001_jul.txt", "市委常委会会议召开", "2月6日，市委常委会召开会议", self.gold)

    def test_neither_title_nor_quote(self):
        assert not matches_gold(FEB, "市政府常务会议召开", "2月1日，市政府召开常务会议", self.gold)

    def test_resolve_prefers_the_item_holding_the_quote_over_a_repeated_title(self):
        items = [
            _item("a", "市委常委会会议召开", "2月6日，市委常委会召开会议。"),
            _item("b", "市委常委会会议召开", "2月20日，市委常委会召开会议。"),
            _item("c", "其他", "无关"),
        ]
        assert resolve_gold_ids([self.gold], items) == [frozenset({"a"})]

    def test_resolve_falls_back_to_the_title_and_to_nothing(self):
        items = [_item("b", "市委常委会会议召开", "正文被截断")]
        lost = GoldItem(FEB, "不存在的标题", "不存在的引文")
        assert resolve_gold_ids([self.gold, lost], items) == [frozenset({"b"}), frozenset()]
        assert resolve_gold_ids([], items) == []


class TestRankMetrics:
    retrieved = ["x", "g2", "y", "g1"]
    gold = ["g1", "g2"]

    def test_hit_at_k(self):
        assert hit_at_k(self.retrieved, self.gold, 1) == 0.0
        assert hit_at_k(self.retrieved, self.gold, 2) == 1.0

    def test_recall_at_k(self):
        assert recall_at_k(self.retrieved, self.gold, 3) == 0.5
        assert recall_at_k(self.retrieved, self.gold, 10) == 1.0

    def test_reciprocal_rank(self):
        assert reciprocal_rank(self.retrieved, self.gold) == 0.5
        assert reciprocal_rank(["g1"], self.gold) == 1.0
        assert reciprocal_rank(["x", "y"], self.gold) == 0.0

    def test_a_gold_entry_may_accept_several_ids_and_counts_once(self):
        gold = [{"a1", "a2"}, "b"]
        assert recall_at_k(["a2", "a1"], gold, 2) == 0.5
        assert reciprocal_rank(["z", "a2"], gold) == 0.5

    def test_nothing_retrieved_scores_zero(self):
        assert hit_at_k([], self.gold, 5) == 0.0
        assert recall_at_k([], self.gold, 5) == 0.0
        assert reciprocal_rank([], self.gold) == 0.0

    def test_no_gold_is_an_error_not_a_score(self):
        with pytest.raises(ValueError, match="gold"):
            recall_at_k(["x"], [], 5)
        with pytest.raises(ValueError, match="gold"):
            reciprocal_rank(["x"], [])

    def test_k_must_be_positive(self):
        with pytest.raises(ValueError, match="k=0"):
            hit_at_k(self.retrieved, self.gold, 0)


class TestKeyFactRecall:
    def test_counts_facts_found_after_normalisation(self):
        answer = "全市地区生产总值达到 5128.4 亿元，同比增长３%。"
        assert key_fact_recall(answer, ["5128.4亿元", "3%", "刘宛康"]) == pytest.approx(2 / 3)

    def test_empty_answer_finds_nothing(self):
        assert key_fact_recall("", ["5128.4亿元"]) == 0.0

    def test_no_key_facts_is_an_error(self):
        with pytest.raises(ValueError, match="key facts"):
            key_fact_recall("任何回答", [])

    @pytest.mark.parametrize(
        ("answer", "fact"),
        [
            ("洛阳第十三次荣获该称号", "第13次"),
            ("洛阳第13次荣获该称号", "第十三次"),
            ("共建设 2,000 个充电设施", "2000个"),
            ("共获得一百二十项成果", "120项"),
            ("二〇二三年十二月", "2023年12月"),
        ],
    )
    def test_notation_is_folded_through_the_verifiers_canonical_form(self, answer, fact):
        assert key_fact_recall(answer, [fact]) == 1.0

    @pytest.mark.parametrize(
        ("answer", "fact"),
        [
            ("洛阳队夺得4枚金牌", "4金"),  # a synonym, not a notation: not folded
            ("洛阳第十四次荣获该称号", "第13次"),
            ("共有194项成果获奖", "195项"),
        ],
    )
    def test_matching_is_not_inflated(self, answer, fact):
        assert key_fact_recall(answer, [fact]) == 0.0

    def test_canonical_keeps_words_that_only_look_like_numerals(self):
        assert canonical("一个项目，万人助万企") == "一个项目,万人助万企"  # only the comma is folded (NFKC)


class TestCrudRules:
    def test_the_answer_string_without_whitespace_must_be_in_the_answer(self):
        assert answer_contains("本次大赛按照 两个组 进行。", "两个 组")
        assert not answer_contains("本次大赛按照2个组进行。", "两个组")
        with pytest.raises(ValueError, match="empty"):
            answer_contains("回答", "  ")

    def test_a_retrieved_text_comes_from_a_file_when_they_share_24_characters(self):
        document = "江城市第三届全民羽毛球大赛在市体育中心开幕。本次大赛按照青年组和中老年组两个组进行，设三个项目。"
        assert shares_run("新闻：本次大赛按照青年组和中老年组两个组进行，设三个项目。后续内容", document)
        assert shares_run("按照青年组 和中老年组", document)  # shorter than 24: the whole text must be in it
        assert not shares_run("本次大赛按照青年组和中老年组三个组进行，共有来自全市的选手", document)
        assert not shares_run("", document)


class TestCitations:
    def test_precision_counts_gold_and_verified_citations(self):
        assert citation_precision(["g1", "s", "x", "y"], ["g1", "g2"], supported={"s"}) == 0.5

    def test_precision_without_citations_is_zero(self):
        assert citation_precision([], ["g1"]) == 0.0

    def test_recall_counts_each_gold_item_once(self):
        assert citation_recall(["g1", "g1", "x"], ["g1", "g2"]) == 0.5
        assert citation_recall([], ["g1"]) == 0.0

    def test_recall_needs_gold(self):
        with pytest.raises(ValueError):
            citation_recall(["g1"], [])


class TestFaithfulness:
    def test_share_of_supported_sentences(self):
        checks = [
            SentenceCheck("句一。", (1,), True),
            SentenceCheck("句二。", (1,), True),
            SentenceCheck("句三。", (), False, "无引用"),
        ]
        assert faithfulness(checks) == pytest.approx(2 / 3)

    def test_no_checks_is_an_error(self):
        with pytest.raises(ValueError, match="verify"):
            faithfulness([])


class TestRefusals:
    answerable = [True, True, False, False, False]
    refused = [False, True, True, True, False]

    def test_refusal_accuracy_on_unanswerable(self):
        assert refusal_accuracy(self.answerable, self.refused) == pytest.approx(2 / 3)

    def test_false_refusal_rate_on_answerable(self):
        assert false_refusal_rate(self.answerable, self.refused) == 0.5

    def test_each_needs_its_kind_of_question(self):
        with pytest.raises(ValueError, match="unanswerable"):
            refusal_accuracy([True], [False])
        with pytest.raises(ValueError, match="answerable"):
            false_refusal_rate([], [])

    def test_lengths_must_agree(self):
        with pytest.raises(ValueError, match="one of each"):
            refusal_accuracy([False, False], [True])


class TestSummaryCoverage:
    required = ["国家文物局调研组来洛", "市政府第 3 次常务会议召开", "洛阳市安全生产工作会议召开", "栾川至卢氏高速公路通车"]

    def test_titles_inside_the_text(self):
        digest = "特别关注：国家文物局调研组来洛（2月9日）；重要会议：市政府第3次常务会议召开。"
        assert summary_coverage(digest, self.required) == 0.5

    def test_cited_titles_match_despite_small_differences(self):
        cited = ["市政府第3次常务会议召开", "洛阳市安全生产工作会议召开。", "国家文物局调研组来洛阳", "无关标题"]
        assert summary_coverage(cited, self.required) == 0.75

    def test_nothing_cited_covers_nothing(self):
        assert summary_coverage([], self.required) == 0.0
        assert summary_coverage("", self.required) == 0.0

    def test_no_required_titles_is_an_error(self):
        with pytest.raises(ValueError):
            summary_coverage("摘要", [])


class TestPercentile:
    def test_median_and_tail_interpolate_between_ranks(self):
        values = [40.0, 10.0, 30.0, 20.0]
        assert percentile(values, 50) == 25.0
        assert percentile(values, 95) == pytest.approx(38.5)
        assert percentile(values, 0) == 10.0
        assert percentile(values, 100) == 40.0

    def test_single_value(self):
        assert percentile([7.0], 95) == 7.0

    def test_empty_or_out_of_range_is_an_error(self):
        with pytest.raises(ValueError, match="no values"):
            percentile([], 50)
        with pytest.raises(ValueError, match="between 0 and 100"):
            percentile([1.0], 101)
