"""Question understanding: periods, intents, multi-part questions and follow-ups (rag.query)."""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.runnables import RunnableLambda

from rag.query import Catalog, parse_query, rewrite_with_llm

CATALOG = Catalog(
    bulletin_months=("2023-07", "2023-02", "2023-12"),
    report_periods=("2021-02-07", "2022-04-23"),
)
JULY_TRIP = [("7月江凌去了哪些地方调研？", "江凌到伊川县、偃师区调研。[1][2]")]


class TestCatalog:
    def test_sorts_months_and_knows_the_newest(self):
        assert CATALOG.bulletin_months == ("2023-02", "2023-07", "2023-12")
        assert CATALOG.newest_month == "2023-12"

    def test_falls_back_to_the_newest_report_without_bulletins(self):
        assert Catalog(report_periods=("2021-02-07", "2022-04-23")).newest_month == "2022-04"
        assert Catalog().newest_month is None

    @pytest.mark.parametrize(
        "kwargs",
        [{"bulletin_months": ("2023-7",)}, {"bulletin_months": ("2023-13",)}, {"report_periods": ("2021-02",)}],
    )
    def test_rejects_malformed_periods(self, kwargs):
        with pytest.raises(ValueError, match="格式不对"):
            Catalog(**kwargs)


class TestValidation:
    @pytest.mark.parametrize("question", ["", "   ", "\n\t", "\u3000"])
    def test_empty_question_is_rejected(self, question):
        with pytest.raises(ValueError, match="问题不能为空"):
            parse_query(question, CATALOG)

    def test_original_keeps_the_users_words(self):
        query = parse_query(" ２０２３ 年 ７ 月有什么大事？ ", CATALOG)
        assert query.original == "２０２３ 年 ７ 月有什么大事？"
        assert query.text == "2023年7月有什么大事？"


class TestPeriods:
    @pytest.mark.parametrize(
        "question, date_from, date_to, months, label",
        [
            ("2023年7月江凌去了哪里？", "2023-07-01", "2023-07-31", ("2023-07",), "2023年7月"),
            ("2023 年 12 月洛阳召开了哪些会议", "2023-12-01", "2023-12-31", ("2023-12",), "2023年12月"),
            ("２０２３年２月的领导活动", "2023-02-01", "2023-02-28", ("2023-02",), "2023年2月"),
            ("７月有哪些企业上榜", "2023-07-01", "2023-07-31", ("2023-07",), "2023年7月"),
            ("七月江凌去了哪里", "2023-07-01", "2023-07-31", ("2023-07",), "2023年7月"),
            ("十二月的常务会议", "2023-12-01", "2023-12-31", ("2023-12",), "2023年12月"),
            ("二〇二三年二月有哪些会议", "2023-02-01", "2023-02-28", ("2023-02",), "2023年2月"),
            ("7月份的招商活动", "2023-07-01", "2023-07-31", ("2023-07",), "2023年7月"),
            ("12月28日召开了什么会议", "2023-12-28", "2023-12-28", ("2023-12",), "2023年12月28日"),
            ("7月28日 江凌 会见了谁", "2023-07-28", "2023-07-28", ("2023-07",), "2023年7月28日"),
            ("7 月 28 号的活动", "2023-07-28", "2023-07-28", ("2023-07",), "2023年7月28日"),
            ("7月下旬有什么活动", "2023-07-21", "2023-07-31", ("2023-07",), "2023年7月下旬"),
            ("2月上旬有什么活动", "2023-02-01", "2023-02-10", ("2023-02",), "2023年2月上旬"),
            ("12月中旬有什么活动", "2023-12-11", "2023-12-20", ("2023-12",), "2023年12月中旬"),
            ("2月底召开了什么会", "2023-02-21", "2023-02-28", ("2023-02",), "2023年2月底"),
            ("2月9日至10日的活动", "2023-02-09", "2023-02-10", ("2023-02",), "2023年2月9日至10日"),
            ("2023年2月9-10日", "2023-02-09", "2023-02-10", ("2023-02",), "2023年2月9日至10日"),
            ("2023年第三季度的经济数据", "2023-07-01", "2023-09-30", ("2023-07",), "2023年第三季度"),
            ("2023年下半年有哪些大事", "2023-07-01", "2023-12-31", ("2023-07", "2023-12"), "2023年下半年"),
            ("2023年上半年", "2023-01-01", "2023-06-30", ("2023-02",), "2023年上半年"),
            ("2023年洛阳有哪些荣誉", "2023-01-01", "2023-12-31", ("2023-02", "2023-07", "2023-12"), "2023年"),
            ("2月到7月有哪些项目开工", "2023-02-01", "2023-07-31", ("2023-02", "2023-07"), "2023年2月至7月"),
            ("从2023年2月至7月", "2023-02-01", "2023-07-31", ("2023-02", "2023-07"), "2023年2月至7月"),
        ],
    )
    def test_period_becomes_dates_months_and_label(self, question, date_from, date_to, months, label):
        query = parse_query(question, CATALOG)
        assert (query.date_from, query.date_to, query.months, query.period_label) == (date_from, date_to, months, label)
        assert query.sub_questions == ()

    @pytest.mark.parametrize("question", ["洛阳有哪些专精特新企业？", "江凌会见了谁", "GDP是多少", "年度目标是什么", "五年前年均增长多少", "6个月内完成"])
    def test_no_date_means_no_filter(self, question):
        query = parse_query(question, CATALOG)
        assert (query.date_from, query.date_to, query.months, query.period_label) == (None, None, (), "")
        assert query.notes == ()

    @pytest.mark.parametrize(
        "question, months, label",
        [("2023年5月洛阳有什么大事", ("2023-05",), "2023年5月"), ("2022年12月的常务会议", ("2022-12",), "2022年12月")],
    )
    def test_uncovered_month_is_kept_as_asked(self, question, months, label):
        query = parse_query(question, CATALOG)
        assert query.months == months
        assert query.period_label == label
        assert query.date_from == months[0] + "-01"

    def test_uncovered_quarter_of_a_covered_year_keeps_its_months(self):
        query = parse_query("2023年第二季度的工业增加值", CATALOG)
        assert query.months == ("2023-04", "2023-05", "2023-06")
        assert (query.date_from, query.date_to) == ("2023-04-01", "2023-06-30")

    @pytest.mark.parametrize("question, year", [("2020年洛阳地区生产总值是多少？", 2020), ("2021年的主要目标", 2021)])
    def test_year_without_bulletins_leaves_dates_open_for_the_reports(self, question, year):
        query = parse_query(question, CATALOG)
        assert (query.date_from, query.date_to, query.months) == (None, None, ())
        assert query.period_label == f"{year}年"
        assert any(f"{year}年" in note and "工作报告" in note for note in query.notes)

    def test_month_without_year_takes_the_year_written_elsewhere(self):
        query = parse_query("2022年2月和7月", Catalog(("2022-02", "2022-07", "2023-07")))
        assert query.months == ("2022-02", "2022-07")

    def test_month_without_year_takes_the_newest_bulletin_having_it(self):
        catalog = Catalog(("2022-07", "2023-02", "2023-12"))
        assert parse_query("7月有什么大事", catalog).months == ("2022-07",)
        assert parse_query("2月有什么大事", catalog).months == ("2023-02",)

    def test_month_no_bulletin_has_takes_the_newest_document_year(self):
        query = parse_query("5月有什么大事", CATALOG)
        assert query.months == ("2023-05",)
        assert any("最新的文件" in note and "2023年" in note for note in query.notes)

    @pytest.mark.parametrize(
        "question, date_from",
        [("2023年上半年GDP增长多少", "2023-01-01"), ("2023年第二季度出口多少", "2023-04-01"), ("截至7月24日报名多少人", "2023-07-24")],
    )
    def test_period_reported_after_it_ends_stays_open_for_dated_documents(self, question, date_from):
        news = Catalog(dated_months=("2023-07", "2023-08"))
        query = parse_query(question, news)
        assert (query.date_from, query.date_to) == (date_from, None)

    def test_month_and_day_stay_closed_for_dated_documents(self):
        news = Catalog(dated_months=("2023-07", "2023-08"))
        assert (parse_query("7月24日发生了什么", news).date_to) == "2023-07-24"
        assert (parse_query("2023年7月有什么新闻", news).date_to) == "2023-07-31"

    def test_impossible_day_falls_back_to_the_whole_month(self):
        query = parse_query("2023年2月30日的会议", CATALOG)
        assert (query.date_from, query.date_to) == ("2023-02-01", "2023-02-28")
        assert "“2023年2月30日”不是有效日期，按2023年2月整月查找。" in query.notes

    def test_cumulative_statistic_period_is_not_a_date_filter(self):
        query = parse_query("2023年1-11月规上工业增加值增长多少？", CATALOG)
        assert (query.date_from, query.date_to, query.months) == (None, None, ())
        assert query.period_label == "2023年1-11月"


class TestRelativeWords:
    @pytest.mark.parametrize(
        "question, months, note",
        [
            ("今年12月有什么大事", ("2023-12",), "“今年”按语料中最新的月报理解为2023年。"),
            ("本月有哪些会议", ("2023-12",), "“本月”按语料中最新的月报理解为2023年12月。"),
            ("最近有什么大事", ("2023-12",), "“最近”按语料中最新的月报理解为2023年12月。"),
            ("上个月有哪些会议", ("2023-11",), "“上个月”按语料中最新的月报（2023年12月）理解为2023年11月。"),
            ("7月江凌去了哪里", ("2023-07",), "“7月”未注明年份，按语料中的月报理解为2023年7月。"),
        ],
    )
    def test_relative_word_resolves_against_the_newest_bulletin_with_a_note(self, question, months, note):
        query = parse_query(question, CATALOG)
        assert query.months == months
        assert note in query.notes

    def test_last_year_with_no_bulletin_stays_open_and_says_so(self):
        query = parse_query("去年洛阳GDP增长多少", CATALOG)
        assert query.period_label == "2022年"
        assert (query.date_from, query.months) == (None, ())
        assert "“去年”按语料中最新的月报（2023年）理解为2022年。" in query.notes

    def test_this_year_follows_the_catalog_not_the_clock(self):
        query = parse_query("今年有哪些大事", Catalog(("2021-03",)))
        assert (query.date_from, query.date_to, query.months) == ("2021-01-01", "2021-12-31", ("2021-03",))

    def test_empty_catalog_says_it_cannot_resolve(self):
        query = parse_query("本月有哪些会议", Catalog())
        assert query.months == ()
        assert any("语料中还没有文件" in note for note in query.notes)


class TestIntent:
    @pytest.mark.parametrize(
        "question, intent",
        [
            ("总结一下2023年7月", "month_summary"),
            ("2023年7月洛阳有哪些重要工作？", "month_summary"),
            ("7月有什么大事", "month_summary"),
            ("12月工作概况", "month_summary"),
            ("本月发生了哪些大事？", "month_summary"),
            ("2023年12月政务信息月报的主要内容是什么", "month_summary"),
            ("7月江凌去了哪些地方调研？", "list"),
            ("列出2月的领导活动", "list"),
            ("有哪些企业上榜2023年《财富》中国500强？", "list"),
            ("总结一下7月江凌的调研活动", "answer"),
            ("有什么大事", "list"),
            ("总结一下", "answer"),
            ("2023年7月28日有什么大事", "list"),
            ("2023年有什么大事", "list"),
            ("洛阳2020年地区生产总值是多少？", "answer"),
            ("12月28日召开了什么会议", "answer"),
        ],
    )
    def test_intent(self, question, intent):
        assert parse_query(question, CATALOG).intent == intent


class TestMultiPart:
    def test_two_months_get_one_sub_question_each(self):
        query = parse_query("2月和12月分别召开了哪些常务会议？", CATALOG)
        assert [sub.text for sub in query.sub_questions] == ["2023年2月召开了哪些常务会议？", "2023年12月召开了哪些常务会议？"]
        assert [sub.months for sub in query.sub_questions] == [("2023-02",), ("2023-12",)]
        assert query.months == ("2023-02", "2023-12")
        assert all(sub.intent == "list" for sub in query.sub_questions)

    def test_comparison_words_leave_the_parts(self):
        query = parse_query("对比2023年2月和7月的规上工业增加值增速有什么变化", CATALOG)
        assert [sub.text for sub in query.sub_questions] == ["2023年2月的规上工业增加值增速", "2023年7月的规上工业增加值增速"]
        assert [(sub.date_from, sub.date_to) for sub in query.sub_questions] == [
            ("2023-02-01", "2023-02-28"),
            ("2023-07-01", "2023-07-31"),
        ]

    @pytest.mark.parametrize("question", ["2月、7月、12月有哪些重要工作？", "２月，７月与１２月有哪些重要工作？"])
    def test_three_months(self, question):
        query = parse_query(question, CATALOG)
        assert [sub.months for sub in query.sub_questions] == [("2023-02",), ("2023-07",), ("2023-12",)]
        assert all(sub.intent == "month_summary" for sub in query.sub_questions)
        assert query.intent != "month_summary"

    def test_a_month_and_an_uncovered_year_keep_their_own_filters(self):
        query = parse_query("2023年7月规上工业增加值与2020年相比如何", CATALOG)
        assert [(sub.months, sub.date_from) for sub in query.sub_questions] == [
            (("2023-07",), "2023-07-01"),
            ((), None),
        ]
        assert query.date_from is None

    def test_two_documents_get_one_sub_question_each(self):
        query = parse_query("市政府工作报告和涧西区报告分别提出了哪些发展目标？", CATALOG)
        assert [sub.text for sub in query.sub_questions] == ["市政府工作报告提出了哪些发展目标？", "涧西区报告提出了哪些发展目标？"]

    @pytest.mark.parametrize(
        "question",
        ["2月到7月有哪些项目开工", "7月江凌和徐衣显分别去了哪里", "市政府工作报告提出了哪些目标", "7月和7月的大事"],
    )
    def test_single_period_or_document_is_not_split(self, question):
        assert parse_query(question, CATALOG).sub_questions == ()


class TestFollowUps:
    @pytest.mark.parametrize(
        "question, history, text",
        [
            ("那12月呢？", JULY_TRIP, "2023年12月江凌去了哪些地方调研？"),
            ("那么 12 月份的情况呢", JULY_TRIP, "2023年12月江凌去了哪些地方调研？"),
            ("那上个月呢", [("本月有哪些重要工作", "…")], "2023年11月有哪些重要工作"),
            ("那2022年12月呢", [("2023年7月有哪些大事", "…")], "2022年12月有哪些大事"),
            ("那12月呢", [("江凌去了哪些地方调研", "…")], "2023年12月江凌去了哪些地方调研"),
            ("他还去了哪里？", JULY_TRIP, "2023年7月江凌还去了哪里？"),
            ("他还调研了什么", JULY_TRIP, "2023年7月江凌还调研了什么"),
            ("她主持了什么会议", [("市长徐衣显7月主持了哪些会议", "")], "2023年7月徐衣显主持了什么会议"),
            ("他呢", [("徐衣显到孟津区调研了什么？", "")], "徐衣显到孟津区调研了什么？"),
            ("那徐衣显呢？", JULY_TRIP, "7月徐衣显去了哪些地方调研？"),
            ("这个月还有什么大事", JULY_TRIP, "2023年7月还有什么大事"),
            ("还有哪些企业上榜", [("7月有哪些企业上榜财富500强？", "")], "2023年7月还有哪些企业上榜"),
        ],
    )
    def test_follow_up_becomes_standalone(self, question, history, text):
        query = parse_query(question, CATALOG, history)
        assert query.text == text
        assert query.original == question.strip()
        assert any(text in note for note in query.notes)

    def test_follow_up_takes_the_new_period_filter(self):
        query = parse_query("那12月呢？", CATALOG, JULY_TRIP)
        assert (query.months, query.intent) == (("2023-12",), "list")

    def test_chain_of_follow_ups_resolves_oldest_first(self):
        history = [("2023年7月江凌去了哪里", "…"), ("他还调研了什么", "…")]
        assert parse_query("那12月呢", CATALOG, history).text == "2023年12月江凌还调研了什么"

    def test_two_month_follow_up_is_split(self):
        query = parse_query("那2月和12月呢", CATALOG, JULY_TRIP)
        assert [sub.months for sub in query.sub_questions] == [("2023-02",), ("2023-12",)]

    def test_pronoun_falls_back_to_the_person_in_the_previous_answer(self):
        history = [("7月谁到伊川县调研了？", "江凌到伊川县调研。")]
        assert parse_query("他还去了哪里", CATALOG, history).text == "2023年7月江凌还去了哪里"

    @pytest.mark.parametrize(
        "question, history",
        [
            ("他还去了哪里？", []),
            ("2月江凌会见了谁？", JULY_TRIP),
            ("洛阳市2020年地区生产总值是多少？", JULY_TRIP),
            ("其他领导有哪些活动安排", []),
        ],
    )
    def test_standalone_or_historyless_question_is_unchanged(self, question, history):
        query = parse_query(question, CATALOG, history)
        assert query.text == question
        assert not any("结合上文" in note for note in query.notes)

    def test_new_topic_without_period_does_not_inherit_one(self):
        query = parse_query("洛阳有哪些国家级专精特新企业？", CATALOG, JULY_TRIP)
        assert query.months == ()


class TestRewriteWithLlm:
    def test_empty_history_returns_the_question_without_calling_the_model(self):
        def fail(_messages):
            raise AssertionError("model must not be called without history")

        assert rewrite_with_llm("那12月呢？", [], RunnableLambda(fail)) == "那12月呢？"

    def test_rewrite_comes_from_the_model(self):
        model = FakeListChatModel(responses=["改写后的问题：“2023年12月江凌去了哪些地方调研？”\n"])
        assert rewrite_with_llm("那12月呢？", JULY_TRIP, model) == "2023年12月江凌去了哪些地方调研？"

    def test_prompt_carries_history_and_question_in_chinese(self):
        seen = []

        def record(prompt_value):
            seen.append(prompt_value.to_messages())
            return "2023年7月江凌还去了哪里？"

        assert rewrite_with_llm("他还去了哪里？", JULY_TRIP, RunnableLambda(record)) == "2023年7月江凌还去了哪里？"
        system, human = seen[0]
        assert "改写" in system.content
        assert "用户：7月江凌去了哪些地方调研？" in human.content
        assert "助手：江凌到伊川县" in human.content
        assert "追问：他还去了哪里？" in human.content

    def test_blank_model_output_keeps_the_question(self):
        model = FakeListChatModel(responses=["  \n"])
        assert rewrite_with_llm("他还去了哪里？", JULY_TRIP, model) == "他还去了哪里？"

    def test_empty_question_is_rejected(self):
        with pytest.raises(ValueError, match="问题不能为空"):
            rewrite_with_llm(" ", JULY_TRIP, FakeListChatModel(responses=["x"]))
