"""Pure rendering of answers for the web page and the Markdown export, and the host/auth rule."""

from __future__ import annotations

import re

import pytest

from conftest import CORPUS
from ingest.records import Document, Item
from rag.records import Answer, Citation, SentenceCheck
from ui import render
from ui.render import Turn


def make_item(text: str, **overrides) -> Item:
    values = dict(
        item_id="t#0001-abc",
        file="001_test.txt",
        kind="bulletin",
        position=1,
        section="时政/领导活动",
        title="江凌到伊川县调研",
        text=text,
        line_start=40,
        line_end=42,
        date="2023-07-06",
    )
    values.update(overrides)
    return Item(**values)


ITEM_TEXT = "7月6日，市委书记江凌到伊川县调研。\n他强调要抓好项目建设，推动产业发展。调研期间还召开了座谈会。"
QUOTE = "他强调要抓好项目建设，推动产业发展。"


def make_answer(text: str, checks: list[SentenceCheck], citations: list[Citation] | None = None, **overrides) -> Answer:
    citations = citations if citations is not None else [Citation(1, make_item(ITEM_TEXT), QUOTE)]
    return Answer(question="江凌在伊川调研了什么？", text=text, refused=False, llm="extractive", citations=citations, checks=checks, **overrides)


class TestQuoteHighlight:
    def test_card_holds_the_full_item_text_with_the_quote_marked(self):
        card = render.citation_card(Citation(1, make_item(ITEM_TEXT), QUOTE), turn=3)
        assert 'id="cite-3-1"' in card
        assert f"<mark>{QUOTE}</mark>" in card
        assert "7月6日，市委书记江凌到伊川县调研。" in card
        assert "调研期间还召开了座谈会。" in card
        assert "江凌到伊川县调研" in card and "2023-07-06" in card and "时政/领导活动" in card

    def test_quote_with_different_line_breaks_is_still_marked(self):
        text = "全市地区生产总值达到\n5128.4亿元，同比增长3%。其他内容。"
        marked = render.highlight_quote(text, "全市地区生产总值达到5128.4亿元，同比增长3%。")
        assert marked.count("<mark>") == 1
        assert "5128.4" in re.search(r"<mark>(.*?)</mark>", marked, re.S).group(1)
        assert marked.endswith("其他内容。")

    def test_quote_of_separate_sentences_marks_each(self):
        text = "第一句。中间一句。第三句。"
        marked = render.highlight_quote(text, "第一句。第三句。")
        assert marked == "<mark>第一句。</mark>中间一句。<mark>第三句。</mark>"

    def test_document_markup_is_escaped(self):
        item = make_item("标题<b>加粗</b><script>alert(1)</script>。正文。")
        card = render.citation_card(Citation(2, item, "正文。"), turn=1)
        assert "<script>" not in card and "<b>加粗" not in card
        assert "&lt;script&gt;" in card and "<mark>正文。</mark>" in card

    def test_missing_quote_leaves_text_unmarked(self):
        assert render.highlight_quote("甲乙丙。", "完全不同的话。") == "甲乙丙。"


class TestAnswerMessage:
    def test_markers_link_to_their_cards_and_unsupported_sentences_are_flagged(self):
        text = "根据资料：\n- 江凌强调要抓好项目建设，推动产业发展。[1]\n- 全县新增就业十万人。[2]"
        checks = [
            SentenceCheck("江凌强调要抓好项目建设，推动产业发展。[1]", (1,), True),
            SentenceCheck("全县新增就业十万人。[2]", (2,), False, "数字 十万 不见于来源"),
        ]
        answer = make_answer(text, checks, fidelity=0.5)
        body = render.answer_body(answer, turn=2)
        assert '<a class="heluo-cite" href="#cite-2-1"' in body
        assert 'href="#cite-2-2"' not in body  # [2] cites nothing the answer kept: no dead link
        flagged = re.findall(r'<span class="heluo-unsupported"[^>]*>(.*?)</span>', body)
        assert flagged == ["⚠ 全县新增就业十万人。[2]"]
        assert "\n- <span" in body  # the list marker stays outside, so the line is still a list item
        assert "数字 十万 不见于来源" in body
        status = render.answer_status(answer, turn=2)
        assert "有来源支持的句子：1/2" in status and "生成方式：原文摘录" in status
        assert "忠实度" not in status and render.turn_of_message(body + status) == 2

    def test_message_shows_numbered_source_cards_and_notices(self):
        documents = {"001_test.txt": Document("001_test.txt", "bulletin", "政务信息月报（2023年7月）", "2023-07", "", "", 100)}
        answer = make_answer("江凌强调要抓好项目建设，推动产业发展。[1]", [SentenceCheck("江凌强调要抓好项目建设，推动产业发展。[1]", (1,), True)])
        answer.notices.append("LLM（local）无法连接，已改用抽取式回答：ConnectError")
        message = render.answer_message(answer, turn=1, documents=documents, requested_llm="local")
        assert 'class="heluo-source" href="#cite-1-1"' in message
        assert "政务信息月报（2023年7月）" in message and "2023-07-06" in message
        assert "001_test" not in message  # documents by title, never by file name
        assert "本地模型无法连接，已改用原文摘录回答" in message  # plain words, no class names
        assert "LLM" not in message and "ConnectError" not in message
        assert message.count("heluo-notice") == 1  # the service's own fallback notice is not repeated

    def test_silent_fallback_gets_a_notice(self):
        answer = make_answer("江凌强调要抓好项目建设，推动产业发展。[1]", [])
        assert "所选的生成方式“大模型服务（OpenAI 兼容接口）”未能使用，本次由“原文摘录”作答" in render.notices_html(answer, requested_llm="openai")
        assert render.notices_html(answer, requested_llm="auto") == ""

    def test_a_refusal_names_no_generator(self):
        refusal = Answer(question="2025年的GDP？", text="资料中没有相关信息。", refused=True, llm="local", timings_ms={"total": 40.0})
        status = render.answer_status(refusal)
        assert "未作答" in status and "本地模型" not in status and "生成方式" not in status
        assert render.notices_html(refusal, requested_llm="openai") == ""

    def test_completeness_in_words(self):
        answer = make_answer("江凌强调要抓好项目建设，推动产业发展。[1]", [SentenceCheck("江凌强调要抓好项目建设，推动产业发展。[1]", (1,), True)], completeness=0.75)
        assert "覆盖检索到的相关条目：75%" in render.answer_status(answer)
        assert "覆盖" not in render.answer_status(make_answer("结论。[1]", []))  # not measured: not shown

    def test_streaming_links_only_verified_citations(self):
        verified = Citation(1, make_item(ITEM_TEXT), QUOTE)
        shown = render.streaming_message("江凌强调要抓好项目建设。[1]全县新增就业十万人。[2]", 4, [verified])
        assert '<a class="heluo-cite" href="#cite-4-1"' in shown and 'href="#cite-4-2"' not in shown
        assert shown.endswith("▌")
        panel = render.sources_panel([Turn(4, "问", render.provisional_answer("问", "…", [verified]))])
        assert 'id="cite-4-1"' in panel  # the link has its card while the answer still streams

    def test_stopped_turn_keeps_what_streamed_marked_unverified(self):
        message = render.stopped_message("江凌<b>强调</b>")
        assert "江凌&lt;b&gt;强调&lt;/b&gt;" in message and "已停止生成" in message and "未经核实" in message
        user, reply = render.turn_messages(Turn(2, "那7月呢？", None, "7月，江凌"))
        assert user == {"role": "user", "content": "那7月呢？"} and "7月，江凌" in reply["content"]


class TestMonthSummary:
    def test_sections_fold_with_their_counts_and_the_overview_stays_open(self):
        from rag.digest import OVERVIEW_HEADING

        text = (
            "## 2023年7月洛阳政务信息摘要（本月共收录 3 条，2 个栏目）\n\n"
            f"{OVERVIEW_HEADING}\n- 7月6日，江凌到伊川县调研。[1]\n\n"
            "### 时政/领导活动（2 条 · 江凌 2 项）\n- 江凌到伊川县调研（7月6日）[1]\n- 江凌到宜阳调研（7月9日）[2]\n\n"
            "### 社会事业/体育（1 条）\n- 洛阳小将夺金（7月8日）[3]\n"
        )
        citations = [Citation(n, make_item(ITEM_TEXT, item_id=f"i{n}"), QUOTE) for n in (1, 2, 3)]
        answer = Answer(question="总结", text=text, refused=False, llm="extractive", citations=citations)
        body = render.answer_body(answer, turn=1)
        assert body.count("<details") == 2 and body.count("</details>") == 2
        assert '<summary><b>时政/领导活动</b> <span class="heluo-meta">（2 条 · 江凌 2 项）</span></summary>' in body
        overview = body.split("<details", 1)[0]
        assert OVERVIEW_HEADING in overview and 'href="#cite-1-1"' in overview
        section = body.split("<summary><b>社会事业/体育</b>", 1)[1]
        assert '\n\n- 洛阳小将夺金（7月8日）<a class="heluo-cite" href="#cite-1-3"' in section and section.rstrip().endswith("</details>")
        assert "<details" not in render.answer_body(make_answer("### 不是摘要\n- 一句。[1]", []), turn=1)
        with_llm = Answer(question="总结", text=text + "\n### 概述\n本月江凌两次到县区调研。[1][2]\n", refused=False, llm="local", citations=citations)
        body = render.answer_body(with_llm, turn=1)
        overview = body.split("<details", 1)[0]
        assert "本月江凌两次到县区调研。" in overview and "7月6日，江凌到伊川县调研。" not in body  # the model's overview first
        assert "概述" not in body and body.count("<details") == 2


class TestWords:
    @pytest.mark.parametrize(
        ("period", "label"), [("2023-07", "2023年7月"), ("2021-02-07", "2021年2月7日"), ("", ""), ("2024年初", "2024年初")]
    )
    def test_period_labels(self, period, label):
        assert render.period_label(period) == label

    def test_documents_by_title_with_their_period_when_the_title_lacks_it(self):
        notice = Document("9f8e7d.txt", "generic", "关于做好防汛工作的通知", "2023-06-01", "", "", 3)
        bulletin = Document("001_x.txt", "bulletin", "政务信息月报（2023年7月）", "2023-07", "", "", 115)
        documents = {d.file: d for d in (notice, bulletin)}
        assert render.document_label("9f8e7d.txt", documents) == "关于做好防汛工作的通知（2023年6月1日）"
        assert render.document_label("001_x.txt", documents) == "政务信息月报（2023年7月）"

    @pytest.mark.parametrize(
        ("message", "shown"),
        [
            ("问题不能为空，请输入一个问题 (empty question)", "问题不能为空，请输入一个问题"),
            ("索引为空：请先运行 `heluo ingest` 导入文档 (the index is empty: run `heluo ingest` first)", "索引为空：请先运行 `heluo ingest` 导入文档"),
            ("月份格式应为 YYYY-MM，例如 2023-07（got '2023-5'）", "月份格式应为 YYYY-MM，例如 2023-07"),
            ("语料中没有2023年5月（五月）的资料", "语料中没有2023年5月（五月）的资料"),
        ],
    )
    def test_error_messages_lose_their_english_glosses(self, message, shown):
        assert render.error_message(message) == f'<div class="heluo-error">⚠️ {render.escape(shown)}</div>'

    def test_engineering_words_in_notices_become_plain(self):
        assert render.plain_words("LLM（openai）的回答多数句子无法核实（忠实度 0.25），以下为资料原文摘录") == (
            "大模型服务（OpenAI 兼容接口）的回答多数句子无法核实（有来源支持的句子仅占 25%），以下为资料原文摘录"
        )

    def test_generator_text_cannot_inject_markup(self):
        answer = make_answer('<img src=x onerror="alert(1)">结论。[1]', [])
        body = render.answer_body(answer, turn=1)
        assert "<img" not in body and "&lt;img" in body


class TestExport:
    def test_markdown_has_answer_and_numbered_sources_with_quotes(self):
        second = Citation(2, make_item("洛阳市2家企业上榜2023年《财富》中国500强。", title="洛阳市2家企业上榜", date="2023-07-11"), "洛阳市2家企业上榜2023年《财富》中国500强。")
        answer = make_answer(
            "江凌强调要抓好项目建设，推动产业发展。[1]两家企业上榜。[2]",
            [SentenceCheck("两家企业上榜。[2]", (2,), False, "用词不见于来源")],
            citations=[Citation(1, make_item(ITEM_TEXT), QUOTE), second],
        )
        markdown = render.answer_to_markdown(Turn(1, answer.question, answer))
        assert markdown.startswith("# 江凌在伊川调研了什么？")
        assert "有来源支持的句子：0/1" in markdown and "原文第 40–42 行" in markdown
        assert "江凌强调要抓好项目建设，推动产业发展。[1]" in markdown
        sources = markdown.split("## 来源", 1)[1]
        assert "[1] **江凌到伊川县调研**" in sources and f"> {QUOTE}" in sources
        assert "[2] **洛阳市2家企业上榜**" in sources and "2023-07-11" in sources
        assert "⚠ 两家企业上榜。[2]" in markdown

    def test_a_whole_conversation_exports_every_turn(self):
        answered = make_answer("江凌强调要抓好项目建设，推动产业发展。[1]", [])
        turns = [Turn(1, "江凌在伊川调研了什么？", answered), Turn(2, "那7月呢？", None, "7月，江凌")]
        markdown = render.conversation_to_markdown("江凌调研", "2024-05-03T14:02:09+08:00", turns)
        assert markdown.startswith("# 江凌调研\n") and "2024-05-03 14:02" in markdown and "共 2 问" in markdown
        assert "## 第 1 问：江凌在伊川调研了什么？" in markdown and "### 来源" in markdown and f"> {QUOTE}" in markdown
        assert "## 第 2 问：那7月呢？" in markdown and "7月，江凌" in markdown and "已停止生成" in markdown


class TestRealItem:
    def test_a_parsed_corpus_item_renders_in_full(self):
        from ingest.decode import read_document
        from ingest.parse import parse_text

        path = sorted(CORPUS.glob("002_*.txt"))[0]
        parsed = parse_text(read_document(path)[0], path.name)
        source = next(p for p in parsed.items if len(p.text) > 80)
        sentences = [s for s in re.split(r"(?<=。)", source.text) if s.strip()]
        quote = sentences[-1].strip()
        item = make_item(source.text, title=source.title, section=source.section, date=source.date)
        card = render.citation_card(Citation(1, item, quote), turn=1)
        plain = re.sub(r"<[^>]+>", "", card.split('<div class="heluo-fulltext">', 1)[1].split("</div>", 1)[0])
        assert plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == source.text
        assert f"<mark>{render.escape(quote)}</mark>" in card


class TestBindRule:
    @pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
    def test_loopback_needs_no_password(self, host):
        from ui.web import resolve_auth

        assert resolve_auth(host, "", allow_public=False) is None

    def test_public_bind_without_auth_is_refused(self):
        from ui.web import resolve_auth

        with pytest.raises(ValueError, match="HELUO_AUTH"):
            resolve_auth("0.0.0.0", "", allow_public=False)

    def test_public_bind_with_auth_or_explicit_permission(self):
        from ui.web import resolve_auth

        assert resolve_auth("0.0.0.0", "admin:s3cret:x", allow_public=False) == ("admin", "s3cret:x")
        assert resolve_auth("192.168.1.5", "", allow_public=True) is None

    @pytest.mark.parametrize("auth", ["admin", "admin:", ":pw"])
    def test_malformed_auth_is_refused(self, auth):
        from ui.web import resolve_auth

        with pytest.raises(ValueError, match="user:password"):
            resolve_auth("127.0.0.1", auth, allow_public=False)

    def test_launch_refuses_before_loading_anything(self, tmp_path):
        from conftest import make_settings
        from ui.web import launch

        with pytest.raises(ValueError, match="--allow-public"):
            launch(make_settings(tmp_path / "home"), host="0.0.0.0", port=1)
        assert not (tmp_path / "home").exists()
