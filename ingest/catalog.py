"""The catalog: documents, items and chunks in SQLite, the source of truth of the index.

Chroma holds the vectors; the catalog says which chunks are current. A file's rows are replaced in
one transaction, after its vectors are written, so a crash at any point leaves either the old or the
new version here, and the next ingest reconciles Chroma against it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import MISSING, astuple, fields
from pathlib import Path

from ingest.records import ITEM_HASH_CHARS, Chunk, Document, Item

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
  file TEXT PRIMARY KEY, kind TEXT NOT NULL, title TEXT NOT NULL, period TEXT NOT NULL,
  evidence TEXT NOT NULL, sha256 TEXT NOT NULL, items INTEGER NOT NULL,
  source TEXT NOT NULL, fingerprint TEXT NOT NULL, encoding TEXT NOT NULL
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
"""

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
        self._db.executescript(_SCHEMA)
        self._add_missing_columns()
        self._lock = threading.Lock()

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

    # -- reads ---------------------------------------------------------------------------------
    def documents(self) -> list[Document]:
        rows = self._query(f"SELECT {','.join(_DOCUMENT_COLUMNS)} FROM documents ORDER BY file")
        return [_from_row(Document, row) for row in rows]

    def fingerprints(self) -> dict[str, tuple[str, str]]:
        """file -> (fingerprint, source path)."""
        return {file: (fp, source) for file, fp, source in self._query("SELECT file, fingerprint, source FROM documents")}

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
        ids = list(dict.fromkeys(item_ids))
        found: dict[str, Item] = {}
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            sql = f"SELECT {','.join(_ITEM_COLUMNS)} FROM items WHERE item_id IN ({','.join('?' * len(batch))})"
            found.update((row[0], _from_row(Item, row)) for row in self._query(sql, batch))
        return found

    def files_sharing_items(self, content_hashes: set[str]) -> dict[str, int]:
        """file -> how many of its items have one of these content hashes (the tail of an item id)."""
        found: dict[str, int] = {}
        hashes = sorted(content_hashes)
        for start in range(0, len(hashes), 500):
            batch = hashes[start : start + 500]
            sql = (
                f"SELECT file, COUNT(*) FROM items WHERE substr(item_id, -{ITEM_HASH_CHARS}) IN ({','.join('?' * len(batch))}) GROUP BY file"
            )
            for file, count in self._query(sql, batch):
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

    # -- writes --------------------------------------------------------------------------------
    def replace_file(
        self, document: Document, items: Sequence[Item], chunks: Sequence[Chunk], *, source: str, fingerprint: str, encoding: str
    ) -> None:
        """Replace everything of one file atomically."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._delete_file_rows(document.file)
                self._db.execute(
                    f"INSERT INTO documents ({','.join(_DOCUMENT_COLUMNS)}, source, fingerprint, encoding) VALUES ({','.join('?' * (len(_DOCUMENT_COLUMNS) + 3))})",
                    (*_to_row(document), source, fingerprint, encoding),
                )
                self._db.executemany(f"INSERT INTO items ({','.join(_ITEM_COLUMNS)}) VALUES ({','.join('?' * len(_ITEM_COLUMNS))})", [_to_row(i) for i in items])
                self._db.executemany(f"INSERT INTO chunks ({','.join(_CHUNK_COLUMNS)}) VALUES ({','.join('?' * len(_CHUNK_COLUMNS))})", [_to_row(c) for c in chunks])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def remove_file(self, file: str) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._delete_file_rows(file)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _delete_file_rows(self, file: str) -> None:
        for table in ("documents", "items", "chunks"):
            self._db.execute(f"DELETE FROM {table} WHERE file = ?", (file,))

    def _query(self, sql: str, args: Sequence = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        self._db.close()
