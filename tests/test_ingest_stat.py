"""A no-op re-ingest reads no file whose size and mtime (ns) are as indexed; the content hash decides otherwise."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from conftest import make_settings
from ingest.catalog import Catalog
from ingest.index import ingest

HOUR_AGO_NS = time.time_ns() - 3600 * 10**9


@pytest.fixture
def indexed(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    texts = {
        "a.txt": "洛阳市召开防汛工作会议\n\n7月28日，市政府召开防汛工作会议，部署主汛期各项工作。",
        "b.txt": "洛阳市举办文化旅游节\n\n8月3日，河洛文化旅游节开幕，吸引游客十二万人次。",
    }
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
        os.utime(folder / name, ns=(HOUR_AGO_NS, HOUR_AGO_NS))  # older than the racy window: its stat is recorded
    settings = make_settings(tmp_path / "home", corpus=folder, embedder="hash")
    assert sorted(ingest([folder], settings).added) == ["a.txt", "b.txt"]
    return folder, settings


def reads_during(monkeypatch, work) -> tuple[list[str], object]:
    """The names of the files whose bytes `work()` read, and its result."""
    read: list[str] = []
    original = Path.read_bytes

    def counting(path: Path) -> bytes:
        read.append(path.name)
        return original(path)

    monkeypatch.setattr(Path, "read_bytes", counting)
    result = work()
    monkeypatch.setattr(Path, "read_bytes", original)
    return [name for name in read if name.endswith(".txt")], result


def test_an_unchanged_file_is_not_read(indexed, monkeypatch):
    folder, settings = indexed
    read, report = reads_during(monkeypatch, lambda: ingest([folder], settings))
    assert read == [] and sorted(report.unchanged) == ["a.txt", "b.txt"] and not report.changed


def test_a_touched_but_identical_file_is_hashed_once_and_not_embedded(indexed, monkeypatch):
    folder, settings = indexed
    later = HOUR_AGO_NS + 60 * 10**9
    os.utime(folder / "a.txt", ns=(later, later))
    version = Catalog(settings.index_dir / "catalog.sqlite").version()
    read, report = reads_during(monkeypatch, lambda: ingest([folder], settings))
    assert read == ["a.txt"] and sorted(report.unchanged) == ["a.txt", "b.txt"] and report.embedded == 0 and not report.changed
    assert Catalog(settings.index_dir / "catalog.sqlite").version() == version  # nothing readers must reload
    read, _ = reads_during(monkeypatch, lambda: ingest([folder], settings))
    assert read == []  # its new stat was recorded


def test_a_changed_file_of_the_same_size_with_a_new_mtime_is_reingested(indexed):
    folder, settings = indexed
    path = folder / "a.txt"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("7月28日", "7月29日"), encoding="utf-8")
    later = HOUR_AGO_NS + 60 * 10**9
    os.utime(path, ns=(later, later))
    assert path.stat().st_size == len(text.encode("utf-8"))
    report = ingest([folder], settings)
    assert report.updated == ["a.txt"] and report.unchanged == ["b.txt"]
    texts = " ".join(item.text for item in Catalog(settings.index_dir / "catalog.sqlite").items("a.txt"))
    assert "7月29日" in texts and "7月28日" not in texts


def test_a_file_modified_just_now_is_hashed_again_next_time(tmp_path, monkeypatch):
    """Within the timestamp granularity a rewrite may keep size and mtime: such a stat is never trusted."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("洛阳市召开防汛工作会议\n\n7月28日，市政府召开防汛工作会议。", encoding="utf-8")
    settings = make_settings(tmp_path / "home", corpus=folder, embedder="hash")
    ingest([folder], settings)
    read, report = reads_during(monkeypatch, lambda: ingest([folder], settings))
    assert read == ["a.txt"] and report.unchanged == ["a.txt"]
