"""The evidence gate on news-like items: a figure worded otherwise than the question asks it, and
words tagged as names that are not the names an item must contain."""

from __future__ import annotations

import pytest

from ingest.records import Item
from rag.evidence import TermWeights, evidence_score, quantity_pattern


def news(n: int, title: str, text: str) -> Item:
    return Item(f"news#{n:04d}-x", f"news{n}.txt", "generic", n, "", title, text, 1, 1, "2023-07-30")


RAIN = news(1, "台风影响丹东", "受台风影响，丹东地区及周边将有中到大雨，局地暴雨。")
EXPORTS = news(6, "汽车出口", "上半年中国汽车出口超过日本，成为全球汽车出口第一。")
ATTACK = news(2, "无人机袭击莫斯科", "俄国防部说，乌克兰无人机凌晨袭击莫斯科，没有造成人员伤亡。")
OTHERS = [
    news(3, "周边游升温", "暑期周边游升温，市民多选周边景区。"),
    news(4, "地区经济", "多个地区经济回升，地区生产总值同比增长。"),
    news(5, "降雨", "全省降雨偏多，城区出现积水。"),
]
# Filler so that a name in one item is rare (a name in 5% of the items is the corpus's own setting).
FILLER = [news(10 + n, "", f"第{n}条：城区道路维修完成。") for n in range(40)]
WEIGHTS = TermWeights(item.text for item in [RAIN, ATTACK, EXPORTS, *OTHERS, *FILLER])


class TestAFigureWordedOtherwise:
    """The item states the figure with a different word for the asked thing: its kind of quantity counts."""

    @pytest.mark.parametrize(
        "question, stated, unstated",
        [
            ("上半年工业增加值同比增长率是多少？", "上半年轻工业增加值同比增长0.4%。", "上半年轻工业增加值同比增长较快。"),
            ("旅游计次票价格是多少？", "旅游计次票售价420元。", "旅游计次票即将开售。"),
            ("旅游计次票的有效期是多少天？", "旅游计次票启用后9天内有效。", "旅游计次票6月14日启用，长期有效。"),
            ("沉船事故的死亡人数是多少？", "调查人员预估沉船事故有超过500人死亡。", "调查人员预估沉船事故死亡人员众多。"),
        ],
        ids=["share-as-percent", "price-as-money", "validity-as-duration", "headcount-as-people"],
    )
    def test_a_figure_of_the_asked_kind_answers_and_its_absence_does_not(self, question, stated, unstated):
        assert evidence_score(question, news(9, "", stated)) > 0.5
        assert evidence_score(question, news(9, "", unstated)) == 0.0

    def test_a_date_is_no_duration_and_a_year_no_count(self):
        assert not quantity_pattern(["有效期"]).search("6月14日凌晨")
        assert not quantity_pattern(["人数"]).search("2023年")
        assert quantity_pattern(["比赛"]) is None  # "比赛" is not a share


class TestNamesAnItemMustContain:
    def test_an_ordinary_phrase_tagged_as_a_place_is_not_required(self):
        # "周边地区" is jieba-tagged ns; the corpus never writes it whole but writes "周边" and "地区".
        assert evidence_score("丹东地区及其周边地区会有什么样的降雨？", RAIN, weights=WEIGHTS) > 0.5

    def test_a_place_absent_from_the_whole_corpus_still_refuses(self):
        assert evidence_score("平顶山地区会有什么样的降雨？", RAIN, weights=WEIGHTS) == 0.0

    def test_a_place_with_a_suffix_is_named_by_its_stem(self):
        assert evidence_score("谁说无人机袭击了莫斯科州？", ATTACK, weights=WEIGHTS) > 0.5
        assert evidence_score("谁说无人机袭击了圣彼得堡市？", ATTACK, weights=WEIGHTS) == 0.0

    def test_a_word_after_a_chinese_numeral_is_a_rank_not_a_name(self):
        # jieba tags "大国" ns; "第一大国" ranks a class of countries.
        assert evidence_score("中国超过了哪个国家成为全球汽车出口第一大国？", EXPORTS, weights=WEIGHTS) > 0.5
