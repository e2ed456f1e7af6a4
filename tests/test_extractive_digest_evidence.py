"""Pure pieces of answering: evidence scoring, the extractive picker and the month digest, on hand-made items."""

from __future__ import annotations

import pytest

from ingest.records import Item
from rag.digest import LLM_OVERVIEW_HEADING, OVERVIEW_HEADING, build_digest, leader_of, outline_for_overview, overview_first, render_digest
from rag.evidence import evidence_score, key_terms, required_numbers
from rag.extractive import extractive_answer


def item(n: int, title: str, text: str, section: str = "时政/领导活动", date: str | None = "2023-07-05") -> Item:
    return Item(f"doc#{n:04d}-x", "doc.txt", "bulletin", n, section, title, text, n, n, date)


GDP = item(1, "经济运行", "2020年全市地区生产总值达到5128.4亿元，同比增长3%。2021年计划增长7%。", "一、工作回顾", None)
VISIT = item(2, "江凌到伊川县调研", "7月5日，市委书记江凌到伊川县调研特色产业发展。他强调要抓好乡村治理。")
METRO = item(3, "地铁建设", "确保牡丹文化节前地铁1号线正式运营，年底前地铁2号线正式运营。", "三、重点工作", None)


class TestEvidence:
    def test_key_terms_drop_asking_words_and_dates(self):
        assert key_terms("2023年7月江凌去了哪些地方调研？") == ["江凌", "地方", "调研"]
        assert key_terms("2023年12月5日洛阳有什么活动？") == []

    def test_required_numbers(self):
        assert required_numbers("洛阳地铁3号线什么时候开通") == ["3号线"]
        assert required_numbers("7月28日召开了什么会") == []

    def test_covering_item_scores_high(self):
        assert evidence_score("江凌到伊川县调研了什么？", VISIT) == 1.0

    def test_a_number_the_item_lacks_zeroes_the_score(self):
        assert evidence_score("洛阳地铁3号线什么时候开通？", METRO) == 0.0
        assert evidence_score("洛阳地铁2号线什么时候运营？", METRO) == 1.0

    def test_date_only_question_needs_a_date_filter(self):
        assert evidence_score("12月5日有什么活动？", VISIT, dated=True) == 1.0
        assert evidence_score("12月5日有什么活动？", VISIT, dated=False) == 0.0

    def test_glued_search_tokens_get_partial_credit(self):
        assert 0 < evidence_score("江凌伊川视察", VISIT) <= 1


class TestExtractive:
    def test_best_sentence_with_its_citation(self):
        text = extractive_answer("2020年地区生产总值是多少？", [(1, GDP), (2, VISIT)])
        assert "5128.4亿元" in text and text.count("[1]") == 1 and "[2]" not in text
        assert "2021年计划" not in text  # the other year's sentence loses to the asked year's

    def test_list_gives_one_line_per_item(self):
        text = extractive_answer("江凌调研了哪些地方？", [(1, VISIT), (2, METRO)], intent="list")
        assert text.splitlines()[1].startswith("- 江凌到伊川县调研：") and text.splitlines()[1].endswith("[1]")
        assert len(text.splitlines()) == 3

    def test_sentences_are_verbatim(self):
        text = extractive_answer("地铁2号线什么时候运营", [(1, METRO)])
        sentence = text.splitlines()[1][2:].rsplit("[", 1)[0]
        assert sentence in METRO.text

    def test_no_sources(self):
        assert extractive_answer("问题", []) == ""


class TestDigest:
    items = [
        VISIT,
        item(4, "徐衣显到西工区调研", "7月6日，徐衣显到西工区调研。新建项目36个，总投资120亿元。", date="2023-07-06"),
        item(5, "市政府常务会议召开", "7月7日，市政府常务会议召开。", "时政/重要会议", "2023-07-07"),
        item(6, "洛阳小将夺金", "7月8日，洛阳小将夺得4金。", "社会事业/体育", "2023-07-08"),
    ]

    def test_leader_names(self):
        assert leader_of("江凌到伊川县调研") == "江凌"
        assert leader_of("徐衣显与中国银行举行工作会谈") == "徐衣显"
        assert leader_of("省政府督导组来洛督导") is None
        assert leader_of("市委常委会会议召开") is None

    def test_digest_covers_every_section_with_counts_and_citations(self):
        digest = build_digest("2023-07", self.items)
        assert [s.section for s in digest.sections] == ["时政/领导活动", "时政/重要会议", "社会事业/体育"]
        text, numbered = render_digest(digest)
        assert "本月共收录 4 条" in text and "### 时政/领导活动（2 条 · 江凌 1 项、徐衣显 1 项）" in text
        assert [n for n, _ in numbered] == [1, 2, 3, 4]
        assert "\n- 徐衣显到西工区调研（7月6日）[2]\n" in text  # one line per item: title, date, [n]
        assert "### 时政/重要会议（1 条 · 会议 1 项）" in text
        sections = text.split("### 时政/领导活动", 1)[1]
        assert "总投资120亿元" not in sections  # the item's text is one click away, not repeated

    def test_overview_comes_first_one_item_per_section_cited_like_its_line(self):
        text, _ = render_digest(build_digest("2023-07", self.items))
        overview = text.split(OVERVIEW_HEADING, 1)[1].split("\n### ", 1)[0]
        assert text.index(OVERVIEW_HEADING) < text.index("### 时政/领导活动")
        lines = [line for line in overview.splitlines() if line.startswith("- ")]
        assert len(lines) == 3  # three sections, one item each
        assert "- 7月7日，市政府常务会议召开。[3]" in lines  # the meeting's lede, cited as in its section
        assert all(line.rstrip().endswith("]") for line in lines)

    def test_digest_lines_are_verified_against_their_items(self):
        from rag.verify import verify_answer

        text, numbered = render_digest(build_digest("2023-07", self.items))
        verification = verify_answer(text, [(n, bullet.item) for n, bullet in numbered])
        assert verification.checks and verification.fidelity == 1.0

    def test_an_llm_overview_streamed_after_the_digest_reads_first_in_the_extractive_ones_place(self):
        text, _ = render_digest(build_digest("2023-07", self.items))
        arranged = overview_first(f"{text}\n{LLM_OVERVIEW_HEADING}\n本月洛阳召开市政府常务会议。[3]\n")
        assert arranged.count(OVERVIEW_HEADING) == 1 and LLM_OVERVIEW_HEADING not in arranged
        overview = arranged.split(OVERVIEW_HEADING, 1)[1].split("### 时政", 1)[0]
        assert overview.strip() == "本月洛阳召开市政府常务会议。[3]"  # the extractive overview gave way
        assert arranged.split("### 时政/领导活动", 1)[1] == text.split("### 时政/领导活动", 1)[1]
        assert overview_first(text) == text
        assert overview_first(f"{text}\n{LLM_OVERVIEW_HEADING}\n  \n") == text  # an empty overview changes nothing

    def test_outline_keeps_the_most_important_items(self):
        digest = build_digest("2023-07", self.items)
        _, numbered = render_digest(digest)
        full = outline_for_overview(digest, numbered, 10_000)
        assert "[1] 江凌到伊川县调研（7月5日）" in full and "[4] 洛阳小将夺金" in full
        short = outline_for_overview(digest, numbered, 3)
        assert short.splitlines() == [  # one item of each section before a second of any, in document order
            "[2] 徐衣显到西工区调研（7月6日）",  # the visit with figures ranks above the one without
            "[3] 市政府常务会议召开（7月7日）",
            "[4] 洛阳小将夺金（7月8日）",
        ]

    def test_empty_month_is_an_error(self):
        with pytest.raises(ValueError, match="2023-05"):
            build_digest("2023-05", [])


class TestFigureQuestions:
    def test_terms_next_to_the_asking_word(self):
        from rag.evidence import figure_terms

        assert figure_terms("洛阳城市阳台项目总投资是多少？") == ["投资"]
        assert figure_terms("今年牡丹文化节期间一共接待了多少游客？") == ["接待", "游客"]
        assert figure_terms("2023年《财富》中国500强里洛阳排第几？") == []  # a rank, not a quantity
        assert figure_terms("江凌到哪里调研？") == []

    def test_a_figure_must_stand_with_the_asked_term_or_a_variant(self):
        from rag.evidence import states_figure

        count = item(7, "科技型中小企业", "7月10日，172家企业入围。至此，全市科技型中小企业数量增至2503家。")
        assert states_figure(count, ["增加"])  # 增至 states what 增加到多少 asks
        assert not states_figure(VISIT, ["投资"])
        assert not states_figure(item(8, "开工", "7月20日，项目开工。"), ["投资"])  # a date is not a figure
        assert states_figure(VISIT, [])
