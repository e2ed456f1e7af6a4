"""A running assistant (the web server's) sees what `heluo ingest` in another process changed, on the
next question, re-reading only the changed files (today's bug: "出错了（TypeError）" until a restart)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from conftest import CORPUS, make_settings
from ingest.catalog import Catalog
from ingest.index import ingest
from rag.service import Assistant

CITY = next(CORPUS.glob("004_*.txt")).name
JULY = next(CORPUS.glob("001_*.txt")).name
QUESTION = "2020年洛阳市地区生产总值是多少？"


def test_an_ingest_by_another_process_is_seen_on_the_next_question(tmp_path, monkeypatch):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in (CITY, JULY):
        shutil.copy(CORPUS / name, folder / name)
    settings = make_settings(tmp_path / "home", corpus=folder)
    ingest([folder], settings)
    assistant = Assistant(settings)
    assert "5128.4亿元" in assistant.ask(QUESTION).text

    text = (folder / CITY).read_text(encoding="utf-8")
    (folder / CITY).write_text(text.replace("5128.4亿元", "5234.5亿元"), encoding="utf-8")
    env = {**os.environ, "HELUO_HOME": str(settings.home), "HELUO_CORPUS": str(folder), "HELUO_CACHE": str(settings.cache_dir)}
    done = subprocess.run([sys.executable, "-m", "ui.cli", "ingest"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "更新 1" in done.stdout

    reread: list[str] = []
    original = Catalog.chunks_with_items
    monkeypatch.setattr(Catalog, "chunks_with_items", lambda self, files: reread.extend(files) or original(self, files))
    answer = assistant.ask(QUESTION)
    assert "5234.5亿元" in answer.text and "5128.4亿元" not in answer.text
    assert all("5128.4亿元" not in hit.chunk_text for hit in answer.retrieved)
    # The vector side sees the new chunk too: embedded Chroma was reopened, its stale graph dropped.
    assert any(hit.dense_rank for hit in answer.retrieved if "5234.5亿元" in hit.chunk_text)
    assert reread == [CITY]  # only the changed file was re-read
    assert assistant.months() == ["2023-07"]
