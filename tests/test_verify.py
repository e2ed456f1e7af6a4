"""rag.verify: answers checked sentence by sentence against hand-made items and real corpus text."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.records import Item
from rag.verify import (
    REFUSAL,
    Verification,
    extract_facts,
    normalize_citations,
    parse_citations,
    verify_answer,
)

CORPUS = Path(__file__).resolve().parent.parent / "data" / "corpus"


def make_item(position: int, title: str, text: str, date: str | None = None) -> Item:
    return Item(f"test#{position:04d}", "test.txt", "bulletin", position, "时政", title, text,
                position, position, date)


FLOOD = make_item(
    1, "洛阳市防汛工作会议召开",
    "7月6日，全市防汛工作会议召开，确保全市安全度汛。市委书记江凌主持会议并讲话，市长徐衣显作具体部署。",
    "2023-07-06",
)
UNION = make_item(
    2, "洛阳市总工会获评全国“最美家政工会”",
    "12月21日，全国总工会评选出10个全国“最美家政工会”，洛阳市总工会成功入选，也是全省唯一入选工会。",
    "2023-12-21",
)
PATENTS = make_item(
    3, "洛阳市企业已获得国际专利 214 件",
    "2 月 24 日，中钢洛耐科技股份有限公司申请的专利获韩国发明专利授权。至此，洛阳市已有 60 余家企业"
    "共获得国际专利 214 件。",
    "2023-02-24",
)
GROWTH = make_item(4, "经济运行", "全年全市工业增加值同比增长3%，新增城镇就业2.1万人，新培育规上企业36家。")
SOURCES = [(1, FLOOD), (2, UNION), (3, PATENTS)]


def only_check(result: Verification):
    assert len(result.checks) == 1, result.checks
    return result.checks[0]


def assert_quotes_verbatim(result: Verification) -> None:
    for citation in result.citations:
        assert citation.quote, citation
        assert citation.quote in citation.item.text


class TestCorrectAnswers:
    def test_faithful_cited_answer_has_full_fidelity(self):
        answer = ("7月6日，全市防汛工作会议召开，市委书记江凌主持会议[1]。"
                  "洛阳市总工会入选全国10个“最美家政工会”，是全省唯一入选的工会[2]。")
        result = verify_answer(answer, SOURCES)
        assert result.fidelity == 1.0
        assert [check.supported for check in result.checks] == [True, True]
        assert [check.citations for check in result.checks] == [(1,), (2,)]
        assert result.text == answer
        assert [citation.n for citation in result.citations] == [1, 2]
        assert_quotes_verbatim(result)

    def test_checks_quote_the_sentence_as_it_stands_in_the_text(self):
        result = verify_answer("洛阳市已有60余家企业获得国际专利214件。[3]", SOURCES)
        check = only_check(result)
        assert check.sentence in result.text
        assert check.sentence.endswith("[3]")

    def test_quote_is_the_supporting_sentence(self):
        result = verify_answer("市长徐衣显作具体部署[1]。", SOURCES)
        assert result.citations[0].quote == "市委书记江凌主持会议并讲话，市长徐衣显作具体部署。"

    def test_quote_grows_to_the_sentences_a_claim_draws_on(self):
        result = verify_answer("7月6日的全市防汛工作会议上，市长徐衣显作具体部署[1]。", SOURCES)
        assert result.citations[0].quote == FLOOD.text

    def test_quote_spans_a_sentence_cut_by_a_line_break(self):
        broken = make_item(5, "民生", "全年新增就业 32723人，安置下岗失业人员再\n就业 4678人。医保改革有序推进。")
        result = verify_answer("全年新增就业32723人，安置下岗失业人员再就业4678人[1]。", [(1, broken)])
        assert result.fidelity == 1.0
        quote = result.citations[0].quote
        assert quote in broken.text
        assert "32723" in quote and "4678" in quote

    def test_claim_using_two_sources_keeps_both_quotes(self):
        answer = "7月6日召开全市防汛工作会议[1]；2月24日，洛阳已有60余家企业获得国际专利[3]。"
        result = verify_answer(answer, SOURCES)
        assert result.fidelity == 1.0
        assert [citation.n for citation in result.citations] == [1, 3]
        assert "60 余家" in result.citations[1].quote
        assert_quotes_verbatim(result)


class TestFlaggedClaims:
    def test_invented_number_is_flagged(self):
        result = verify_answer("全年全市工业增加值同比增长5%[1]。", [(1, GROWTH)])
        check = only_check(result)
        assert not check.supported
        assert "5%" in check.reason
        assert result.fidelity == 0.0
        assert "增长5%" in result.text  # the text keeps the sentence; the UI marks it

    def test_number_inside_a_longer_number_does_not_count(self):
        result = verify_answer("全年全市工业增加值同比增长13%[1]。", [(1, GROWTH)])
        assert not only_check(result).supported

    def test_changed_unit_is_flagged(self):
        result = verify_answer("新培育规上企业36个[1]。", [(1, GROWTH)])
        check = only_check(result)
        assert not check.supported and "36个" in check.reason

    def test_wrong_date_is_flagged(self):
        result = verify_answer("7月8日，全市防汛工作会议召开，市委书记江凌主持会议[1]。", SOURCES)
        check = only_check(result)
        assert not check.supported
        assert "7月8日" in check.reason

    def test_wrong_name_is_flagged(self):
        result = verify_answer("7月6日，全市防汛工作会议召开，市委书记李保国主持会议[1]。", SOURCES)
        check = only_check(result)
        assert not check.supported
        assert "李保国" in check.reason

    def test_claim_without_facts_needs_shared_wording(self):
        result = verify_answer("会议强调要加快建设国际消费中心城市，培育新型消费业态[1]。", SOURCES)
        check = only_check(result)
        assert not check.supported
        assert "重合度" in check.reason

    def test_fidelity_counts_supported_claims(self):
        answer = "全年全市工业增加值同比增长3%[1]。新增城镇就业3万人[1]。新培育规上企业36家[1]。"
        result = verify_answer(answer, [(1, GROWTH)])
        assert [check.supported for check in result.checks] == [True, False, True]
        assert result.fidelity == pytest.approx(2 / 3)


class TestCitationRepair:
    def test_citation_to_a_missing_source_is_removed(self):
        result = verify_answer("7月6日，全市防汛工作会议召开[1][7]。洛阳市总工会入选“最美家政工会”[7]。",
                               SOURCES)
        assert "[7]" not in result.text
        assert 7 not in [citation.n for citation in result.citations]
        assert result.checks[0].citations == (1,)

    def test_sentence_citing_the_wrong_source_is_recited(self):
        result = verify_answer("7月6日，全市防汛工作会议召开，市委书记江凌主持会议[2]。", SOURCES)
        check = only_check(result)
        assert check.supported
        assert check.citations == (1,)
        assert "[2]" not in result.text and "主持会议[1]。" in result.text
        assert "改引 [1]" in check.reason
        assert [citation.n for citation in result.citations] == [1]

    def test_uncited_supported_sentence_gets_a_citation(self):
        result = verify_answer("洛阳市已有60余家企业获得国际专利214件。", SOURCES)
        check = only_check(result)
        assert check.supported and check.citations == (3,)
        assert result.text == "洛阳市已有60余家企业获得国际专利214件[3]。"
        assert [citation.n for citation in result.citations] == [3]

    def test_uncited_unsupported_sentence_is_flagged_without_a_citation(self):
        result = verify_answer("全市新建5G基站3000个。", SOURCES)
        check = only_check(result)
        assert not check.supported and check.citations == ()
        assert result.citations == []

    def test_missing_second_source_is_added(self):
        result = verify_answer("7月6日全市召开防汛工作会议，12月21日洛阳市总工会入选“最美家政工会”[1]。",
                               SOURCES)
        check = only_check(result)
        assert check.supported
        assert check.citations == (1, 2)
        assert "[1][2]" in result.text

    def test_figure_found_only_in_an_unrelated_source_stays_flagged(self):
        parks = make_item(6, "城市建设", "全市新建口袋公园40家，改造老旧小区120个。")
        result = verify_answer("全年全市工业增加值同比增长3%，新培育规上企业40家[1]。", [(1, GROWTH), (2, parks)])
        check = only_check(result)
        assert not check.supported
        assert check.citations == () and "[1]" not in result.text and "[2]" not in result.text  # flagged, not cited
        assert "40家" in check.reason

    def test_near_duplicate_source_gives_way_to_the_one_the_claim_came_from(self):
        routine = make_item(7, "常务会议", "12月1日，市长徐衣显主持召开市政府第16次常务会议，研究安全生产、"
                            "历史文化街区保护等工作。", "2023-12-01")
        finance = make_item(8, "专题会议", "12月1日，市长徐衣显主持召开专题会议，研究财政管理、预算执行等工作。",
                            "2023-12-01")
        result = verify_answer("12月1日，市长徐衣显主持召开专题会议，研究财政管理等工作[1]。",
                               [(1, routine), (2, finance)])
        check = only_check(result)
        assert check.supported and check.citations == (2,)

    def test_unrelated_co_citation_is_dropped(self):
        result = verify_answer("洛阳市总工会是全省唯一入选的工会[1, 2]。", SOURCES)
        check = only_check(result)
        assert check.supported and check.citations == (2,)
        assert result.text == "洛阳市总工会是全省唯一入选的工会[2]。"


class TestMarkers:
    @pytest.mark.parametrize(
        "marked",
        ["江凌主持会议[1][2]。", "江凌主持会议[1,2]。", "江凌主持会议[1, 2]。", "江凌主持会议【1】【2】。",
         "江凌主持会议［１］［２］。", "江凌主持会议[1、2]。", "江凌主持会议 [1] [2]。", "江凌主持会议[1][1][2]。"],
    )
    def test_marker_styles_are_normalised(self, marked):
        assert normalize_citations(marked, {1, 2}) == "江凌主持会议[1][2]。"
        assert parse_citations(marked) == [1, 2]

    def test_marker_after_the_full_stop_stays_on_its_sentence(self):
        result = verify_answer("7月6日，全市防汛工作会议召开。【1】洛阳市总工会入选“最美家政工会”。【2】", SOURCES)
        assert result.text == "7月6日，全市防汛工作会议召开。[1]洛阳市总工会入选“最美家政工会”。[2]"
        assert [check.citations for check in result.checks] == [(1,), (2,)]
        assert result.fidelity == 1.0

    def test_a_question_mark_inside_a_link_ends_no_sentence_so_marking_leaves_the_link_whole(self):
        link = "http://127.0.0.1:9/a.png?q=1&r=2"
        result = verify_answer(f"全市新建学校99所，详见 {link} 。好吗?全市防汛工作会议召开[1]。", SOURCES)
        assert link in result.text and "（未核实）" in result.text
        assert [check.sentence.startswith(("全市新建", "好吗", "全市防汛")) for check in result.checks] == [True] * 3  # "吗?" does end one
        assert not result.checks[0].supported and result.checks[2].supported

    def test_parse_citations_keeps_first_appearance_order(self):
        assert parse_citations("甲[3]乙[1, 3]丙【2】丁[1]") == [3, 1, 2]
        assert parse_citations("没有引用（2023）〔2024〕") == []

    def test_citations_are_listed_in_order_of_first_appearance(self):
        result = verify_answer("洛阳市总工会入选“最美家政工会”[2]。全市防汛工作会议7月6日召开[1]。", SOURCES)
        assert [citation.n for citation in result.citations] == [2, 1]


class TestStructure:
    def test_refusal_has_full_fidelity_and_no_checks(self):
        result = verify_answer(f"{REFUSAL}。", SOURCES)
        assert result.checks == []
        assert result.citations == []
        assert result.fidelity == 1.0
        assert result.text == f"{REFUSAL}。"

    def test_empty_answer(self):
        result = verify_answer("", SOURCES)
        assert result == Verification("", [], [], 1.0)

    def test_headers_intro_lines_and_bullets_are_not_claims(self):
        answer = ("## 2023年工作要点\n\n主要内容如下：\n**防汛**\n"
                  "- 7月6日，全市防汛工作会议召开[1]。\n"
                  "1. 洛阳市总工会入选“最美家政工会”[2]；洛阳市已有60余家企业获得国际专利[3]。\n")
        result = verify_answer(answer, SOURCES)
        assert [check.citations for check in result.checks] == [(1,), (2,), (3,)]
        assert result.fidelity == 1.0
        assert result.text == answer

    def test_talk_about_the_sources_is_not_a_claim(self):
        result = verify_answer("根据资料，7月6日全市防汛工作会议召开[1]。以上信息均来自所给资料。", SOURCES)
        assert [check.citations for check in result.checks] == [(1,)]
        assert result.fidelity == 1.0

    def test_refusal_followed_by_a_claim_is_checked(self):
        result = verify_answer(f"{REFUSAL}，但全年工业增加值增长5%[1]。", [(1, GROWTH)])
        assert not only_check(result).supported

    def test_sources_must_have_unique_positive_numbers(self):
        with pytest.raises(ValueError, match="重复"):
            verify_answer("江凌主持会议[1]。", [(1, FLOOD), (1, UNION)])
        with pytest.raises(ValueError, match="正整数"):
            verify_answer("江凌主持会议[1]。", [(0, FLOOD)])


class TestFacts:
    def test_numbers_dates_terms_and_names(self):
        facts = extract_facts("7月6日，市委书记江凌在涧西区调研《洛阳市住宅物业管理条例》，投资5128.4亿元，增长3%[1]。")
        assert facts == ["洛阳市住宅物业管理条例", "7月6日", "5128.4亿元", "3%", "江凌", "涧西区"]

    def test_names_found_by_jieba_but_not_common_words_it_mis_tags(self):
        assert extract_facts("市委书记李保国主持会议") == ["李保国"]
        assert extract_facts("市长徐衣显主持会议，栾川县、涧西区参加") == ["徐衣显", "栾川县", "涧西区"]
        assert extract_facts("加快建设文明城市，提升群众幸福感") == []

    def test_spaces_full_width_digits_and_chinese_numerals(self):
        assert extract_facts("2 月 6 日召开") == ["2月6日"]
        assert extract_facts("共获得国际专利２１４件") == ["214件"]
        assert extract_facts("二〇二三年十二月一日，第十六届，百分之三") == ["2023年", "12月1日", "16届", "3%"]

    def test_chinese_numerals_and_spaced_source_text_support_a_claim(self):
        answer = "截至二月二十四日，洛阳已有六十余家企业共获得国际专利二百一十四件[1]。"
        result = verify_answer(answer, [(1, PATENTS)])
        assert result.fidelity == 1.0
        assert "60 余家" in result.citations[0].quote

    def test_latin_words_stay_apart_from_numbers(self):
        assert extract_facts("GDP 5128.4 亿元，PM2.5 均值下降") == ["pm2.5", "5128.4亿元"]

    def test_same_value_written_another_way_is_supported(self):
        result = verify_answer("新增城镇就业21000人[1]。", [(1, GROWTH)])
        assert only_check(result).supported


class TestRealCorpus:
    @pytest.fixture
    def gdp_item(self) -> Item:
        report = next(CORPUS.glob("004_*.txt")).read_text(encoding="utf-8")
        paragraph = next(line for line in report.splitlines() if "5128.4亿元" in line)
        return Item("004#real", "004.txt", "report", 0, "一、2020年和“十三五”工作回顾", "", paragraph,
                    15, 15, "2021-02-07")

    def test_faithful_paraphrase_passes(self, gdp_item):
        answer = "2020年，洛阳全市地区生产总值达到5128.4亿元，同比增长3%，比全省高1.7个百分点[1]。"
        result = verify_answer(answer, [(1, gdp_item)])
        assert result.fidelity == 1.0
        quote = result.citations[0].quote
        assert quote in gdp_item.text and "5128.4亿元" in quote

    @pytest.mark.parametrize("changed", ["5218.4亿元，同比增长3%", "5128.4亿元，同比增长4%"])
    def test_changed_figure_fails(self, gdp_item, changed):
        answer = f"2020年，洛阳全市地区生产总值达到{changed}，比全省高1.7个百分点[1]。"
        result = verify_answer(answer, [(1, gdp_item)])
        check = only_check(result)
        assert not check.supported
        assert result.fidelity == 0.0
