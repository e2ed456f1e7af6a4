"""The persisted lexical indexes: BM25 updated for one changed file ranks exactly like a rebuild (and
like bm25s, the ranker it replaces); evidence frequencies from indexed bigrams match a substring count;
a reader catches up with the catalog by its version and re-reads only the files that changed."""

from __future__ import annotations

import json
from dataclasses import replace

import bm25s
import numpy as np
import pytest

from conftest import CORPUS, REPO
from ingest.catalog import Catalog
from ingest.lexical import INDEXES, Bm25Index, LexicalIndexes, TermMatrix, TermPresence, gram_codes, token_codes
from ingest.records import Chunk, Document, Item
from ingest.textutil import normalize_spaces, tokenize
from rag.evidence import key_terms

FEB, JUL, DEC, DISTRICT, CITY = sorted(p.name for p in CORPUS.glob("*.txt"))
# Dev questions only (the test set is for the evaluation alone).
QUESTIONS = [json.loads(line)["question"] for line in (REPO / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
CHUNK_ROWS = INDEXES[0].rows
ITEM_ROWS = INDEXES[1].rows


@pytest.fixture(scope="module")
def catalog(indexed_settings):
    return Catalog(indexed_settings.index_dir / "catalog.sqlite")


@pytest.fixture(scope="module")
def chunk_rows(catalog):
    return sorted(CHUNK_ROWS(catalog, [d.file for d in catalog.documents()]), key=lambda row: row.key)


def test_scores_are_those_of_bm25s(chunk_rows):
    ours = Bm25Index(matrix=TermMatrix.build(chunk_rows, token_codes))
    theirs = bm25s.BM25()
    theirs.index([tokenize(row.text) or ["\u0000"] for row in chunk_rows], show_progress=False)
    for question in QUESTIONS:
        tokens = tokenize(question)
        assert np.array_equal(ours.scores(tokens), theirs.get_scores(tokens)), question


def test_an_index_updated_for_one_changed_file_ranks_like_a_rebuild(chunk_rows, tmp_path):
    saved = TermMatrix.build(chunk_rows, token_codes)
    saved.save(tmp_path / "chunks.npz", {}, "code")
    loaded, _ = TermMatrix.load(tmp_path / "chunks.npz", "code")
    july = [row for row in chunk_rows if row.file == JUL]
    # The July bulletin changes: one item edited, one gone, one new (with words no other row has).
    changed = [replace(july[0], text=july[0].text + "新增内容：城市书房再添三座"), *july[2:]]
    changed.append(replace(july[1], key=july[1].key + "-new", text="洛阳举办首届杜苏芮台风防御演练"))
    updated = loaded.replace_files({JUL}, changed, token_codes).replace_files({FEB}, [], token_codes)
    rebuilt = TermMatrix.build([row for row in chunk_rows if row.file not in {JUL, FEB}] + changed, token_codes)
    assert updated.keys.tolist() == rebuilt.keys.tolist()
    first, second = Bm25Index(matrix=updated), Bm25Index(matrix=rebuilt)
    for question in [*QUESTIONS, "杜苏芮台风", "城市书房"]:
        assert np.array_equal(first.scores(tokenize(question)), second.scores(tokenize(question)))
        for period in [(None, None), ("2023-07-01", "2023-07-31"), ("2023-07-05", "2023-07-05")]:
            assert first.search(question, 40, *period) == second.search(question, 40, *period)
    assert first.search("杜苏芮台风", 1) == [july[1].key + "-new"]
    assert TermMatrix.load(tmp_path / "chunks.npz", "other code") is None  # made by other code: rebuilt, never trusted


def test_term_frequencies_match_a_substring_count(catalog):
    items = catalog.items()
    presence = TermPresence(TermMatrix.build(ITEM_ROWS(catalog, [d.file for d in catalog.documents()]), gram_codes))
    texts = [normalize_spaces(f"{item.title} {item.text}").lower() for item in items]
    terms = sorted({term for question in QUESTIONS for term in key_terms(question)} | {"洛", "2"})
    exact = 0
    for term in terms:
        scanned = sum(1 for text in texts if term in text)
        counted = presence.frequency(term)
        if len(term) <= 2:
            assert counted == scanned, term
        assert counted >= scanned, term
        exact += counted == scanned
    assert presence.rows == len(items) and exact / len(terms) > 0.97


def _document(file: str, texts: list[str]) -> tuple[Document, list[Item], list[Chunk]]:
    stem = file.rsplit(".", 1)[0]
    items = [Item(f"{stem}#{n:04d}", file, "generic", n, "通知", f"标题{n}", text, n, n, "2023-07-0" + str(n + 1)) for n, text in enumerate(texts)]
    chunks = [Chunk(f"{item.item_id}/0", item.item_id, file, 0, f"通知 > {item.title}\n{item.text}", 10) for item in items]
    return Document(file, "generic", stem, "2023-07-01", "", "sha", len(items)), items, chunks


def _write(catalog: Catalog, file: str, texts: list[str]) -> None:
    document, items, chunks = _document(file, texts)
    catalog.replace_file(document, items, chunks, source=f"/corpus/{file}", fingerprint=str(texts), encoding="utf-8")


def test_a_reader_catches_up_by_version_reloading_only_what_changed(tmp_path, monkeypatch):
    path = tmp_path / "catalog.sqlite"
    writer = Catalog(path)  # stands in for `heluo ingest` in another process: its own connection
    _write(writer, "a.txt", ["洛阳召开防汛会议", "牡丹文化节开幕"])
    _write(writer, "b.txt", ["地铁二号线开通"])
    reader = LexicalIndexes(Catalog(path), tmp_path / "lexical")
    snapshot = reader.current()
    assert snapshot.chunks.search("防汛", 5) == ["a#0000/0"]
    assert reader.current() is snapshot  # nothing changed: the same snapshot, one version query

    asked: list[list[str]] = []
    for method in ("chunks_with_items", "items_of"):
        original = getattr(Catalog, method)
        monkeypatch.setattr(Catalog, method, lambda self, files, original=original: asked.append(sorted(files)) or original(self, files))
    _write(writer, "b.txt", ["地铁三号线开工建设"])
    now = reader.current()
    assert now.version > snapshot.version and asked == [["b.txt"]] * len(INDEXES)  # each index re-read b.txt only
    assert now.chunks.search("三号线", 5) == ["b#0000/0"] and now.chunks.search("二号线", 5) == []
    assert now.item_terms.frequency("三号线") == 1 and snapshot.item_terms.frequency("三号线") == 0  # old snapshots stay coherent

    writer.remove_file("a.txt")
    asked.clear()
    assert reader.current().chunks.search("防汛", 5) == [] and asked == [[]] * len(INDEXES)

    # Ingest rewrites the saved copy once it lacks its share of the items (by default: any change) ...
    reader.save()
    asked.clear()
    fresh = LexicalIndexes(Catalog(path), tmp_path / "lexical").current()  # a new process: loads, reads no rows
    assert asked == [] and fresh.chunks.search("三号线", 5) == ["b#0000/0"]
    assert set(fresh.file_versions) == {"b.txt"}
    # ... and, with a share set, leaves it when the change is smaller: a reader patches that file in from the catalog.
    for number in range(20):
        _write(writer, f"c{number:02d}.txt", [f"第{number}号通知：城市书房开放"])
    reader.save()
    _write(writer, "d.txt", ["牡丹文化节闭幕"])
    monkeypatch.setattr(LexicalIndexes, "REWRITE_SHARE", 0.1)
    saved = (tmp_path / "lexical" / "chunks_bm25.npz").stat().st_mtime_ns
    LexicalIndexes(Catalog(path), tmp_path / "lexical").save()
    assert (tmp_path / "lexical" / "chunks_bm25.npz").stat().st_mtime_ns == saved
    asked.clear()
    later = LexicalIndexes(Catalog(path), tmp_path / "lexical").current()
    assert asked == [["d.txt"]] * len(INDEXES) and later.chunks.search("闭幕", 5) == ["d#0000/0"]


def test_items_of_a_period_come_from_the_item_index_spans_like_a_scan(indexed_settings, catalog):
    from ingest.index import Index
    from ingest.store import date_to_int, filter_span, needs_day_precision
    from rag.retrieve import Retriever

    retriever = Retriever(Index(indexed_settings))
    periods = {d.file: d.period for d in catalog.documents()}
    every = catalog.items()
    for date_from, date_to in [("2023-07-01", "2023-07-31"), ("2023-12-05", "2023-12-05"), ("2023-02-01", "2023-02-28")]:
        first, last = date_to_int(date_from), date_to_int(date_to)
        scanned = [
            item for item in every
            if (span := filter_span(item, periods[item.file]))[0] and span[1] >= first and span[0] <= last
            and (item.date is not None or not needs_day_precision(date_from, date_to))
        ]
        found = retriever.items_in_period(date_from, date_to)
        assert found == scanned and found, (date_from, date_to)
