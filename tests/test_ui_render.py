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
        status = render.answer_status(answer)
        assert "0.50" in status and "1/2" in status and "抽取式" in status

    def test_message_shows_numbered_source_cards_and_notices(self):
        documents = {"001_test.txt": Document("001_test.txt", "bulletin", "政务信息月报（2023年7月）", "2023-07", "", "", 100)}
        answer = make_answer("江凌强调要抓好项目建设，推动产业发展。[1]", [SentenceCheck("江凌强调要抓好项目建设，推动产业发展。[1]", (1,), True)])
        answer.notices.append("LLM（local）无法连接，已改用抽取式回答：ConnectError")
        message = render.answer_message(answer, turn=1, documents=documents, requested_llm="local")
        assert 'class="heluo-source" href="#cite-1-1"' in message
        assert "政务信息月报（2023年7月）" in message and "2023-07-06" in message
        assert "已改用抽取式回答" in message
        assert message.count("heluo-notice") == 1  # the service's own fallback notice is not repeated

    def test_silent_fallback_gets_a_notice(self):
        answer = make_answer("江凌强调要抓好项目建设，推动产业发展。[1]", [])
        assert "所选生成器 openai 未能使用" in render.notices_html(answer, requested_llm="openai")
        assert render.notices_html(answer, requested_llm="auto") == ""

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
        assert "江凌强调要抓好项目建设，推动产业发展。[1]" in markdown
        sources = markdown.split("## 来源", 1)[1]
        assert "[1] **江凌到伊川县调研**" in sources and f"> {QUOTE}" in sources
        assert "[2] **洛阳市2家企业上榜**" in sources and "2023-07-11" in sources
        assert "⚠ 两家企业上榜。[2]" in markdown


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
        assert f"<mark>{render._escape(quote)}</mark>" in card


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
