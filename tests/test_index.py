"""The index: idempotent, incremental, interrupt-safe, filterable (real embedder, real Chroma)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import CORPUS, make_settings
from ingest.catalog import Catalog
from ingest.index import Index, ingest
from ingest.store import date_range_filter

FEB, JUL, DEC, DISTRICT, CITY = sorted(p.name for p in CORPUS.glob("*.txt"))


def corpus_copy(tmp_path, names=None):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for path in CORPUS.glob("*.txt"):
        if names is None or path.name in names:
            shutil.copy(path, folder / path.name)
    return folder


def assert_consistent(settings):
    """Chroma holds exactly the catalog's chunks: nothing duplicated, nothing missing."""
    index = Index(settings)
    assert index.store.ids() == index.catalog.chunk_ids()
    assert index.store.count() == index.catalog.counts()[2]


def snapshot(settings):
    catalog = Catalog(settings.index_dir / "catalog.sqlite")
    return [i.item_id for i in catalog.items()], sorted(catalog.chunk_ids())


def test_full_ingest_matches_the_corpus(indexed_settings):
    catalog = Catalog(indexed_settings.index_dir / "catalog.sqlite")
    counts = {d.file: d.items for d in catalog.documents()}
    assert counts[FEB] == 103 and counts[JUL] == 115 and counts[DEC] == 122
    assert {d.file: (d.kind, d.period) for d in catalog.documents()} == {
        FEB: ("bulletin", "2023-02"),
        JUL: ("bulletin", "2023-07"),
        DEC: ("bulletin", "2023-12"),
        DISTRICT: ("report", "2022-04-23"),
        CITY: ("report", "2021-02-07"),
    }
    assert_consistent(indexed_settings)


def test_reingest_is_a_no_op(indexed_settings):
    before = snapshot(indexed_settings)
    report = ingest([CORPUS], indexed_settings)
    assert sorted(report.unchanged) == sorted(p.name for p in CORPUS.glob("*.txt"))
    assert not (report.added or report.updated or report.removed or report.failed) and report.embedded == 0
    assert snapshot(indexed_settings) == before


def test_changed_and_removed_files(tmp_path):
    folder = corpus_copy(tmp_path, {FEB, CITY})
    settings = make_settings(tmp_path / "home", corpus=folder)
    first = ingest([folder], settings)
    assert sorted(first.added) == sorted([FEB, CITY])
    ids_before = {i.item_id for i in Catalog(settings.index_dir / "catalog.sqlite").items(CITY)}
    chunks_before = Catalog(settings.index_dir / "catalog.sqlite").chunk_ids()

    # Change one paragraph of the city report: exactly that item is replaced.
    text = (folder / CITY).read_text(encoding="utf-8")
    assert "5128.4亿元" in text
    (folder / CITY).write_text(text.replace("5128.4亿元", "5128.5亿元"), encoding="utf-8")
    second = ingest([folder], settings)
    assert second.updated == [CITY] and second.unchanged == [FEB]
    catalog = Catalog(settings.index_dir / "catalog.sqlite")
    changed_chunks = catalog.chunk_ids() ^ chunks_before
    assert changed_chunks and all(chunk_id.startswith(CITY.rsplit(".", 1)[0]) for chunk_id in changed_chunks)
    assert len(changed_chunks) <= 6  # the one item's old and new chunks, nothing else
    ids_after = {i.item_id for i in catalog.items(CITY)}
    assert len(ids_before - ids_after) == 1 and len(ids_after - ids_before) == 1
    assert any("5128.5亿元" in i.text for i in catalog.items(CITY))
    assert_consistent(settings)

    # Remove a file: its items and vectors go away; the other file stays.
    (folder / FEB).unlink()
    third = ingest([folder], settings)
    assert third.removed == [FEB]
    assert {d.file for d in catalog.documents()} == {CITY}
    assert_consistent(settings)


def test_bad_files_are_skipped_and_lose_nothing(tmp_path):
    folder = corpus_copy(tmp_path, {CITY})
    settings = make_settings(tmp_path / "home", corpus=folder)
    ingest([folder], settings)
    # Another document in GBK (a copy of an indexed one would be a revision of it: see test_revisions).
    (folder / "gbk.txt").write_bytes((CORPUS / DISTRICT).read_text(encoding="utf-8").encode("gb18030"))
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02PK\x03\x04" * 100)
    (folder / "empty.md").write_text("", encoding="utf-8")
    (folder / CITY).write_bytes(b"\x00\xff" * 50)  # an indexed file turns to garbage: keep its old version
    report = ingest([folder], settings)
    failed = dict(report.failed)
    assert set(failed) == {"binary.txt", "empty.md", CITY}
    assert "二进制" in failed["binary.txt"] and "为空" in failed["empty.md"]
    assert report.added == ["gbk.txt"]
    catalog = Catalog(settings.index_dir / "catalog.sqlite")
    assert {d.file: d.items for d in catalog.documents()} == {CITY: 40, "gbk.txt": 83}
    assert_consistent(settings)


def test_crash_between_vectors_and_catalog_is_repaired(tmp_path, monkeypatch):
    folder = corpus_copy(tmp_path, {CITY})
    settings = make_settings(tmp_path / "home", corpus=folder)
    ingest([folder], settings)
    before = snapshot(settings)
    text = (folder / CITY).read_text(encoding="utf-8")
    (folder / CITY).write_text(text.replace("各位代表", "各位人大代表"), encoding="utf-8")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("simulated kill after the vectors were written")

    monkeypatch.setattr(Catalog, "replace_file", crash)
    with pytest.raises(KeyboardInterrupt):
        ingest([folder], settings)
    monkeypatch.undo()
    assert snapshot(settings) == before  # the catalog still describes the old version
    index = Index(settings)
    assert index.store.ids() > index.catalog.chunk_ids()  # orphan vectors of the new version
    report = ingest([folder], settings)
    assert report.updated == [CITY]
    assert_consistent(settings)


@pytest.mark.slow
def test_kill_9_half_way_then_recover(tmp_path):
    folder = corpus_copy(tmp_path, {CITY, FEB, JUL})
    home = tmp_path / "home"
    env = {**os.environ, "HELUO_HOME": str(home), "HELUO_CORPUS": str(folder), "HELUO_CACHE": str(tmp_path / "cold-cache")}
    process = subprocess.Popen([sys.executable, "-m", "ui.cli", "ingest"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    catalog_path = home / "index" / "catalog.sqlite"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:  # kill once the first file is committed
        if catalog_path.exists():
            with sqlite3.connect(catalog_path) as db:
                try:
                    if db.execute("SELECT COUNT(*) FROM documents").fetchone()[0] >= 1:
                        break
                except sqlite3.OperationalError:
                    pass
        time.sleep(0.2)
    time.sleep(1.0)  # now half-way through the next file
    assert process.poll() is None, "ingest finished before it could be interrupted"
    process.send_signal(signal.SIGKILL)
    process.wait()
    settings = make_settings(home, corpus=folder)
    report = ingest([folder], settings)
    assert not report.failed
    catalog = Catalog(settings.index_dir / "catalog.sqlite")
    assert {d.file for d in catalog.documents()} == {CITY, FEB, JUL}
    assert len({i.item_id for i in catalog.items()}) == len(catalog.items())
    assert_consistent(settings)
    assert ingest([folder], settings).unchanged == sorted([CITY, FEB, JUL])


def test_month_filter_returns_only_that_month(indexed_settings):
    index = Index(indexed_settings)
    vector = index.embedder.embed_query("洛阳市召开工作会议")
    july = index.store.search(vector, 50, date_range_filter("2023-07-01", "2023-07-31"))
    assert len(july) == 50
    items = index.catalog.items_by_id(m.item_id for m in july)
    assert all(items[m.item_id].date.startswith("2023-07") for m in july)
    unfiltered = index.store.search(vector, 50)
    assert {items_file for items_file in (m.item_id.split("#")[0] for m in unfiltered)} - {JUL.rsplit(".", 1)[0]}
    metadata = index.store.get_metadata({"month": 202312})
    assert metadata and all(m["file"] == DEC for m in metadata)


def test_items_dated_by_month_only_match_their_month_but_not_a_day(indexed_settings):
    from ingest.store import needs_day_precision

    index = Index(indexed_settings)
    month_only = [i for i in index.catalog.items(JUL) if i.date is None]
    assert month_only, "the July bulletin has items dated only by month (7月，…)"
    wanted = {i.item_id for i in month_only}
    july = index.store.get_metadata(date_range_filter("2023-07-01", "2023-07-31"))
    assert wanted <= {m["item_id"] for m in july}
    one_day = index.store.get_metadata(date_range_filter("2023-07-05", "2023-07-05"))
    assert one_day and not wanted & {m["item_id"] for m in one_day}
    assert needs_day_precision("2023-07-21", "2023-07-31") and not needs_day_precision("2023-07-01", "2023-07-31")
    assert not needs_day_precision("2023-02-01", "2023-07-31")


def test_an_index_written_before_a_record_gained_a_field_still_opens(tmp_path, monkeypatch):
    """A catalog created by an older version (fewer item columns) gains the new column with its default."""
    import dataclasses
    import sqlite3

    from ingest import catalog as catalog_module
    from ingest.records import Item

    path = tmp_path / "catalog.sqlite"
    old = sqlite3.connect(path)
    old.executescript(catalog_module._SCHEMA.replace("line_end INTEGER NOT NULL, date TEXT, date_end TEXT", "line_end INTEGER NOT NULL, date TEXT"))
    old.close()

    catalog = catalog_module.Catalog(path)
    columns = {row[1] for row in catalog._db.execute("PRAGMA table_info(items)")}
    assert {f.name for f in dataclasses.fields(Item)} <= columns
    item = Item("a#0001-x", "a.txt", "generic", 1, "s", "t", "text", 1, 2, "2023-07-01", "2023-07-02")
    from ingest.records import Document

    catalog.replace_file(Document("a.txt", "generic", "t", "", "", "sha", 1), [item], [], source="/a.txt", fingerprint="f", encoding="utf-8")
    assert catalog.items("a.txt") == [item]


class GatedEmbedder:
    """Fast fake vectors, but each call waits until the test opens the gate: a slow model, on demand."""

    name = "gated"

    def __init__(self, delay: float = 0.0) -> None:
        import threading

        from ingest.embedder import HashEmbedder

        self.delay = delay
        self.entered, self.gate = threading.Event(), threading.Event()
        self.batches: list[int] = []
        self._vectors = HashEmbedder()

    def embed_passages(self, texts):
        self.entered.set()
        assert self.gate.wait(60), "the test never opened the gate"
        time.sleep(self.delay)
        self.batches.append(len(texts))
        return self._vectors.embed_passages(texts)

    def embed_query(self, text):
        return self._vectors.embed_query(text)


def use_embedder(monkeypatch, tmp_path, inner):
    from ingest.embedder import CachedEmbedder

    monkeypatch.setattr("ingest.index.embedder_from_settings", lambda settings: CachedEmbedder(inner, tmp_path / "gated-cache.sqlite"))


def test_embedding_runs_outside_the_write_lock(tmp_path, monkeypatch):
    import fcntl
    import threading

    from ingest.index import remove_document

    folder = corpus_copy(tmp_path, {CITY, DISTRICT})
    settings = make_settings(tmp_path / "home", corpus=folder)
    gated = GatedEmbedder()
    use_embedder(monkeypatch, tmp_path, gated)
    reports = []
    worker = threading.Thread(target=lambda: reports.append(ingest([folder], settings)))
    worker.start()
    try:
        assert gated.entered.wait(60)
        # While the model works, another writer takes the lock at once (an upload, a delete) ...
        with open(settings.index_dir / ".write.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError if the ingest held it
            fcntl.flock(lock, fcntl.LOCK_UN)
        assert remove_document("no-such-file.txt", settings) is False
    finally:
        gated.gate.set()
        worker.join(120)
    assert sorted(reports[0].added) == sorted([CITY, DISTRICT])
    assert_consistent(settings)


def test_small_files_are_embedded_in_full_batches_across_files(tmp_path, monkeypatch):
    folder = tmp_path / "corpus"
    folder.mkdir()
    paragraphs = [p for p in (CORPUS / CITY).read_text(encoding="utf-8").split("\n") if len(p) > 60][:40]
    for number in range(20):
        (folder / f"notice-{number:02d}.txt").write_text(f"通知第{number}号\n\n" + "\n\n".join(paragraphs[2 * number : 2 * number + 2]), encoding="utf-8")
    settings = make_settings(tmp_path / "home", corpus=folder, embed_batch=8)
    gated = GatedEmbedder(delay=0.1)  # a model slower than parsing, as every real one is
    gated.gate.set()
    use_embedder(monkeypatch, tmp_path, gated)
    report = ingest([folder], settings)
    assert len(report.added) == 20 and report.embedded == sum(gated.batches)
    assert max(gated.batches) <= 8 and len(gated.batches) <= report.embedded // 8 + 3  # not one call per file
    assert_consistent(settings)
