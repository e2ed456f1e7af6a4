"""The web page in a real Chromium (Debian's, driven by Playwright): ask, open a citation, summarise
a month, upload a document and ask about it. Screenshots go to tests/output/ (git-ignored)."""

from __future__ import annotations

import re
import shutil
import socket
from pathlib import Path

import pytest

from conftest import CORPUS, REPO, make_settings

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = REPO / "tests" / "output"
ANSWER_TIMEOUT_MS = 90_000

# A small report-like document with facts found nowhere in the bundled corpus.
NEW_REPORT = """嵩县2024年政府工作报告

——2024年1月10日在嵩县第十七届人民代表大会第四次会议上

一、2023年工作回顾

过去一年，全县上下团结奋斗，经济社会发展取得新成效。

（一）生态旅游持续升温

白云山景区全年接待游客412万人次，实现旅游综合收入38.6亿元。天池山新建玻璃栈道一条，全长1280米。

（二）特色农业提质增效

全县中药材种植面积达到26.8万亩，柴胡、杜仲等道地药材产值突破19亿元。
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The app over a private corpus copy (the upload test adds to it), served on a free port."""
    if not CHROMIUM:
        pytest.skip("Chromium is not installed: apt-get install -y chromium chromium-driver")
    pytest.importorskip("playwright.sync_api", reason="the Playwright Python package is not installed")
    from ingest.index import ingest
    from rag.service import Assistant
    from ui.web import build_app, serve

    root = tmp_path_factory.mktemp("browser")
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = make_settings(root / "home", corpus=corpus)
    ingest([corpus], settings)
    assistant = Assistant(settings)
    app = build_app(assistant, settings)
    _, url, _ = serve(app, settings, port=free_port(), block=False)
    yield url, assistant, settings
    app.close()


@pytest.fixture(scope="module")
def browser(site):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(site, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(site[0], wait_until="load")
    page.locator("#heluo-question textarea").wait_for()
    yield page
    page.close()


def ask(page, question: str) -> None:
    replies = page.locator("#heluo-chat .heluo-status").count()
    page.locator("#heluo-question textarea").fill(question)
    page.locator("#heluo-send").click()
    page.locator("#heluo-chat .heluo-status").nth(replies).wait_for(timeout=ANSWER_TIMEOUT_MS)


def choose(page, dropdown: str, option: str) -> None:
    page.locator(f"{dropdown} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def card_text(page, anchor: str) -> str:
    return page.locator(f"#{anchor} .heluo-fulltext").inner_text()


def test_answer_citation_opens_the_full_item_with_the_quote_marked(page, site):
    _, assistant, _ = site
    ask(page, "2020年洛阳市地区生产总值是多少？")
    reply = page.locator("#heluo-chat .message-content").last
    assert "5128.4" in reply.inner_text()
    assert reply.locator(".heluo-status").inner_text().count("忠实度") == 1
    link = reply.locator("a.heluo-cite").first
    anchor = link.get_attribute("href").lstrip("#")
    card = page.locator(f"#{anchor}")
    assert card.get_attribute("open") is None
    link.click()
    page.wait_for_function(f"document.getElementById('{anchor}').open")
    mark = card.locator(".heluo-fulltext mark")
    assert mark.first.is_visible()
    title = card.locator("summary b").inner_text()
    items = [i for i in assistant.index.catalog.items() if i.title == title]
    assert items, title
    shown = card_text(page, anchor)
    assert any(_same_text(shown, item.text) for item in items)  # the whole item, not a chunk
    highlighted = _squash(mark.first.inner_text())
    assert highlighted and any(highlighted in _squash(item.text) for item in items)
    page.screenshot(path=str(SHOTS / "ui_answer_citation.png"), full_page=True)


def test_month_summary_with_citations(page):
    choose(page, "#heluo-month", "2023年12月")
    page.locator("#heluo-summarize").click()
    reply = page.locator("#heluo-chat .message-content").last
    reply.locator(".heluo-status").wait_for(timeout=ANSWER_TIMEOUT_MS)
    text = reply.inner_text()
    assert "2023年12月" in text
    assert reply.locator("a.heluo-cite").count() >= 20
    cards = reply.locator("a.heluo-source")
    assert cards.count() >= 20
    reply.locator("details.heluo-sources summary").click()  # long source lists start folded
    third = cards.nth(2)
    anchor = third.get_attribute("href").lstrip("#")
    third.click()
    page.wait_for_function(f"document.getElementById('{anchor}').open")
    assert page.locator(f"#{anchor} mark").count() >= 1
    assert "12月" in card_text(page, anchor) or "2023-12" in page.locator(f"#{anchor} summary").inner_text()
    page.screenshot(path=str(SHOTS / "ui_month_summary.png"), full_page=True)


def test_uploaded_document_answers_questions_then_can_be_deleted(page, site, tmp_path):
    _, _, settings = site
    upload = tmp_path / "嵩县2024年政府工作报告.txt"
    upload.write_text(NEW_REPORT, encoding="utf-8")

    page.get_by_role("tab", name="文档库").click()
    table = page.locator("#heluo-documents")
    table.get_by_text("003_", exact=False).first.wait_for()
    page.locator("#heluo-upload input[type=file]").set_input_files(str(upload))
    page.locator("#heluo-upload").get_by_text(upload.name).first.wait_for()
    page.locator("#heluo-upload-button").click()
    status = page.locator("#heluo-corpus-status")
    status.get_by_text("已导入").wait_for(timeout=ANSWER_TIMEOUT_MS)
    table.get_by_text(upload.name).first.wait_for()
    assert (settings.corpus / upload.name).exists()
    page.screenshot(path=str(SHOTS / "ui_corpus_upload.png"), full_page=True)

    page.get_by_role("tab", name="问答").click()
    ask(page, "天池山玻璃栈道全长多少米？")
    reply = page.locator("#heluo-chat .message-content").last
    assert "1280" in reply.inner_text()
    link = reply.locator("a.heluo-cite").first
    anchor = link.get_attribute("href").lstrip("#")
    link.click()
    page.wait_for_function(f"document.getElementById('{anchor}').open")
    assert upload.name in page.locator(f"#{anchor}").inner_text()
    assert "1280" in page.locator(f"#{anchor} mark").first.inner_text()
    page.screenshot(path=str(SHOTS / "ui_uploaded_answer.png"), full_page=True)

    page.get_by_role("tab", name="文档库").click()
    choose(page, "#heluo-delete-choice", upload.name)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#heluo-delete-button").click()
    status.get_by_text("已删除").wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert not (settings.corpus / upload.name).exists()
    assert table.get_by_text(upload.name).count() == 0


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)  # the browser reflows whitespace


def _same_text(shown: str, original: str) -> bool:
    return _squash(shown) == _squash(original)
