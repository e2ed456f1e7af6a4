"""The work-report parser on the two real reports, a synthetic wrapped report, and the generic fallback."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from ingest.generic import parse_generic, source_lines
from ingest.records import ParsedDocument, ParsedItem
from ingest.report import looks_like_report, parse_report

CORPUS = Path(__file__).resolve().parent.parent / "data" / "corpus"
DISTRICT = "003_a8f260f074064d1f.txt"  # 涧西区, hard-wrapped PDF layout
CITY = "004_3a04fcff32c40ffe.txt"  # 洛阳市, markdown headings, paragraphs split by page breaks
BULLETINS = ("000_0b6d174a1ce29257.txt", "001_1c31ddb12dc1deea.txt", "002_157788d027088a73.txt")

PAGE_NUMBER = re.compile(r"[—－–\-]\s*\d{1,4}\s*[—－–\-]")
# The un-numbered top headings of 003, read from the file.
DISTRICT_PLAIN_HEADINGS = {
    "本届政府和 2021年工作回顾",
    "未来五年发展思路和主要目标",
    "2022年主要工作",
    "全力建设人民满意政府",
    "《政府工作报告》名词解释",
}
# The last line of the front matter (the speaker line) in each report.
FRONT_MATTER_END = {DISTRICT: 11, CITY: 7}


def _read(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def district() -> ParsedDocument:
    return parse_report(_read(DISTRICT), DISTRICT)


@pytest.fixture(scope="module")
def city() -> ParsedDocument:
    return parse_report(_read(CITY), CITY)


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _item(doc: ParsedDocument, section: str, starts: str = "") -> ParsedItem:
    found = [item for item in doc.items if item.section == section and _squeeze(item.text).startswith(starts)]
    assert len(found) == 1, f"{section!r} / {starts!r}: {len(found)} items"
    return found[0]


# --- counts -------------------------------------------------------------------------------------


def test_city_counts(city: ParsedDocument) -> None:
    # 61 body lines - 4 headings - 1 salutation merged - 16 paragraphs re-joined across page breaks.
    assert len(city.items) == 40
    sections = {item.section for item in city.items}
    assert len(sections) == 27  # opening + 4 top sections + 22 "（一）…" paragraphs
    tops = Counter(item.section.split("/")[0] for item in city.items)
    assert tops == {
        "政府工作报告": 1,
        "一、2020年工作回顾及“十三五”主要成就": 15,
        "二、2035年远景目标及“十四五”时期经济社会发展主要目标任务": 5,
        "三、2021年重点工作": 13,
        "四、加快建设人民满意的服务型政府": 6,
    }


def test_district_counts(district: ParsedDocument) -> None:
    assert len(district.items) == 83
    sections = {item.section for item in district.items}
    assert len(sections) == 27  # opening + 5 top sections + 21 "（一）…" headings
    tops = Counter(item.section.split("/")[0] for item in district.items)
    assert tops == {
        "政府工作报告": 1,
        "本届政府和2021年工作回顾": 20,
        "未来五年发展思路和主要目标": 6,
        "2022年主要工作": 12,
        "全力建设人民满意政府": 6,
        "《政府工作报告》名词解释": 38,  # one item per glossary term
    }


# --- hand-checked items -------------------------------------------------------------------------


def test_city_inline_heading_paragraph(city: ParsedDocument) -> None:
    item = _item(city, "一、2020年工作回顾及“十三五”主要成就/（一）坚持人民至上、生命至上，奋力夺取疫情防控重大战略成果")
    assert item.text.startswith("（一）坚持人民至上、生命至上，奋力夺取疫情防控重大战略成果。面对来势汹汹的疫情")
    assert item.text.endswith("为全国抗疫斗争贡献了洛阳力量。")
    assert (item.line_start, item.line_end) == (17, 17)
    assert item.title == "坚持人民至上、生命至上，奋力夺取疫情防控重大战略成果"
    assert item.date is None


def test_city_paragraph_rejoined_across_page_break(city: ParsedDocument) -> None:
    item = _item(city, "一、2020年工作回顾及“十三五”主要成就/（三）加快副中心城市建设，都市圈建设全面启动")
    assert "洛平、洛三联动发展加快落地" in item.text
    assert item.text.endswith("《黄河流域生态保护和高质量发展规划纲要》。")
    assert (item.line_start, item.line_end) == (23, 25)


def test_city_opening_salutation_merged(city: ParsedDocument) -> None:
    first = city.items[0]
    assert first.section == "政府工作报告"
    assert first.text.startswith("各位代表：")
    assert first.text.endswith("并请各位政协委员提出意见。")
    assert (first.line_start, first.line_end) == (9, 11)


def test_city_half_width_marker_and_closing(city: ParsedDocument) -> None:
    item = _item(city, "三、2021年重点工作/（七）持续提升城市能级，增强城市综合承载能力")
    assert item.text.startswith("(七)持续提升城市能级")  # the text stays as written
    last = city.items[-1]
    assert last.section == "四、加快建设人民满意的服务型政府"
    assert last.text.startswith("各位代表,目标催人奋进")
    assert last.text.endswith("做出新的更大贡献!")


def test_long_heading_label_is_shortened_but_kept_in_text(city: ParsedDocument) -> None:
    item = next(i for i in city.items if i.text.startswith("（一）全面提速建设现代化洛阳都市圈"))
    label = item.section.split("/")[-1]
    assert label.endswith("…") and len(label) <= 31
    assert "（一）全面提速建设现代化洛阳都市圈，加快形成中原城市群高质量发展新增长极。" in item.text


def test_district_section_items(district: ParsedDocument) -> None:
    item = _item(district, "本届政府和2021年工作回顾/（一）中心城区地位更加彰显")
    assert item.text.startswith("坚持抢抓洛阳建设副中心城市重大战略机遇")
    assert item.text.endswith("在全市年度综合考核中获得都市核心区“好”的等次。")
    assert (item.line_start, item.line_end) == (187, 214)

    science = _item(district, "2022年主要工作/（二）在增强科技创新能力上争创一流")
    assert science.text.startswith("坚持创新引领，把科技创新作为第一动力")
    assert science.text.endswith("确保全年技术合同成交额达到60亿元。")


def test_district_paragraph_boundary_after_full_last_line(district: ParsedDocument) -> None:
    # Line 54 ends a paragraph although it is nearly full; the next paragraph starts on line 56.
    innovation = _item(district, "本届政府和2021年工作回顾", "这是创新发展成效显著的五年")
    assert innovation.text.endswith("创新已成为涧西最亮眼的“名片”。")
    coordination = _item(district, "本届政府和2021年工作回顾", "这是协调发展步稳蹄疾的五年")
    assert coordination.line_start == 56
    assert coordination.title == "这是协调发展步稳蹄疾的五年"


def test_district_inline_headings_and_glossary(district: ParsedDocument) -> None:
    item = _item(district, "全力建设人民满意政府/（一）强化政治建设，坚定正确方向")
    assert item.text.startswith("（一）强化政治建设，坚定正确方向。以政治建设统领政府各项工作")
    assert item.text.endswith("确保执行有力、落实到位。")
    term = _item(district, "《政府工作报告》名词解释", "一河两渠")
    assert term.title == "一河两渠"
    assert term.text == "一河两渠：涧河、秦岭防洪渠、大明渠。"


# --- layout repair ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [DISTRICT, CITY])
def test_no_page_numbers_in_items(name: str) -> None:
    doc = parse_report(_read(name), name)
    for item in doc.items:
        assert not PAGE_NUMBER.search(item.text), item.text[:40]
        assert all(not re.fullmatch(r"\s*\d{1,3}\s*", line) for line in item.text.split("\n"))


def test_page_number_inside_a_line_is_removed() -> None:
    lines = source_lines("持续办好“西苑论 — 19 — 涧”等活动。\n\n— 20 —\n丹尼斯—王府井商圈")
    assert [line.text for line in lines] == ["持续办好“西苑论涧”等活动。", "丹尼斯—王府井商圈"]
    assert [line.number for line in lines] == [1, 4]


def test_district_words_broken_by_layout_are_whole(district: ParsedDocument) -> None:
    texts = "\n".join(item.text for item in district.items)
    for phrase in (
        "“十三五”国家服务业综合改革试点区",  # a line starting with a stray space
        "“三二一”产业结构",  # a word cut at the end of a line
        "全区上下众志成城、和衷共济",
        "持续办好“西苑论涧”“蓬莱茶叙”",  # a page number (— 19 —) between the halves
        "四是强力推进精准招商",  # a page number (— 25 —) between the halves
    ):
        assert phrase in texts, phrase


def test_speaker_name_repaired_and_cover_kept_out(district: ParsedDocument) -> None:
    assert "王烨" in district.meta.title and "王 烨" not in district.meta.title
    assert "涧西区十六届人大一次会议文件（一）" in district.meta.evidence
    texts = "".join(item.text for item in district.items)
    assert "一次会议文件" not in texts and "区长" not in texts


def test_periods_and_titles(district: ParsedDocument, city: ParsedDocument) -> None:
    assert district.meta.kind == city.meta.kind == "report"
    assert district.meta.period == "2022-04-23"
    assert city.meta.period == "2021-02-07"
    assert district.meta.title == "洛阳市涧西区政府工作报告（2022年4月23日，王烨）"
    assert city.meta.title == "洛阳市政府工作报告（2021年2月7日，刘宛康）"
    assert "2021年2月7日在洛阳市第十五届人民代表大会第四次会议上" in city.meta.evidence
    assert "涧西区人民政府区长王烨" in district.meta.evidence
    assert not district.warnings and not city.warnings


def _heading_line(name: str, line: str) -> bool:
    if line.startswith("#") or line in DISTRICT_PLAIN_HEADINGS:
        return True
    return name == DISTRICT and bool(re.fullmatch(r"（[一二三四五六七八九十]+）[^。]+", line))


@pytest.mark.parametrize("name", [DISTRICT, CITY])
def test_every_body_line_lands_in_exactly_one_item(name: str) -> None:
    doc = parse_report(_read(name), name)
    body = [
        (number, line.strip())
        for number, line in enumerate(_read(name).split("\n"), start=1)
        if number > FRONT_MATTER_END[name] and line.strip() and not PAGE_NUMBER.fullmatch(line.strip())
    ]
    expected = "".join(line for _, line in body if not _heading_line(name, line))
    assert _squeeze("".join(item.text for item in doc.items)) == _squeeze(expected)
    spans = [(item.line_start, item.line_end) for item in doc.items]
    assert all(start <= end for start, end in spans)
    assert all(earlier[1] < later[0] for earlier, later in zip(spans, spans[1:]))


# --- kind detection and genericity ---------------------------------------------------------------


@pytest.mark.parametrize("name", BULLETINS)
def test_bulletins_are_not_reports(name: str) -> None:
    assert not looks_like_report(_read(name))


@pytest.mark.parametrize("name", [DISTRICT, CITY])
def test_reports_are_reports(name: str) -> None:
    assert looks_like_report(_read(name))


def _wrap(paragraph: str, width: int = 28, indent: int = 2) -> list[str]:
    """Lay a paragraph out as a PDF would: an indented first line, full lines after it."""
    lines, start, room = [], 0, width - indent
    while start < len(paragraph):
        lines.append(paragraph[start : start + room])
        start, room = start + room, width
    return lines


SYNTHETIC_PARAGRAPHS = [
    "过去一年，全县上下团结奋斗，经济运行稳中有进，地区生产总值增长百分之六点五，一般公共预算收入稳步增长，民生支出占比保持在七成以上。",
    "工业经济提质增效。新增规模以上工业企业十二家，建成智能工厂三个，高新技术企业达到四十家。",
    "今年是实施规划的关键之年，我们将坚持稳中求进，全力以赴抓项目、促投资、优服务，推动经济社会高质量发展不断取得新成效。",
]


def test_synthetic_wrapped_report_of_another_county() -> None:
    lines = [" 某某县十八届人大", "三次会议文件（二）", "政府工作报告",
             "——2023年 1月 10日在某某县第十八届人民代表大会", "第三次会议上", "某某县人民政府县长 张 三",
             "各位代表：", "现在，我代表县人民政府向大会报告工作，请予审议。", "2022年工作回顾"]
    lines += _wrap(SYNTHETIC_PARAGRAPHS[0])
    lines += ["（一）工业经济"] + _wrap(SYNTHETIC_PARAGRAPHS[1])[:2] + ["— 3 —"] + _wrap(SYNTHETIC_PARAGRAPHS[1])[2:]
    lines += ["2023年工作安排"] + _wrap(SYNTHETIC_PARAGRAPHS[2])
    lines += ["充" * 28] * 12  # enough full lines for the layout to be measured
    text = "\n\n".join(lines)

    assert looks_like_report(text)
    doc = parse_report(text, "county.txt")
    assert doc.meta.period == "2023-01-10"
    assert doc.meta.title == "某某县政府工作报告（2023年1月10日，张三）"
    assert "某某县十八届人大三次会议文件（二）" in doc.meta.evidence
    opening, review, industry, plan = doc.items[:4]
    assert opening.section == "政府工作报告"
    assert opening.text == "各位代表：\n现在，我代表县人民政府向大会报告工作，请予审议。"
    assert review.section == "2022年工作回顾"
    assert review.text == SYNTHETIC_PARAGRAPHS[0]
    assert industry.section == "2022年工作回顾/（一）工业经济"
    assert industry.text == SYNTHETIC_PARAGRAPHS[1]
    assert industry.title == "工业经济提质增效"
    assert plan.section == "2023年工作安排"
    assert plan.text.startswith(SYNTHETIC_PARAGRAPHS[2])


def test_report_without_delivery_line_warns() -> None:
    text = "# 政府工作报告\n\n各位代表：\n\n现在，我代表县人民政府作报告。\n\n## 一、过去一年工作回顾\n\n全年经济平稳运行。\n"
    doc = parse_report(text, "undated.txt")
    assert doc.meta.period == ""
    assert any("未找到" in warning for warning in doc.warnings)
    assert [item.section for item in doc.items] == ["政府工作报告", "一、过去一年工作回顾"]


def test_empty_report_is_rejected() -> None:
    with pytest.raises(ValueError, match="为空"):
        parse_report("\n \n", "empty.txt")


GENERIC_TEXT = """# 洛阳市文旅发展简报

2023年5月8日

## 一、总体情况

今年以来，全市文旅市场持续升温。一季度接待游客1200万人次，

同比增长35%。

（一）重点景区。龙门石窟、白马寺等景区客流大幅增长。

## 二、下一步工作

1. 推进项目建设。
2. 加强宣传推介，扩大城市影响力。
"""


def test_generic_parser_on_a_small_text() -> None:
    doc = parse_generic(GENERIC_TEXT, "brief.md")
    assert doc.meta.kind == "generic"  # a dated brief, not news (no time stamp, source or dateline)
    assert doc.meta.title == "洛阳市文旅发展简报"
    assert doc.meta.period == "2023-05-08"
    assert not doc.warnings
    by_section = {item.section: item for item in doc.items}
    overview = by_section["一、总体情况"]
    assert overview.text == "今年以来，全市文旅市场持续升温。一季度接待游客1200万人次，同比增长35%。"
    assert (overview.line_start, overview.line_end) == (7, 9)
    spots = by_section["一、总体情况/（一）重点景区"]
    assert spots.text.startswith("（一）重点景区。龙门石窟") and spots.title == "重点景区"
    assert by_section["二、下一步工作/1. 推进项目建设"].text == "1. 推进项目建设。"
    assert "二、下一步工作/2. 加强宣传推介，扩大城市影响力" in by_section
    assert all(item.text != "2023年5月8日" for item in doc.items)  # the date line is the document's date, not an item
    assert {item.date for item in doc.items} == {"2023-05-08"}  # undated paragraphs carry the document's date
    assert not looks_like_report(GENERIC_TEXT)


def test_generic_parser_repairs_a_wrapped_layout_too() -> None:
    doc = parse_generic(_read(DISTRICT), DISTRICT)
    texts = "\n".join(item.text for item in doc.items)
    assert "持续办好“西苑论涧”“蓬莱茶叙”" in texts
    assert not any(PAGE_NUMBER.search(item.text) for item in doc.items)


def test_generic_parser_rejects_empty_text() -> None:
    with pytest.raises(ValueError, match="为空"):
        parse_generic("", "empty.md")


def test_title_line_naming_its_government_is_not_doubled():
    text = "嵩县2024年政府工作报告\n\n——2024年1月10日在嵩县第十六届人民代表大会第四次会议上\n\n嵩县人民政府县长 张三\n\n各位代表：\n\n一、2023年工作回顾\n\n全县生产总值增长5%。\n"
    meta = parse_report(text, "songxian.txt").meta
    assert meta.title.startswith("嵩县2024年政府工作报告")
    assert "嵩县嵩县" not in meta.title
