"""The bulletin parser on the three real bulletins, a made-up one in another layout, and the date helpers.

Expected counts were read off each file's table of contents (目录) by hand; expected items were
checked by reading the files.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

from ingest.bulletin import looks_like_bulletin, parse_bulletin
from ingest.cndate import find_item_date, find_year_month, iso_to_int, month_bounds, month_day_mentions, year_mentions
from ingest.records import ParsedDocument

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
FEB, JUL, DEC = "000_0b6d174a1ce29257.txt", "001_1c31ddb12dc1deea.txt", "002_157788d027088a73.txt"
REPORTS = ("003_a8f260f074064d1f.txt", "004_3a04fcff32c40ffe.txt")


@lru_cache(maxsize=None)
def _text(file: str) -> str:
    return (CORPUS / file).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def _parsed(file: str) -> ParsedDocument:
    return parse_bulletin(_text(file), file)


def _items_titled(file: str, title: str):
    return [item for item in _parsed(file).items if item.title == title]


# --- counts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("file", "count"), [(FEB, 103), (JUL, 115), (DEC, 122)])
def test_every_toc_entry_becomes_one_item(file, count):
    parsed = _parsed(file)
    assert len(parsed.items) == count
    assert parsed.warnings == []


SECTION_COUNTS = {
    FEB: {
        "特别关注": 8, "亮点聚焦": 7, "时政/领导活动": 24, "时政/重要会议": 19, "时政/县区动态": 6,
        "经济": 3, "社会事业/和谐社会": 21, "社会事业/科技": 2, "社会事业/交通": 2, "社会事业/卫生": 2,
        "社会事业/旅游": 7, "社会事业/体育": 2,
    },
    JUL: {
        "特别关注": 6, "亮点聚焦": 5, "时政/领导活动": 18, "时政/重要会议": 24, "时政/工作动态": 4,
        "时政/县区动态": 6, "经济/项目": 3, "经济/经济运行": 4, "社会事业/和谐社会": 6, "社会事业/卫生": 5,
        "社会事业/文化": 5, "社会事业/科技": 6, "社会事业/教育": 2, "社会事业/交通": 2, "社会事业/体育": 17,
        "社会事业/生态文明": 2,
    },
    DEC: {
        "特别关注": 2, "亮点聚焦": 11, "时政/领导活动": 22, "时政/重要会议": 31, "时政/工作动态": 4,
        "时政/县区动态": 9, "经济/项目": 3, "经济/经济运行": 4, "社会事业/和谐社会": 5, "社会事业/卫生": 2,
        "社会事业/文化": 11, "社会事业/科技": 7, "社会事业/教育": 4, "社会事业/体育": 2, "社会事业/交通": 2,
        "社会事业/生态": 3,
    },
}


@pytest.mark.parametrize("file", [FEB, JUL, DEC])
def test_section_counts_match_the_toc(file):
    assert Counter(item.section for item in _parsed(file).items) == SECTION_COUNTS[file]


# --- hand-checked items ---------------------------------------------------------------------------

HAND_CHECKED = [
    # (file, title, section, date, date_end, text starts with, text ends with)
    (FEB, "省政府督导和服务组来洛督导调研", "特别关注", "2023-02-06", "2023-02-08",
     "2月6日至8日，由省工信厅厅长李建涛", "实现“开门红”的意见建议。"),
    # a sentence cut by a page break: "国\n\n家矿山"
    (FEB, "国家矿山安全监察局督导组莅洛开展督导检查", "特别关注", "2023-02-21", None,
     "2月21日，国家矿山安全监察局安全总监商登莹", "营造良好的安全发展环境。"),
    # "### **标题**" on its own line, month without a day
    (FEB, "洛阳市红十字志愿者赵占胜入选全国红十字志愿服务先进典型名单", "亮点聚焦", None, None,
     "2月，中国红十字会总会印发", "曾被众多网友称为“河南漂流哥”。"),
    # a plain "### 标题" line
    (FEB, "河南邓亚萍体育产业投资基金董事长邓亚萍到伊滨区考察体育项目", "时政/县区动态", "2023-02-03", None,
     "2月3日，河南邓亚萍体育产业投资基金", "并与参会人员研讨交流。"),
    # "**标题**  " then the text on the next line; top-level section without a subsection
    (FEB, "洛阳钼业入选“2022福布斯中国可持续发展工业企业TOP50”榜", "经济", "2023-02-07", None,
     "2月7日，“2022福布斯中国可持续发展", "全球重要的新能源金属提供商。"),
    # the date itself cut by a page break: "7月\n\n24日"
    (JUL, "中原出版传媒集团党委书记、董事长、总裁王庆一行来洛调研", "特别关注", "2023-07-24", None,
     "7月24日，中原出版传媒集团", None),
    # TOC says "洛阳市纪委监委会议召开": matched fuzzily, the body's title is kept
    (JUL, "洛阳市纪委监委常委会会议召开", "时政/重要会议", "2023-07-05", None,
     "7月5日，市纪委监委常委会召开会议", None),
    # TOC entry wrapped over two lines
    (JUL, "首届全国智慧绿色医院能力建设论坛暨全国医院建设大会公益行（河南站）在洛举行", "社会事业/卫生",
     "2023-07-01", None, "7月1日，由上海社科院", None),
    # a range later in the text is not the item's date
    (JUL, "“洛阳—桂林”航线复航", "社会事业/交通", "2023-07-21", None,
     "7月21日，“洛阳—桂林”航线复航。该航线由桂林航空运营", None),
    (JUL, "洛阳市节能宣传月活动启动", "社会事业/生态文明", "2023-07-10", None,
     "7月10日，2023年洛阳市节能宣传月", "向市民介绍节能降碳的有关知识。"),
    # plain layout: the title runs into the date
    (DEC, "河南省美丽幸福河湖建设暨“五水综改”现场会在洛举行", "特别关注", "2023-12-01", None,
     "12月1日，全省美丽幸福河湖建设", "实地观摩我市美丽幸福河湖建设成效。"),
    # the closing quote belongs to the title
    (DEC, "洛阳市中院知识产权审判庭获评“全国法院先进集体”", "亮点聚焦", "2023-12-05", None,
     "12月5日，最高人民法院公布", "被评为“全国法院先进集体”。"),
    # the body wraps the title over a blank line
    (DEC, "洛阳市12月“社区邻里日”暨“新时代文明实践集中活动日”主题活动举行", "社会事业/和谐社会",
     "2023-12-09", None, "12月9日，洛阳市12月“社区邻里日”", None),
    # a TOC line without a page number that is an entry of its own
    (DEC, "阜外华中心血管病医院与宜阳县人民医院“心血管病专科共建医院”签约揭牌仪式举行", "社会事业/卫生",
     "2023-12-12", None, "12月12日，阜外华中心血管病医院", None),
    # "12 月 25 日至 26 日" and "省\n\n级初审"
    (DEC, "洛阳通过创建国家节水型城市省级初审", "社会事业/生态", "2023-12-25", "2023-12-26",
     "12月25日至26日，省住建厅、省发改委组织考核组来洛，就我市申报创建国家节水型城市进行省级初审", "提出意见建议。"),
]


@pytest.mark.parametrize(("file", "title", "section", "date", "date_end", "head", "tail"), HAND_CHECKED)
def test_hand_checked_item(file, title, section, date, date_end, head, tail):
    [item] = _items_titled(file, title)
    assert item.section == section
    assert (item.date, item.date_end) == (date, date_end)
    assert item.text.startswith(head)
    if tail is not None:
        assert item.text.endswith(tail)
    assert title not in item.text[:len(title) + 2], "the title must not be repeated at the start of the text"


def test_repeated_title_gives_two_items_in_their_own_sections():
    repeated = _items_titled(FEB, "市委召开夏商文明考古研究中心建设及城建工作汇报会")
    assert [item.section for item in repeated] == ["时政/重要会议", "社会事业/旅游"]
    assert all(item.date == "2023-02-17" for item in repeated)
    assert repeated[0].text != repeated[1].text


def test_markdown_subheadings_inside_an_item_stay_in_its_text():
    [item] = _items_titled(FEB, "洛阳各县区产业提质增效为现代化洛阳建设添动力")
    assert item.text.startswith("2023年，洛阳各县区聚焦提振经济")
    assert "\n孟津区\n" in item.text and "#" not in item.text
    assert item.text.endswith("打造预制菜特色品牌。")


# --- what must never be in an item ----------------------------------------------------------------

# A TOC line ends in leader dots and a page number ("标题.....	12"); prose may use "……" on its own.
_TOC_LEADER = re.compile(r"(?:\.{3,}|…{2,})\s*\d{1,3}\s*$|\t\d{1,3}\s*$", re.MULTILINE)
_PAGE_NUMBER_LINE = re.compile(r"^\s*[-—]?\s*\d{1,3}\s*[-—]?\s*$")


@pytest.mark.parametrize("file", [FEB, JUL, DEC])
def test_items_hold_no_toc_markup_or_page_numbers(file):
    for item in _parsed(file).items:
        assert item.text.strip(), item.title
        assert "目录" not in item.text
        assert not _TOC_LEADER.search(item.text), item.title
        for line in item.text.splitlines():
            assert not _PAGE_NUMBER_LINE.match(line), item.title
        for mark in ("**", "<b>", "◆", "#"):
            assert mark not in item.text and mark not in item.title, (mark, item.title)


@pytest.mark.parametrize("file", [FEB, JUL, DEC])
def test_line_spans_point_into_the_body_in_order(file):
    lines = _text(file).splitlines()
    items = _parsed(file).items
    starts = [item.line_start for item in items]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    for item in items:
        assert 1 <= item.line_start <= item.line_end <= len(lines)
        first_line = re.sub(r"[\s*#<>/b]", "", lines[item.line_start - 1])
        assert first_line.startswith(re.sub(r"\s", "", item.title)[:6]), item.title


@pytest.mark.parametrize("file", [FEB, JUL, DEC])
def test_dated_items_fall_in_the_bulletin_month(file):
    parsed = _parsed(file)
    dates = [item.date for item in parsed.items if item.date]
    assert len(dates) >= 0.9 * len(parsed.items)
    assert all(date.startswith(parsed.meta.period) for date in dates)


# --- period ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("file", "period"), [(FEB, "2023-02"), (JUL, "2023-07"), (DEC, "2023-12")])
def test_period_is_inferred_from_content(file, period):
    meta = _parsed(file).meta
    assert meta.kind == "bulletin"
    assert meta.period == period
    year, month = period.split("-")
    assert f"{int(month)} 月" in meta.evidence and year in meta.evidence
    assert year in meta.title


def test_period_is_not_fooled_by_a_text_that_mostly_names_last_year():
    # February 2023 mentions "2022年" more often than "2023年"; the year must still be 2023.
    counts = Counter(year_mentions(_text(FEB)))
    assert counts[2022] > counts[2023]
    assert _parsed(FEB).meta.period == "2023-02"


# --- recognising bulletins ------------------------------------------------------------------------


@pytest.mark.parametrize("file", [FEB, JUL, DEC])
def test_bulletins_are_recognised(file):
    assert looks_like_bulletin(_text(file))


@pytest.mark.parametrize("file", REPORTS)
def test_work_reports_are_not_bulletins(file):
    assert not looks_like_bulletin(_text(file))


def test_parsing_a_text_without_a_toc_says_what_to_do():
    with pytest.raises(ValueError, match="目录"):
        parse_bulletin(_text(REPORTS[1]), REPORTS[1])


# --- a made-up bulletin in another layout ---------------------------------------------------------

SYNTHETIC = """\
【目录】

■ 时 政 ■
〔领导活动〕
江凌调研文旅重点项目…………1
徐衣显与某新能源集团董事长举行工作会谈…………1
〔重要会议〕
市政府第5次常务会议召开…………2
洛阳市召开2024年全市优化营商环境大会暨
项目建设推进会…………2
■ 社 会 事 业 ■
〔交 通〕
洛阳至栾川城际公交开通…………3
洛阳新增两条定制公交线路…………3

【时  政】

【领导活动】

【江凌调研文旅重点项目】3月5日至6日，市委书记江凌调研文旅重点项目。他强调，2024年要抢抓机遇。

【徐衣显与某新能源集团董事长举行工作会谈】近日，市长徐衣显与来洛考察的某新能源集团董事长举行工作会谈。

【重要会议】

【市政府第5次常务会议召开】2024 年 3 月 12 日，市长徐衣显主持召开市政府第 5 次常务会议，研究部署2024年重点工作。

【洛阳市召开2024年全市优化营商环境大会暨项目建设推进会】3月20日，洛阳市召开2024年全市优化营商环境大会暨项目建设推进会，要求到2025年营商环境进入全国前列。

【社会事业】

【交  通】

【洛阳至栾川城际公交开通】3月28日，洛阳至栾川城际公交正式开通。首班车于

上午7时从洛阳发车。

【洛阳新增两条定制公交线路】3月29日至4月2日，洛阳试运行两条定制公交线路。
"""


def test_a_bulletin_in_another_layout_parses_without_code_changes():
    assert looks_like_bulletin(SYNTHETIC)
    parsed = parse_bulletin(SYNTHETIC, "synthetic.txt")
    assert parsed.warnings == []
    assert parsed.meta.period == "2024-03"
    assert [(item.section, item.title, item.date, item.date_end) for item in parsed.items] == [
        ("时政/领导活动", "江凌调研文旅重点项目", "2024-03-05", "2024-03-06"),
        ("时政/领导活动", "徐衣显与某新能源集团董事长举行工作会谈", None, None),
        ("时政/重要会议", "市政府第5次常务会议召开", "2024-03-12", None),
        ("时政/重要会议", "洛阳市召开2024年全市优化营商环境大会暨项目建设推进会", "2024-03-20", None),
        ("社会事业/交通", "洛阳至栾川城际公交开通", "2024-03-28", None),
        ("社会事业/交通", "洛阳新增两条定制公交线路", "2024-03-29", "2024-04-02"),
    ]
    bus = parsed.items[4]
    assert bus.text == "3月28日，洛阳至栾川城际公交正式开通。首班车于上午7时从洛阳发车。"
    assert (bus.line_start, bus.line_end) == (34, 36)


def test_a_title_line_before_the_toc_names_the_document_and_its_year():
    parsed = parse_bulletin("洛阳市政务信息月报 2025年第3期\n" + SYNTHETIC, "synthetic.txt")
    assert parsed.meta.title == "洛阳市政务信息月报2025年第3期"
    assert parsed.meta.period == "2025-03"
    assert "标题行" in parsed.meta.evidence
    assert parsed.items[0].date == "2025-03-05"
    assert parsed.items[0].line_start == 21


def test_a_toc_entry_missing_from_the_body_is_reported_not_invented():
    without_bus = SYNTHETIC.replace("【洛阳至栾川城际公交开通】", "")
    parsed = parse_bulletin(without_bus, "synthetic.txt")
    assert [item.title for item in parsed.items if "城际公交" in item.title] == []
    assert len(parsed.items) == 5
    assert any("洛阳至栾川城际公交开通" in warning for warning in parsed.warnings)


# --- date helpers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7月28日，市委召开会议", ("2023-07-28", None)),
        ("7 月 28 日，市委召开会议", ("2023-07-28", None)),
        ("2022年7月28日，市委召开会议", ("2022-07-28", None)),
        ("2月9日至10日，调研组来洛", ("2023-02-09", "2023-02-10")),
        ("7月31日至8月2日举行", ("2023-07-31", "2023-08-02")),
        ("12月1日-3日举行", ("2023-12-01", "2023-12-03")),
        ("12 月 25 日至 26 日，考核组来洛", ("2023-12-25", "2023-12-26")),
        ("12月31日至1月2日", ("2023-12-31", "2024-01-02")),
        ("12月18日23时59分，甘肃发生地震", ("2023-12-18", None)),
        ("2月30日是不存在的日期，3月1日才是", ("2023-03-01", None)),
        ("7月，西工区关工委举行比赛", None),
        ("2023 年 12 月，国家卫健委发布", None),
        ("近日，全市召开会议", None),
    ],
)
def test_find_item_date(text, expected):
    assert find_item_date(text, 2023) == expected


def test_find_item_date_reads_bare_days_only_with_a_month():
    assert find_item_date("9日至10日举行", 2023) is None
    assert find_item_date("9日至10日举行", 2023, default_month=7) == ("2023-07-09", "2023-07-10")
    assert find_item_date("28日召开", 2023, default_month=2) == ("2023-02-28", None)


def test_year_month_and_mentions():
    assert find_year_month("2023 年 12 月，国家卫健委") == (2023, 12)
    assert find_year_month("2023年12月5日") is None
    assert month_day_mentions("2月6日至8日，又于 3 月 1 日、13月2日") == [(2, 6), (3, 1)]
    assert year_mentions("2022 年度和2023年") == [2022, 2023]


def test_iso_to_int_and_month_bounds():
    assert iso_to_int("2023-07-28") == 20230728
    assert iso_to_int("2023-07") == 202307
    assert iso_to_int("2023-07-28") < iso_to_int("2023-08-01")
    with pytest.raises(ValueError):
        iso_to_int("七月")
    assert month_bounds(2024, 2) == ("2024-02-01", "2024-02-29")
