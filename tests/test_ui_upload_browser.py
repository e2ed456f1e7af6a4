"""Uploading a PDF in a real Chromium: the page asks before the PDF replaces the bulletin it revises,
imports it in the background, and a citation of the PDF shows the page of the item."""

from __future__ import annotations

import re
import shutil

import pytest

from conftest import CORPUS, make_settings
from documents import cached_document
from test_ui_browser import ANSWER_TIMEOUT_MS, CHROMIUM, SHOTS, ask, browser, free_port, page  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

FEB = sorted(CORPUS.glob("*.txt"))[0]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if not CHROMIUM:
        pytest.skip("Chromium is not installed: apt-get install -y chromium chromium-driver")
    pytest.importorskip("playwright.sync_api", reason="the Playwright Python package is not installed")
    from ingest.index import ingest
    from rag.service import Assistant
    from ui.web import build_app, serve

    root = tmp_path_factory.mktemp("upload-browser")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(FEB, corpus / FEB.name)
    settings = make_settings(root / "home", corpus=corpus)
    ingest([corpus], settings)
    assistant = Assistant(settings)
    app = build_app(assistant, settings)
    _, url, _ = serve(app, settings, port=free_port(), block=False)
    yield url, assistant, settings
    app.close()


def test_pdf_upload_asks_before_replacing_and_cites_its_pages(page, site, tmp_path):
    _, assistant, settings = site
    pdf = tmp_path / "政务信息月报2023年2月.pdf"
    shutil.copy(cached_document("pdf", FEB), pdf)

    page.get_by_role("tab", name="文档库").click()
    table = page.locator("#heluo-documents")
    table.get_by_text(FEB.name).first.wait_for(state="attached")  # the table keeps a hidden copy of its cells
    page.locator("#heluo-upload input[type=file]").set_input_files(str(pdf))
    page.locator("#heluo-upload").get_by_text(pdf.name).first.wait_for()
    page.locator("#heluo-upload-button").click()
    status = page.locator("#heluo-corpus-status")
    status.get_by_text("确认替换吗").wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert FEB.name in status.inner_text() and "103 条" in status.inner_text()
    assert not (settings.corpus / pdf.name).exists()  # nothing imported before the answer
    page.screenshot(path=str(SHOTS / "ui_upload_revision_question.png"), full_page=True)

    page.locator("#heluo-upload-replace").click()
    status.get_by_text("已替换旧版").wait_for(timeout=ANSWER_TIMEOUT_MS)
    table.get_by_text(pdf.name).first.wait_for(state="attached")
    assert table.get_by_text(FEB.name).count() == 0 and not (settings.corpus / FEB.name).exists()
    documents = assistant.index.catalog.documents()
    assert [(d.file, d.items, d.format) for d in documents] == [(pdf.name, 103, "pdf")]

    page.get_by_role("tab", name="问答").click()
    ask(page, "2023年2月国家文物局调研组来洛围绕什么开展调研？")
    reply = page.locator("#heluo-chat .message-content").last
    link = reply.locator("a.heluo-cite").first
    anchor = link.get_attribute("href").lstrip("#")
    link.click()
    page.wait_for_function(f"document.getElementById('{anchor}').open", timeout=ANSWER_TIMEOUT_MS)
    meta = page.locator(f"#{anchor} summary .heluo-meta").inner_text()
    assert next(d.title for d in documents if d.file == pdf.name) in meta  # the document by its title
    shown = re.search(r"第 (\d+)(?:–(\d+))? 页", meta)
    assert shown, meta
    title = page.locator(f"#{anchor} summary b").inner_text()
    item = next(i for i in assistant.index.catalog.items(pdf.name) if i.title == title)
    assert int(shown.group(1)) == item.page >= 2  # the bulletin's TOC fills page 1
    page.screenshot(path=str(SHOTS / "ui_pdf_citation_page.png"), full_page=True)
