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


def before_reading(catalog_documents: list[Document], file: str, sha256: str) -> Decision | None:
    """Decided by content hash alone: an identical copy under another name, or a replaced version."""
    for document in catalog_documents:
        if document.sha256 == sha256 and document.file != file:
            return Decision("duplicate", other=document.file, why=f"与已导入的 {document.file} 内容完全相同，未重复导入")
    for document in catalog_documents:
        for version in superseded_versions(document):
            if version["sha256"] == sha256 and document.file != file:
                return Decision(
                    "superseded",
                    other=document.file,
                    why=f"是旧版本，已被修订版 {document.file} 取代，未导入（如需恢复旧版，请先删除 {document.file}）",
                )
    return None


def after_parsing(
    catalog: Catalog,
    documents: list[Document],
    sources: dict[str, str],
    file: str,
    path: Path,
    meta: DocumentMeta,
    item_ids: list[str],
) -> Decision:
    """Index it, replacing a document it revises; refuse a different document under a taken name."""
    shared = catalog.files_sharing_items({item_hash(i) for i in item_ids})
    by_file = {d.file: d for d in documents}
    same_name = by_file.get(file)
    if same_name is not None:
        old_source = Path(sources.get(file, ""))
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
    for document in documents:
        if _revises(document, meta, len(item_ids), shared.get(document.file, 0)):
            return Decision("index", replaces=document.file, other=document.file, why=_revision_reason(document, meta))
    return Decision("index")


def _revises(old: Document, meta: DocumentMeta, items: int, shared_items: int) -> bool:
    same_identity = (
        old.kind == meta.kind and bool(meta.period) and old.period == meta.period and _title_key(old.title) == _title_key(meta.title)
    )
    smaller = min(old.items, items)
    same_content = shared_items >= _SHARED_ITEMS_MIN and shared_items >= _SHARED_ITEMS_SHARE * smaller
    return same_identity or same_content


def _revision_reason(old: Document, meta: DocumentMeta) -> str:
    if old.period == meta.period and _title_key(old.title) == _title_key(meta.title):
        return f"与已导入的 {old.file} 标题、日期相同（{meta.title}，{meta.period}），视为修订版，替换旧版"
    return f"与已导入的 {old.file} 大部分条目相同，视为修订版，替换旧版"


def _title_key(title: str) -> str:
    return re.sub(r"[\W_]+", "", title).lower()
