"""Lexical indexes over catalog rows, kept on disk and updated per changed file.

Each index is a sparse matrix of term counts (rows x vocabulary), one posting list per term, with
each row's key, file and date span. Scores are computed from the counts at query time, so an index
updated for one changed file ranks exactly like one rebuilt from scratch; rows stay in key order,
the order a rebuild produces, so even ties break the same way.

Four indexes are registered (`INDEXES`): BM25 over the chunks, over whole items and over windows of
two sentences (`Bm25Index`, the retriever's three lexical rankers), and the character unigrams/bigrams
of every item, which give the evidence weights their document frequencies (`TermPresence`). Another index over catalog rows (say a document-level BM25) is one more `IndexSpec`:
a name, a function giving the rows of some files, and an analyzer.

The indexes are derived data. Ingest saves them (atomically, next to the catalog) after it changed
the catalog; a reader loads them and patches in whatever files changed since, which it learns from
the catalog's version: one small query per request.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from ingest.catalog import Catalog
from ingest.records import Chunk, Item
from ingest.store import date_to_int, filter_span, needs_day_precision
from ingest.textutil import normalize_spaces, split_sentences, tokenize

Analyzer = Callable[[str], np.ndarray]  # text -> term codes (int64), repeats kept


@dataclass(frozen=True)
class LexicalRow:
    """One indexed unit (a chunk, an item, a document): its key, file, text and date span (20230728)."""

    key: str
    file: str
    text: str
    date: int = 0
    date_end: int = 0
    day_precise: bool = False


class TermMatrix:
    """Term counts of rows in key order, as posting lists (CSC), with each row's key, file and span.

    Terms are 63-bit codes (`token_code`, `gram_codes`), kept in a sorted array: no per-term Python
    object, so a saved index loads as a few arrays, whatever the vocabulary's size.
    """

    def __init__(self, keys: np.ndarray, files: np.ndarray, spans: np.ndarray, lengths: np.ndarray, terms: np.ndarray, postings) -> None:
        self.keys = keys  # str, sorted
        self.files = files  # str
        self.spans = spans  # int64 (rows, 3): date, date_end, day_precise
        self.lengths = lengths  # int32: terms per row, repeats included
        self.terms = terms  # int64, sorted: the code of each column
        self.postings = postings  # scipy CSC (rows x terms), uint16 counts, sorted row indices

    @property
    def rows(self) -> int:
        return len(self.keys)

    @classmethod
    def build(cls, rows: Sequence[LexicalRow], analyze: Analyzer) -> TermMatrix:
        return cls._empty().replace_files((), rows, analyze)

    @classmethod
    def _empty(cls) -> TermMatrix:
        from scipy.sparse import csc_matrix

        empty = np.zeros(0, dtype=np.int64)
        return cls(np.array([], dtype=str), np.array([], dtype=str), np.zeros((0, 3), dtype=np.int64), empty.astype(np.int32), empty, csc_matrix((0, 0), dtype=np.uint16))

    def replace_files(self, files: Collection[str], rows: Sequence[LexicalRow], analyze: Analyzer) -> TermMatrix:
        """A new matrix without the rows of `files`, with `rows` added (the current rows of those files)."""
        from scipy.sparse import csr_matrix, vstack

        counted = [np.unique(analyze(row.text), return_counts=True) for row in rows]
        new_codes = np.concatenate([codes for codes, _ in counted]) if counted else np.zeros(0, dtype=np.int64)
        terms = np.union1d(self.terms, new_codes).astype(np.int64)
        keep = np.flatnonzero(~np.isin(self.files, list(files))) if len(files) and self.rows else np.arange(self.rows)
        kept = self.postings.tocsr()[keep]
        kept = csr_matrix((kept.data, np.searchsorted(terms, self.terms)[kept.indices], kept.indptr), shape=(len(keep), len(terms)))
        indptr = np.concatenate([[0], np.cumsum([len(codes) for codes, _ in counted], dtype=np.int64)])
        data = np.concatenate([np.minimum(counts, 65535) for _, counts in counted]).astype(np.uint16) if counted else np.zeros(0, dtype=np.uint16)
        added = csr_matrix((data, np.searchsorted(terms, new_codes), indptr), shape=(len(rows), len(terms)))
        # An empty row counts one term, as bm25s's placeholder token did (it weighs in the average length).
        lengths = np.array([max(1, int(counts.sum())) for _, counts in counted], dtype=np.int32)
        keys = np.concatenate([self.keys[keep], np.array([r.key for r in rows], dtype=str)])
        order = np.argsort(keys, kind="stable")
        spans = np.concatenate([self.spans[keep], np.array([(r.date, r.date_end, r.day_precise) for r in rows], dtype=np.int64).reshape(-1, 3)])
        postings = vstack([kept, added], format="csr")[order].tocsc()
        postings.sort_indices()
        return TermMatrix(
            keys[order],
            np.concatenate([self.files[keep], np.array([r.file for r in rows], dtype=str)])[order],
            spans[order],
            np.concatenate([self.lengths[keep], lengths])[order],
            terms,
            postings,
        )

    def column(self, code: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows that contain the term, its count in each): empty for a term no row has."""
        column = int(np.searchsorted(self.terms, code))
        if column == len(self.terms) or self.terms[column] != code:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.uint16)
        start, end = self.postings.indptr[column], self.postings.indptr[column + 1]
        return self.postings.indices[start:end], self.postings.data[start:end]

    def save(self, path: Path, file_versions: Mapping[str, int], fingerprint: str) -> None:
        """Write atomically: a reader sees the old file or the new one, never half of one."""
        meta = json.dumps({"fingerprint": fingerprint, "file_versions": dict(file_versions)}, ensure_ascii=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with open(partial, "wb") as out:
            np.savez(
                out, meta=np.frombuffer(meta.encode("utf-8"), dtype=np.uint8), keys=self.keys, files=self.files,
                spans=self.spans, lengths=self.lengths, terms=self.terms,
                indptr=self.postings.indptr, indices=self.postings.indices, data=self.postings.data,
            )
        os.replace(partial, path)

    @staticmethod
    def saved_versions(path: Path, fingerprint: str) -> dict[str, int] | None:
        """The file versions a saved matrix holds (its small header only), or None when it is not usable."""
        try:
            with np.load(path, allow_pickle=False) as stored:
                meta = json.loads(stored["meta"].tobytes())
        except (OSError, ValueError, KeyError):
            return None
        if meta.get("fingerprint") != fingerprint:
            return None
        return {file: int(version) for file, version in meta["file_versions"].items()}

    @classmethod
    def load(cls, path: Path, fingerprint: str) -> tuple[TermMatrix, dict[str, int]] | None:
        """(matrix, the file versions it holds), or None when missing, unreadable or made by other code."""
        from scipy.sparse import csc_matrix

        try:
            with np.load(path, allow_pickle=False) as stored:
                meta = json.loads(stored["meta"].tobytes())
                if meta.get("fingerprint") != fingerprint:
                    return None
                keys, terms = stored["keys"], stored["terms"]
                postings = csc_matrix((stored["data"], stored["indices"], stored["indptr"]), shape=(len(keys), len(terms)))
                matrix = cls(keys, stored["files"], stored["spans"].reshape(-1, 3), stored["lengths"], terms, postings)
        except (OSError, ValueError, KeyError):
            return None
        return matrix, {file: int(version) for file, version in meta["file_versions"].items()}


@lru_cache(maxsize=1 << 18)
def token_code(token: str) -> int:
    """A word's 63-bit code (a stable hash: two of a corpus's words share one with odds of about 1e-9)."""
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little") >> 1


def token_codes(text: str) -> np.ndarray:
    """The BM25 analyzer: search-mode jieba tokens (repeats kept), as codes."""
    return np.fromiter((token_code(token) for token in tokenize(text)), dtype=np.int64)


def gram_codes(text: str) -> np.ndarray:
    """The evidence analyzer: every character and character bigram of the text as evidence matching sees it.

    A character's code is its code point; a bigram's is (first + 1) << 21 | second, above every code point.
    """
    points = np.frombuffer(normalize_spaces(text).lower().encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    return np.concatenate([points, ((points[:-1] + 1) << 21) | points[1:]])


class Bm25Index:
    """BM25 (Lucene's variant, k1 1.5, b 0.75: what bm25s computes) over rows, with date filters.

    `Bm25Index(chunks, items, periods)` indexes chunks in memory; the persisted one comes from
    `LexicalIndexes`. `search` returns row keys (chunk ids), best first.
    """

    K1, B = 1.5, 0.75

    def __init__(self, chunks: Sequence[Chunk] = (), items: Mapping[str, Item] | None = None, periods: Mapping[str, str] | None = None, *, matrix: TermMatrix | None = None) -> None:
        self.matrix = matrix or TermMatrix.build(chunk_rows(chunks, items or {}, periods or {}), token_codes)
        lengths = self.matrix.lengths.astype(np.float64)
        average = lengths.mean() if len(lengths) else 1.0
        # Per row, the length part of the term-frequency saturation: k1 * (1 - b + b * |d| / avgdl).
        self._saturation = self.K1 * ((1 - self.B) + self.B * lengths / average)
        self._dates, self._date_ends, self._day_precise = (self.matrix.spans[:, 0], self.matrix.spans[:, 1], self.matrix.spans[:, 2].astype(bool))

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 of every row for these query tokens (a repeated token counts again, as in bm25s)."""
        total = self.matrix.rows
        scores = np.zeros(total, dtype=np.float32)
        for token in tokens:
            rows, counts = self.matrix.column(token_code(token))
            if not len(rows):
                continue
            idf = np.float32(math.log(1 + (total - len(rows) + 0.5) / (len(rows) + 0.5)))
            tf = counts.astype(np.float32)
            scores[rows] += (np.float64(idf) * (tf / (self._saturation[rows] + tf))).astype(np.float32)
        return scores

    def search(self, text: str, n: int, date_from: str | None = None, date_to: str | None = None) -> list[str]:
        tokens = tokenize(text)
        if not self.matrix.rows or not tokens:
            return []
        scores = self.scores(tokens)
        # Only rows that score are sorted (by score, then row: the order a stable sort of all rows gives).
        found = np.flatnonzero(self._period_mask(date_from, date_to) & (scores > 0))
        order = found[np.argsort(-scores[found], kind="stable")[:n]]
        return self.matrix.keys[order].tolist()

    def keys_in_period(self, date_from: str | None, date_to: str | None) -> list[str]:
        """The keys of every dated row whose span overlaps the period (all dated rows without one)."""
        mask = self._period_mask(date_from, date_to) & (self._dates > 0)
        return self.matrix.keys[mask].tolist()

    def _period_mask(self, date_from: str | None, date_to: str | None) -> np.ndarray:
        mask = np.ones(self.matrix.rows, dtype=bool)
        if date_from or date_to:
            mask &= self._dates > 0
        if date_from:
            mask &= self._date_ends >= date_to_int(date_from)
        if date_to:
            mask &= self._dates <= date_to_int(date_to)
        if needs_day_precision(date_from, date_to):
            mask &= self._day_precise
        return mask


class TermPresence:
    """In how many rows a term occurs as a substring, from the rows' character unigrams and bigrams.

    Exact for terms of one or two characters; for longer ones, the rows holding every bigram of the
    term (a row with "城市", "市阳" and "阳台" but not "城市阳台" would count: rare enough to ignore).
    """

    def __init__(self, matrix: TermMatrix) -> None:
        self.matrix = matrix

    @property
    def rows(self) -> int:
        return self.matrix.rows

    def frequency(self, term: str) -> int:
        if not term:
            return self.matrix.rows
        points = [ord(ch) for ch in term]
        grams = points if len(points) == 1 else [((a + 1) << 21) | b for a, b in zip(points, points[1:])]
        postings = sorted((self.matrix.column(gram)[0] for gram in set(grams)), key=len)
        found = postings[0]
        for rows in postings[1:]:
            if not len(found):
                break
            found = np.intersect1d(found, rows, assume_unique=True)
        return len(found)


def chunk_rows(chunks: Sequence[Chunk], items: Mapping[str, Item], periods: Mapping[str, str]) -> list[LexicalRow]:
    rows = []
    for chunk in chunks:
        item = items.get(chunk.item_id)
        if item is not None:
            first, last = filter_span(item, periods.get(chunk.file, ""))
            rows.append(LexicalRow(chunk.chunk_id, chunk.file, chunk.text, first, last, item.date is not None))
    return rows


def _catalog_chunk_rows(catalog: Catalog, files: Sequence[str]) -> list[LexicalRow]:
    rows = catalog.chunks_with_items(files)
    items = {item.item_id: item for _, item, _ in rows}
    periods = {item.file: period for _, item, period in rows}
    return chunk_rows([chunk for chunk, _, _ in rows], items, periods)


def _catalog_item_rows(catalog: Catalog, files: Sequence[str]) -> list[LexicalRow]:
    return [LexicalRow(item.item_id, item.file, f"{item.title} {item.text}") for item in catalog.items_of(files)]


WINDOW_SENTENCES = 2  # sentences per window of the window index


def _item_rows_with_context(catalog: Catalog, files: Sequence[str]) -> list[tuple[Item, str, int, int]]:
    """(item, what it stands under (document title, section, title), its date span) for these files."""
    from rag.evidence import item_context  # the evidence stage's notion of an item's headings

    documents = {d.file: d for d in catalog.documents() if d.file in set(files)}
    rows = []
    for item in catalog.items_of(files):
        document = documents.get(item.file)
        first, last = filter_span(item, document.period if document else "")
        rows.append((item, item_context(item, document.title if document else ""), first, last))
    return rows


def _catalog_item_bm25_rows(catalog: Catalog, files: Sequence[str]) -> list[LexicalRow]:
    """One row per item: its headings and whole text (whole-document lexical evidence, e.g. news)."""
    return [
        LexicalRow(item.item_id, item.file, f"{context}\n{item.text}", first, last, item.date is not None)
        for item, context, first, last in _item_rows_with_context(catalog, files)
    ]


def _catalog_window_rows(catalog: Catalog, files: Sequence[str]) -> list[LexicalRow]:
    """Overlapping windows of two sentences of each item under its section and title (not the
    document title): a figure in the middle of a long paragraph, which its chunk dilutes."""
    from rag.evidence import item_context

    rows = []
    for item, _, first, last in _item_rows_with_context(catalog, files):
        sentences = split_sentences(item.text) or [item.text]
        context = item_context(item)
        for start in range(max(1, len(sentences) - WINDOW_SENTENCES + 1)):
            body = "".join(sentences[start : start + WINDOW_SENTENCES])
            rows.append(LexicalRow(window_key(item.item_id, start), item.file, f"{context}\n{body}", first, last, item.date is not None))
    return rows


def window_key(item_id: str, start: int) -> str:
    return f"{item_id}/w{start}"


def window_item(key: str) -> str:
    """The item id of a window's key."""
    return key.rsplit("/w", 1)[0]


@dataclass(frozen=True)
class IndexSpec:
    name: str
    rows: Callable[[Catalog, Sequence[str]], list[LexicalRow]]  # the current rows of these files
    analyze: Analyzer


INDEXES = (
    IndexSpec("chunks_bm25", _catalog_chunk_rows, token_codes),
    IndexSpec("item_terms", _catalog_item_rows, gram_codes),
    IndexSpec("items_bm25", _catalog_item_bm25_rows, token_codes),
    IndexSpec("windows_bm25", _catalog_window_rows, token_codes),
)


def _code_fingerprint() -> str:
    """Changes when the analyzers' code (this module, the tokenizer's stopwords) or rjieba change."""
    from importlib.metadata import version

    here = Path(__file__).parent
    digest = hashlib.sha256(version("rjieba").encode())
    for module in ("lexical", "textutil"):
        digest.update((here / f"{module}.py").read_bytes())
    import inspect

    from rag.evidence import item_context

    digest.update(inspect.getsource(item_context).encode())  # the item and window rows' headings
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class LexicalSnapshot:
    """The indexes as of one catalog version: immutable, so a question in flight keeps a coherent view."""

    version: int
    file_versions: dict[str, int]
    matrices: dict[str, TermMatrix]  # by IndexSpec name

    @cached_property
    def chunks(self) -> Bm25Index:
        return Bm25Index(matrix=self.matrices["chunks_bm25"])

    @cached_property
    def items(self) -> Bm25Index:
        return Bm25Index(matrix=self.matrices["items_bm25"])

    @cached_property
    def windows(self) -> Bm25Index:
        return Bm25Index(matrix=self.matrices["windows_bm25"])

    @cached_property
    def item_terms(self) -> TermPresence:
        return TermPresence(self.matrices["item_terms"])


class LexicalIndexes:
    """The catalog's lexical indexes, in step with it: `current()` patches in only the files that changed.

    A saved copy that lags the catalog is patched by its reader (reading and analysing only the
    changed files), but patching rebuilds each whole matrix, so it costs every reader about what a
    rewrite costs the ingest: at 50,000 items, 2.6-2.8 s per fresh process (server start, each
    `heluo ask`) for one new bulletin, against 3.8 s once at ingest, after which a load takes 0.3 s.
    So ingest rewrites whenever it changed what a saved index holds (`REWRITE_SHARE` 0: leave a copy
    that lacks less than this share of the items).
    """

    REWRITE_SHARE = 0.0

    def __init__(self, catalog: Catalog, folder: Path, specs: Sequence[IndexSpec] = INDEXES) -> None:
        self._catalog = catalog
        self._folder = folder
        self._specs = tuple(specs)
        # What the saved files must have been made by: this code, for this very catalog.
        self._fingerprint = f"{_code_fingerprint()}/{catalog.identity()}"
        self._snapshot: LexicalSnapshot | None = None
        self._lock = threading.Lock()

    def current(self) -> LexicalSnapshot:
        version = self._catalog.version()
        snapshot = self._snapshot
        if snapshot is not None and snapshot.version == version:
            return snapshot
        with self._lock:
            if self._snapshot is None or self._snapshot.version != version:
                self._snapshot = self._updated(self._snapshot, version)
            return self._snapshot

    def save(self) -> None:
        """After ingest changed the catalog: rewrite each saved index that lacks a large share of it."""
        with self._lock:
            file_versions = self._catalog.file_versions()
            total = max(1, self._catalog.counts()[1])
            for spec in self._specs:
                path = self._folder / f"{spec.name}.npz"
                held = TermMatrix.saved_versions(path, self._fingerprint)
                if held is not None:
                    changed, gone = _difference(held, file_versions)
                    if not (changed or gone) or self._catalog.items_in(changed) < self.REWRITE_SHARE * total:
                        continue
                loaded = TermMatrix.load(path, self._fingerprint)
                matrix, held = loaded or (TermMatrix._empty(), {})
                self._patched(spec, matrix, held, file_versions).save(path, file_versions, self._fingerprint)

    def _updated(self, snapshot: LexicalSnapshot | None, version: int) -> LexicalSnapshot:
        """The indexes patched up to the catalog; saved only when nothing usable was on disk."""
        # The version is read before the file versions: a commit in between is seen again next time.
        file_versions = self._catalog.file_versions()
        matrices = {}
        for spec in self._specs:
            path = self._folder / f"{spec.name}.npz"
            if snapshot is not None:
                matrices[spec.name] = self._patched(spec, snapshot.matrices[spec.name], snapshot.file_versions, file_versions)
                continue
            loaded = TermMatrix.load(path, self._fingerprint)
            matrix, held = loaded or (TermMatrix._empty(), {})
            matrices[spec.name] = self._patched(spec, matrix, held, file_versions)
            if loaded is None:
                matrices[spec.name].save(path, file_versions, self._fingerprint)
        return LexicalSnapshot(version, file_versions, matrices)

    def _patched(self, spec: IndexSpec, matrix: TermMatrix, held: Mapping[str, int], file_versions: Mapping[str, int]) -> TermMatrix:
        """The matrix with the rows of every file whose version differs from `held` re-read from the catalog."""
        changed, gone = _difference(held, file_versions)
        if not (changed or gone):
            return matrix
        return matrix.replace_files({*changed, *gone}, spec.rows(self._catalog, changed), spec.analyze)


def _difference(held: Mapping[str, int], current: Mapping[str, int]) -> tuple[list[str], set[str]]:
    """(files new or changed since `held`, files gone since)."""
    changed = sorted(file for file, version in current.items() if held.get(file) != version)
    return changed, {file for file in held if file not in current}
