"""A period's dense search by chunk ids finds what Chroma's metadata filter finds (real embedded Chroma)."""

from __future__ import annotations

import numpy as np

from ingest.lexical import Bm25Index
from ingest.records import Chunk, Item
from ingest.store import VectorStore, date_range_filter

PERIODS = [("2023-07-01", "2023-07-31"), ("2023-07-05", "2023-07-05"), ("2023-08-01", None), (None, "2023-06-30"), ("2030-01-01", "2030-12-31")]


def corpus(count: int = 60) -> tuple[list[Chunk], dict[str, Item], dict[str, str]]:
    """Items of three monthly files, some dated to the day, some only by their bulletin's month, some undated reports."""
    chunks, items, periods = [], {}, {}
    for number in range(count):
        month = 6 + number % 3
        file, kind = (f"report-{number % 2}.txt", "report") if number % 7 == 0 else (f"bulletin-{month}.txt", "bulletin")
        periods[file] = "2022-01-01" if kind == "report" else f"2023-{month:02d}"
        date = f"2023-{month:02d}-{1 + number % 28:02d}" if number % 3 else None
        item = Item(f"{file}#{number:04d}", file, kind, number, "", f"条目{number}", f"洛阳 第{number}条 内容", 0, 0, date, date)
        items[item.item_id] = item
        chunks.append(Chunk(f"{item.item_id}/0", item.item_id, file, 0, item.text, 5))
    return chunks, items, periods


def ranked(matches) -> list[tuple[str, str, float]]:
    return [(m.chunk_id, m.item_id, round(m.similarity, 5)) for m in matches]


def test_searching_by_the_chunk_index_ids_finds_what_the_metadata_filter_finds(tmp_path):
    chunks, items, periods = corpus()
    store = VectorStore(tmp_path / "chroma", "test", "fake")
    vectors = np.random.default_rng(0).normal(size=(len(chunks), 16)).astype(np.float32)
    store.upsert(chunks, vectors, items, periods)
    spans = Bm25Index(chunks, items, periods)
    query = vectors[5] + 0.1
    for date_from, date_to in PERIODS:
        where = date_range_filter(date_from, date_to)
        ids = spans.keys_in_period(date_from, date_to)
        by_filter = ranked(store.search(query, 10, where))
        assert ranked(store.search(query, 10, where, ids)) == by_filter
        assert len(by_filter) == min(10, len(ids))
    # The ids decide, not the filter (which here would select nothing).
    ids = spans.keys_in_period(*PERIODS[0])
    assert ranked(store.search(query, 10, {"date": {"$gt": 10**9}}, ids)) == ranked(store.search(query, 10, date_range_filter(*PERIODS[0])))
    # An id Chroma lacks (another process's write not there yet): the metadata filter answers.
    where = date_range_filter(*PERIODS[0])
    ids = [*spans.keys_in_period(*PERIODS[0]), "bulletin-7.txt#9999/0"]
    assert ranked(store.search(query, 10, where, ids)) == ranked(store.search(query, 10, where))
    assert store.search(query, 10, where, []) == []
    # No more ids than wanted: all of them, nearest first (computed here), as Chroma orders them.
    few = spans.keys_in_period(*PERIODS[1])
    assert 0 < len(few) < 10 and ranked(store.search(query, 10, None, few)) == ranked(store.search(query, 10, date_range_filter(*PERIODS[1])))
