"""The catalog: documents, items and chunks in SQLite, the source of truth of the index.

Chroma holds the vectors; the catalog says which chunks are current. A file's rows are replaced in
one transaction, after its vectors are written, so a crash at any point leaves either the old or the
new version here, and the next ingest reconciles Chroma against it.

Every write bumps the catalog's version and stamps the file's row with it, so a reader in another
process (the web server while `heluo ingest` runs) sees with one small query that something changed,
and with `file_versions()` which files, and reloads only those.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import MISSING, astuple, dataclass, fields
from pathlib import Path

from ingest.records import ITEM_HASH_CHARS, Chunk, Document, Item

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
  file TEXT PRIMARY KEY, kind TEXT NOT NULL, title TEXT NOT NULL, period TEXT NOT NULL,
  evidence TEXT NOT NULL, sha256 TEXT NOT NULL, items INTEGER NOT NULL,
  source TEXT NOT NULL, fingerprint TEXT NOT NULL, encoding TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 0,
  size INTEGER NOT NULL DEFAULT -1, mtime_ns INTEGER NOT NULL DEFAULT -1
);
CREATE TABLE IF NOT EXISTS items (
  item_id TEXT PRIMARY KEY, file TEXT NOT NULL, kind TEXT NOT NULL, position INTEGER NOT NULL,
  section TEXT NOT NULL, title TEXT NOT NULL, text TEXT NOT NULL, line_start INTEGER NOT NULL,
  line_end INTEGER NOT NULL, date TEXT, date_end TEXT
);
CREATE INDEX IF NOT EXISTS items_file ON items(file, position);
-- The content hash ending an item id (records.ITEM_HASH_CHARS = 10): revisions look items up by it.
CREATE INDEX IF NOT EXISTS items_content ON items(substr(item_id, -10));
CREATE TABLE IF NOT EXISTS chunks (
  chunk_id TEXT PRIMARY KEY, item_id TEXT NOT NULL, file TEXT NOT NULL, ordinal INTEGER NOT NULL,
  text TEXT NOT NULL, tokens INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_file ON chunks(file);
-- An item's chunks (first_chunks, for every question): without it each look-up scans all chunks.
CREATE INDEX IF NOT EXISTS chunks_item ON chunks(item_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
# Columns of the documents table that are not fields of Document: (name, SQL declaration).
_DOCUMENT_EXTRA_COLUMNS = (
    ("source", "TEXT NOT NULL DEFAULT ''"),
    ("fingerprint", "TEXT NOT NULL DEFAULT ''"),
    ("encoding", "TEXT NOT NULL DEFAULT ''"),
    ("version", "INTEGER NOT NULL DEFAULT 0"),
    # The file's size and modification time (ns) when its bytes were hashed: -1 when unknown.
    ("size", "INTEGER NOT NULL DEFAULT -1"),
    ("mtime_ns", "INTEGER NOT NULL DEFAULT -1"),
)
_VERSION = "version"
_IDENTITY = "identity"
_VECTORS_IN_SYNC = "vectors_in_sync"
_BATCH = 500  # bound parameters per IN (...) query
# The versions this process committed, per catalog file, so a reader can tell its own process's
# writes from another's (embedded Chroma does not see another process's writes until reopened).
_WRITTEN_HERE: dict[str, set[int]] = {}


@dataclass(frozen=True)
class FileStat:
    """A file's size and modification time (ns): unchanged, its bytes need no reading to be trusted."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileStat:
        stat = path.stat()
        return cls(stat.st_size, stat.st_mtime_ns)


@dataclass(frozen=True)
class IndexedStat:
    """What the catalog recorded of a file's bytes when it hashed them."""

    stat: FileStat
    sha256: str
    source: str


def _sql_literal(value: object) -> str:
    """A column default as SQL (ALTER TABLE takes no bound parameters)."""
    if isinstance(value, (tuple, list)):
        value = json.dumps(list(value), ensure_ascii=False)
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


_ITEM_COLUMNS = [f.name for f in fields(Item)]
_CHUNK_COLUMNS = [f.name for f in fields(Chunk)]
_DOCUMENT_COLUMNS = [f.name for f in fields(Document)]


def _json_positions(record: type) -> frozenset[int]:
    """Columns of a record's tuple fields (default ()), stored as JSON text."""
    return frozenset(i for i, f in enumerate(fields(record)) if isinstance(f.default, tuple))


_JSON_POSITIONS = {record: _json_positions(record) for record in (Document, Item, Chunk)}


def _to_row(record) -> tuple:
    positions = _JSON_POSITIONS[type(record)]
    return tuple(json.dumps(list(v), ensure_ascii=False) if i in positions else v for i, v in enumerate(astuple(record)))


def _from_row(record: type, row: Sequence):
    positions = _JSON_POSITIONS[record]
    return record(*(tuple(json.loads(v or "[]")) if i in positions else v for i, v in enumerate(row)))


class Catalog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL never corrupts the database and survives a killed process; it only skips
        # an fsync per commit (a power cut may lose the last commits, which the next ingest redoes).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._add_missing_columns()
        # Who this catalog is: versions restart when a catalog is created anew, and what was derived
        # from an earlier one (the lexical indexes) must not be taken for this one's.
        self._db.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (_IDENTITY, secrets.randbits(62)))
        self._lock = threading.Lock()
        self._written_here = _WRITTEN_HERE.setdefault(str(path.resolve()), set())
        self._uncommitted_version: int | None = None

    def _add_missing_columns(self) -> None:
        """An index written before a record gained a field gets the column, with the field's default.

        The pipeline fingerprint changes with the records module, so every file is re-processed on the
        next ingest and the new column is filled then; until then old rows read as the default.
        """
        for table, record in (("documents", Document), ("items", Item), ("chunks", Chunk)):
            present = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for column in fields(record):
                if column.name not in present:
                    default = column.default if column.default is not MISSING else None
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column.name} DEFAULT ?".replace("?", _sql_literal(default)))
        present = {row[1] for row in self._db.execute("PRAGMA table_info(documents)")}
        for name, declaration in _DOCUMENT_EXTRA_COLUMNS:
            if name not in present:
                self._db.execute(f"ALTER TABLE documents ADD COLUMN {name} {declaration}")

    # -- reads ---------------------------------------------------------------------------------
    def version(self) -> int:
        """A counter bumped by every write (in any process): cheap enough to check on every request."""
        rows = self._query("SELECT value FROM meta WHERE key = ?", (_VERSION,))
        return rows[0][0] if rows else 0

    def identity(self) -> int:
        return self._query("SELECT value FROM meta WHERE key = ?", (_IDENTITY,))[0][0]

    def file_versions(self) -> dict[str, int]:
        """file -> the catalog version that wrote its rows: what changed since a reader last looked."""
        return dict(self._query("SELECT file, version FROM documents"))

    def file_stats(self) -> dict[str, IndexedStat]:
        """file -> its stat, content hash and source path when last hashed (files hashed before stats were kept: none)."""
        rows = self._query("SELECT file, size, mtime_ns, sha256, source FROM documents WHERE size >= 0")
        return {file: IndexedStat(FileStat(size, mtime_ns), sha, source) for file, size, mtime_ns, sha, source in rows}

    def documents(self) -> list[Document]:
        rows = self._query(f"SELECT {','.join(_DOCUMENT_COLUMNS)} FROM documents ORDER BY file")
        return [_from_row(Document, row) for row in rows]

    def fingerprints(self, files: Iterable[str] | None = None) -> dict[str, tuple[str, str]]:
        """file -> (fingerprint, source path), of every file or of these."""
        sql = "SELECT file, fingerprint, source FROM documents"
        rows = self._query(sql) if files is None else self._select_in(sql, "file", files)
        return {file: (fp, source) for file, fp, source in rows}

    def items(self, file: str | None = None, month: str | None = None) -> list[Item]:
        sql, args = f"SELECT {','.join(_ITEM_COLUMNS)} FROM items", []
        conditions = []
        if file:
            conditions.append("file = ?")
            args.append(file)
        if month:
            conditions.append("substr(date, 1, 7) = ?")
            args.append(month)
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        return [_from_row(Item, row) for row in self._query(sql + " ORDER BY file, position", args)]

    def items_by_id(self, item_ids: Iterable[str]) -> dict[str, Item]:
        return {row[0]: _from_row(Item, row) for row in self._select_in(f"SELECT {','.join(_ITEM_COLUMNS)} FROM items", "item_id", item_ids)}

    def chunks_by_id(self, chunk_ids: Iterable[str]) -> dict[str, Chunk]:
        return {row[0]: _from_row(Chunk, row) for row in self._select_in(f"SELECT {','.join(_CHUNK_COLUMNS)} FROM chunks", "chunk_id", chunk_ids)}

    def first_chunks(self, item_ids: Iterable[str]) -> dict[str, Chunk]:
        """item id -> its first chunk (what represents an item that no chunk ranker found)."""
        first: dict[str, Chunk] = {}
        for row in self._select_in(f"SELECT {','.join(_CHUNK_COLUMNS)} FROM chunks", "item_id", item_ids):
            chunk = _from_row(Chunk, row)
            if chunk.item_id not in first or chunk.ordinal < first[chunk.item_id].ordinal:
                first[chunk.item_id] = chunk
        return first

    def item_months(self, files: Iterable[str]) -> set[str]:
        """The months ("2023-07") of the dated items of these files."""
        return {row[0] for row in self._select_in("SELECT DISTINCT substr(date, 1, 7) FROM items", "date != '' AND file", files) if row[0]}

    def items_of(self, files: Iterable[str]) -> list[Item]:
        """The items of these files, in file and position order."""
        rows = self._select_in(f"SELECT {','.join(_ITEM_COLUMNS)} FROM items", "file", files)
        return sorted((_from_row(Item, row) for row in rows), key=lambda item: (item.file, item.position))

    def chunks_with_items(self, files: Iterable[str]) -> list[tuple[Chunk, Item, str]]:
        """(chunk, its item, its document's period) for these files, read in one consistent snapshot."""
        columns = ",".join([*(f"c.{c}" for c in _CHUNK_COLUMNS), *(f"i.{c}" for c in _ITEM_COLUMNS), "d.period"])
        sql = f"SELECT {columns} FROM chunks c JOIN items i ON i.item_id = c.item_id JOIN documents d ON d.file = c.file"
        width = len(_CHUNK_COLUMNS)
        return [
            (_from_row(Chunk, row[:width]), _from_row(Item, row[width : width + len(_ITEM_COLUMNS)]), row[-1])
            for row in self._select_in(sql, "c.file", files)
        ]

    def items_in(self, files: Iterable[str]) -> int:
        """How many items these files hold."""
        return sum(row[0] for row in self._select_in("SELECT items FROM documents", "file", files))

    def files_sharing_items(self, content_hashes: set[str]) -> dict[str, int]:
        """file -> how many of its items have one of these content hashes (the tail of an item id)."""
        found: dict[str, int] = {}
        for file, count in self._select_in("SELECT file, COUNT(*) FROM items", f"substr(item_id, -{ITEM_HASH_CHARS})", sorted(content_hashes), group_by="file"):
            found[file] = found.get(file, 0) + count
        return found

    def chunks(self) -> list[Chunk]:
        return [_from_row(Chunk, row) for row in self._query(f"SELECT {','.join(_CHUNK_COLUMNS)} FROM chunks ORDER BY chunk_id")]

    def chunk_ids(self, file: str | None = None) -> set[str]:
        if file is None:
            return {row[0] for row in self._query("SELECT chunk_id FROM chunks")}
        return {row[0] for row in self._query("SELECT chunk_id FROM chunks WHERE file = ?", (file,))}

    def counts(self) -> tuple[int, int, int]:
        return tuple(self._query(f"SELECT COUNT(*) FROM {table}")[0][0] for table in ("documents", "items", "chunks"))  # type: ignore[return-value]

    def months(self) -> list[str]:
        rows = self._query("SELECT period FROM documents WHERE kind = 'bulletin' AND period != '' ORDER BY period")
        return [row[0] for row in rows]

    def written_elsewhere(self, after: int, upto: int) -> bool:
        """Did another process commit any of the versions after `after` up to `upto`?"""
        return any(version not in self._written_here for version in range(after + 1, upto + 1))

    def vectors_in_sync(self) -> bool:
        """False while a writer may have left Chroma and the catalog apart (set before, cleared after)."""
        rows = self._query("SELECT value FROM meta WHERE key = ?", (_VECTORS_IN_SYNC,))
        return bool(rows and rows[0][0])

    # -- writes --------------------------------------------------------------------------------
    def replace_file(
        self, document: Document, items: Sequence[Item], chunks: Sequence[Chunk], *, source: str, fingerprint: str, encoding: str,
        stat: FileStat | None = None,
    ) -> None:
        """Replace everything of one file atomically; `stat` is the file's when its bytes were read."""
        stat = stat or FileStat(-1, -1)
        with self._transaction():
            self._delete_file_rows(document.file)
            version = self._bump_version()
            self._db.execute(
                f"INSERT INTO documents ({','.join(_DOCUMENT_COLUMNS)}, source, fingerprint, encoding, version, size, mtime_ns)"
                f" VALUES ({','.join('?' * (len(_DOCUMENT_COLUMNS) + 6))})",
                (*_to_row(document), source, fingerprint, encoding, version, stat.size, stat.mtime_ns),
            )
            self._db.executemany(f"INSERT INTO items ({','.join(_ITEM_COLUMNS)}) VALUES ({','.join('?' * len(_ITEM_COLUMNS))})", [_to_row(i) for i in items])
            self._db.executemany(f"INSERT INTO chunks ({','.join(_CHUNK_COLUMNS)}) VALUES ({','.join('?' * len(_CHUNK_COLUMNS))})", [_to_row(c) for c in chunks])

    def record_stats(self, stats: dict[str, tuple[FileStat, str]]) -> None:
        """file -> (its new stat, the content hash its bytes still have): a touched file that hashed the
        same needs no reading next time. Not a change of content, so the version stays."""
        if not stats:
            return
        with self._transaction():
            self._db.executemany(
                "UPDATE documents SET size = ?, mtime_ns = ? WHERE file = ? AND sha256 = ?",
                [(stat.size, stat.mtime_ns, file, sha) for file, (stat, sha) in stats.items()],
            )

    def remove_file(self, file: str) -> None:
        with self._transaction():
            self._delete_file_rows(file)
            self._bump_version()

    def set_vectors_in_sync(self, in_sync: bool) -> None:
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (_VECTORS_IN_SYNC, int(in_sync)))

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                if self._uncommitted_version is not None:
                    self._written_here.add(self._uncommitted_version)
            finally:
                self._uncommitted_version = None

    def _bump_version(self) -> int:
        self._db.execute("INSERT INTO meta VALUES (?, 1) ON CONFLICT(key) DO UPDATE SET value = value + 1", (_VERSION,))
        self._uncommitted_version = self._db.execute("SELECT value FROM meta WHERE key = ?", (_VERSION,)).fetchone()[0]
        return self._uncommitted_version

    def _delete_file_rows(self, file: str) -> None:
        for table in ("documents", "items", "chunks"):
            self._db.execute(f"DELETE FROM {table} WHERE file = ?", (file,))

    def _query(self, sql: str, args: Sequence = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _select_in(self, sql: str, column: str, values: Iterable[str], group_by: str = "") -> list[tuple]:
        """`sql WHERE column IN (values)`, in batches; one read transaction, so all batches see one snapshot."""
        values = list(dict.fromkeys(values))
        rows: list[tuple] = []
        grouping = f" GROUP BY {group_by}" if group_by else ""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for start in range(0, len(values), _BATCH):
                    batch = values[start : start + _BATCH]
                    rows += self._db.execute(f"{sql} WHERE {column} IN ({','.join('?' * len(batch))}){grouping}", batch).fetchall()
            finally:
                self._db.execute("COMMIT")
        return rows

    def close(self) -> None:
        self._db.close()
