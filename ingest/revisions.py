"""What a file is to the index before it is written: new, a revision of an indexed document, an
identical copy of one, an old version already replaced, or a different document under a taken name.

A revision is the same document again: same kind, title and period (a corrected bulletin of the
same month), or mostly the same items (at least half of the smaller document's items identical).
It replaces the indexed version, so no item is indexed twice. The catalog remembers what each
document superseded (Document.supersedes), so the old file left in a folder is not indexed again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ingest.catalog import Catalog
from ingest.records import ITEM_HASH_CHARS, Document, DocumentMeta

# Content match: this share of the smaller document's items identical, and at least this many.
_SHARED_ITEMS_SHARE = 0.5
_SHARED_ITEMS_MIN = 3

Action = Literal["index", "duplicate", "superseded", "conflict"]


@dataclass(frozen=True)
class Decision:
    """action "index" with `replaces` set: the file is a revision of that indexed document."""

    action: Action
    replaces: str | None = None
    other: str | None = None  # the indexed file it duplicates, was replaced by, or conflicts with
    why: str = ""


def item_hash(item_id: str) -> str:
    """The content part of an item id (ingest.records.make_item_id): equal for identical items."""
    return item_id[-ITEM_HASH_CHARS:]


def superseded_versions(document: Document) -> list[dict[str, str]]:
    return json.loads(document.supersedes) if document.supersedes else []


def supersedes_json(new_file: str, previous: list[Document]) -> str:
    """The supersedes list of a new version: what its predecessors had replaced, and each predecessor
    under another name (an in-place edit of the same file is not a version to keep out)."""
    versions: list[dict[str, str]] = []
    for old in previous:
        versions += superseded_versions(old)
        if old.file != new_file:
            versions.append({"file": old.file, "sha256": old.sha256})
    unique = {(v["file"], v["sha256"]): v for v in versions}
    return json.dumps(list(unique.values()), ensure_ascii=False) if unique else ""


class KnownDocuments:
    """The indexed documents, looked up by name, content hash, superseded hash and identity (kind,
    period, title): loaded once per ingest run and kept current as files are stored or replaced,
    so deciding is a few dictionary look-ups and one indexed catalog query per file."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.by_file: dict[str, Document] = {}
        self.sources: dict[str, str] = {}
        self._by_sha: dict[str, str] = {}
        self._superseded: dict[str, str] = {}
        self._by_identity: dict[tuple[str, str, str], str] = {}
        sources = {file: source for file, (_fp, source) in catalog.fingerprints().items()}
        for document in catalog.documents():
            self.add(document, sources.get(document.file, ""))

    def add(self, document: Document, source: str) -> None:
        self.remove(document.file)
        self.by_file[document.file] = document
        self.sources[document.file] = source
        self._by_sha[document.sha256] = document.file
        for version in superseded_versions(document):
            self._superseded[version["sha256"]] = document.file
        if document.period:
            self._by_identity[_identity(document.kind, document.period, document.title)] = document.file

    def remove(self, file: str) -> None:
        document = self.by_file.pop(file, None)
        self.sources.pop(file, None)
        if document is None:
            return
        for table in (self._by_sha, self._superseded, self._by_identity):
            for key in [key for key, owner in table.items() if owner == file]:
                del table[key]

    def before_reading(self, file: str, sha256: str) -> Decision | None:
        """Decided by content hash alone: an identical copy under another name, or a replaced version."""
        same = self._by_sha.get(sha256)
        if same is not None and same != file:
            return Decision("duplicate", other=same, why=f"与已导入的 {same} 内容完全相同，未重复导入")
        newer = self._superseded.get(sha256)
        if newer is not None and newer != file:
            return Decision(
                "superseded", other=newer, why=f"是旧版本，已被修订版 {newer} 取代，未导入（如需恢复旧版，请先删除 {newer}）"
            )
        return None

    def after_parsing(self, file: str, path: Path, meta: DocumentMeta, item_ids: list[str]) -> Decision:
        """Index it, replacing a document it revises; refuse a different document under a taken name."""
        shared = self.catalog.files_sharing_items({item_hash(i) for i in item_ids})
        same_name = self.by_file.get(file)
        if same_name is not None:
            old_source = Path(self.sources.get(file, ""))
            moved_or_same = old_source == path.resolve() or not old_source.exists()
            if moved_or_same or _revises(same_name, meta, len(item_ids), shared.get(file, 0)):
                return Decision("index")
            return Decision(
                "conflict",
                other=file,
                why=(
                    f"索引中已有同名文件 {file}（来自 {old_source}），内容不同且不是它的修订版；"
                    "为免覆盖另一份文档，未导入。请改名后再导入，或先删除旧文档"
                ),
            )
        candidates = [f for f in shared if f != file]
        if meta.period and (twin := self._by_identity.get(_identity(meta.kind, meta.period, meta.title))):
            candidates.insert(0, twin)
        for candidate in dict.fromkeys(candidates):
            old = self.by_file.get(candidate)
            if old is not None and _revises(old, meta, len(item_ids), shared.get(candidate, 0)):
                return Decision("index", replaces=old.file, other=old.file, why=_revision_reason(old, meta))
        return Decision("index")


def _identity(kind: str, period: str, title: str) -> tuple[str, str, str]:
    return kind, period, _title_key(title)


def _revises(old: Document, meta: DocumentMeta, items: int, shared_items: int) -> bool:
    same_identity = bool(meta.period) and _identity(old.kind, old.period, old.title) == _identity(meta.kind, meta.period, meta.title)
    smaller = min(old.items, items)
    same_content = shared_items >= _SHARED_ITEMS_MIN and shared_items >= _SHARED_ITEMS_SHARE * smaller
    return same_identity or same_content


def _revision_reason(old: Document, meta: DocumentMeta) -> str:
    if old.period == meta.period and _title_key(old.title) == _title_key(meta.title):
        return f"与已导入的 {old.file} 标题、日期相同（{meta.title}，{meta.period}），视为修订版，替换旧版"
    return f"与已导入的 {old.file} 大部分条目相同，视为修订版，替换旧版"


def _title_key(title: str) -> str:
    return re.sub(r"[\W_]+", "", title).lower()
