"""Incremental, interrupt-safe indexing of a corpus folder into the catalog (SQLite) and Chroma.

Per changed file: parse -> chunk -> embed (cached by content hash) -> upsert its vectors -> delete its
stale vectors -> replace its catalog rows in one transaction. The catalog is the source of truth:
every run starts by reconciling Chroma with it, so a run killed at any point is repaired by the next.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ingest.catalog import Catalog
from ingest.chunk import chunk_item
from ingest import revisions
from ingest.decode import UnreadableDocument
from ingest.embedder import CachedEmbedder, load_embedder
from ingest.parse import MANIFEST_NAME, load_manifest, parse_text
from ingest.readers import unsupported_reason
from ingest.readers.cache import read_cached, readers_version
from ingest.readers.records import Extracted
from ingest.records import Chunk, Document, Item, ParsedDocument, make_item_id
from ingest.store import VectorStore
from ingest.untrusted import flagged_sentences
from rag.settings import Settings

# A change to any of these modules changes what ingest produces, so it re-processes every file.
_PIPELINE_MODULES = (
    "bulletin", "report", "generic", "docdate", "parse", "chunk", "cndate", "textutil", "records", "store", "untrusted",
)

Progress = Callable[[str, int, int], None]  # (message, done, total)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    # Files not read at all (unsupported type, too large, a subfolder, hidden), with why.
    skipped: list[tuple[str, str]] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (file, indexed file with the same bytes)
    superseded: list[tuple[str, str]] = field(default_factory=list)  # (old version, the revision that replaced it)
    replaced: list[tuple[str, str]] = field(default_factory=list)  # (revision, the indexed document it replaced)
    repaired_vectors: int = 0
    embedded: int = 0
    documents: int = 0
    items: int = 0
    chunks: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.repaired_vectors)


class Index:
    """The indexed corpus: catalog, vector store and (lazily) the embedder, for ingest and retrieval."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(settings.index_dir / "catalog.sqlite")

    @cached_property
    def embedder(self) -> CachedEmbedder:
        return load_embedder(self.settings.embedder, self.settings.cache_dir, self.settings.embed_batch)

    @cached_property
    def store(self) -> VectorStore:
        return VectorStore(self.settings.index_dir / "chroma", self.settings.collection, self.embedder.name, self.settings.chroma_url)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """One writer at a time (CLI and UI uploads may overlap); readers are never blocked."""
        with open(self.settings.index_dir / ".write.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def pipeline_fingerprint(settings: Settings) -> str:
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for module in _PIPELINE_MODULES:
        digest.update((here / f"{module}.py").read_bytes())
    digest.update(readers_version().encode())
    digest.update(f"{settings.chunk_tokens}/{settings.chunk_overlap_tokens}/{settings.embedder}".encode())
    return digest.hexdigest()[:16]


def discover(paths: Sequence[Path], skipped: list[tuple[str, str]] | None = None) -> tuple[list[Path], list[Path]]:
    """(document files, folders scanned). Folders contribute their readable files, not recursively;
    everything in a folder that is not ingested is listed in `skipped` with the reason."""
    files, folders = [], []
    skipped = skipped if skipped is not None else []
    for path in paths:
        if path.is_dir():
            folders.append(path.resolve())
            for entry in sorted(path.iterdir()):
                reason = _skip_reason(entry)
                if reason is None:
                    files.append(entry)
                elif reason:
                    skipped.append((entry.name, reason))
        elif path.is_file():
            files.append(path)
        else:
            raise ValueError(f"{path}: 路径不存在 (no such file or folder)")
    return files, folders


def _skip_reason(entry: Path) -> str | None:
    """None: ingest it; "": pass over it silently (the manifest, hidden files); else why not."""
    if entry.name == MANIFEST_NAME or entry.name.startswith((".", "~$")):
        return ""
    if entry.is_dir():
        return "是子文件夹，不会递归导入；请单独导入该文件夹"
    if not entry.is_file():
        return "不是普通文件"
    return unsupported_reason(entry)


def ingest(paths: Sequence[Path], settings: Settings, progress: Progress | None = None) -> IngestReport:
    started = time.perf_counter()
    index = Index(settings)
    report = IngestReport()
    with index.writing():
        _timed(report, "repair", lambda: _repair_vectors(index, report))
        files, folders = discover(paths, report.skipped)
        known = index.catalog.fingerprints()
        pipeline = pipeline_fingerprint(settings)
        manifests = {folder: load_manifest(folder) for folder in {f.parent.resolve() for f in files}}
        documents = revisions.KnownDocuments(index.catalog)
        seen = set()
        for number, path in enumerate(files, start=1):
            if progress:
                progress(f"{path.name}", number - 1, len(files))
            seen.add(path.name)
            override = manifests[path.parent.resolve()].get(path.name)
            _ingest_file(index, documents, path, override, pipeline, known.get(path.name), report, progress)
        replaced = {old for _, old in report.replaced}
        for file, (_fingerprint, source) in known.items():
            if file not in seen and file not in replaced and Path(source).parent in folders and not Path(source).exists():
                _timed(report, "remove", lambda file=file: _remove_file(index, file))
                report.removed.append(file)
        if progress:
            progress("done", len(files), len(files))
    report.documents, report.items, report.chunks = index.catalog.counts()
    report.embedded = index.embedder.misses if "embedder" in index.__dict__ else 0
    report.seconds = time.perf_counter() - started
    return report


def remove_document(file: str, settings: Settings) -> bool:
    index = Index(settings)
    with index.writing():
        if file not in index.catalog.fingerprints():
            return False
        _remove_file(index, file)
    return True


@dataclass(frozen=True)
class _Prepared:
    """A file read and parsed, ready to be chunked, embedded and stored."""

    parsed: ParsedDocument
    items: list[Item]
    extracted: Extracted
    sha: str
    fingerprint: str
    previous: list[Document]  # the indexed versions it updates or replaces


@dataclass(frozen=True)
class FilePlan:
    """What ingesting one file will do, decided before anything is written (the UI shows it and
    asks before a replacement). action: unchanged | duplicate | superseded | failed | conflict |
    add | update | replace (`other` is the replaced, duplicated or conflicting indexed file)."""

    path: Path
    action: str
    message: str = ""
    other: str | None = None
    prepared: _Prepared | None = field(default=None, repr=False)


def plan_file(
    index: Index, documents: revisions.KnownDocuments, path: Path, override: dict | None, pipeline: str, known: tuple[str, str] | None
) -> FilePlan:
    try:
        raw = path.read_bytes()
    except OSError as error:
        return FilePlan(path, "failed", f"无法读取文件 ({error.strerror or error})")
    sha = hashlib.sha256(raw).hexdigest()
    fingerprint = hashlib.sha256(f"{sha}/{pipeline}/{json.dumps(override, sort_keys=True)}".encode()).hexdigest()[:24]
    if known and known[0] == fingerprint:
        return FilePlan(path, "unchanged")
    early = documents.before_reading(path.name, sha)
    if early is not None:
        return FilePlan(path, early.action, early.why, early.other)
    try:
        parsed, items, extracted = read_and_parse(path, raw, sha, override, index.settings)
    except (UnreadableDocument, ValueError) as error:
        # The file's previous version, if any, stays indexed: bad input never loses data.
        return FilePlan(path, "failed", str(error))
    decision = documents.after_parsing(path.name, path, parsed.meta, [i.item_id for i in items])
    if decision.action == "conflict":
        return FilePlan(path, "conflict", decision.why, decision.other)
    previous = [documents.by_file[f] for f in (path.name, decision.replaces) if f in documents.by_file]
    action = "replace" if decision.replaces else "update" if path.name in documents.by_file else "add"
    return FilePlan(path, action, decision.why, decision.replaces, _Prepared(parsed, items, extracted, sha, fingerprint, previous))


def preview(paths: Sequence[Path], settings: Settings) -> list[FilePlan]:
    """What `ingest(paths)` would do to each file, without writing anything (the upload asks first)."""
    index = Index(settings)
    files, _folders = discover(paths)
    known = index.catalog.fingerprints()
    pipeline = pipeline_fingerprint(settings)
    documents = revisions.KnownDocuments(index.catalog)
    manifests = {folder: load_manifest(folder) for folder in {f.parent for f in files}}
    return [plan_file(index, documents, path, manifests[path.parent].get(path.name), pipeline, known.get(path.name)) for path in files]


def _ingest_file(
    index: Index,
    documents: revisions.KnownDocuments,
    path: Path,
    override: dict | None,
    pipeline: str,
    known: tuple[str, str] | None,
    report: IngestReport,
    progress: Progress | None,
) -> None:
    plan = _timed(report, "parse", lambda: plan_file(index, documents, path, override, pipeline, known))
    if plan.action == "unchanged":
        report.unchanged.append(path.name)
    elif plan.action == "duplicate":
        report.duplicates.append((path.name, plan.other or ""))
    elif plan.action == "superseded":
        report.superseded.append((path.name, plan.other or ""))
    elif plan.action in ("failed", "conflict"):
        report.failed.append((path.name, plan.message))
    else:
        documents.add(_store_document(index, path, plan.prepared, report, progress), str(path.resolve()))
        if plan.action == "replace" and plan.other:
            _timed(report, "remove", lambda: _remove_file(index, plan.other))
            documents.remove(plan.other)
            report.replaced.append((path.name, plan.other))
            if plan.other in report.added:  # added earlier in this run, then replaced by its revision
                report.added.remove(plan.other)
        (report.updated if known else report.added).append(path.name)


def read_and_parse(path: Path, raw: bytes, sha: str, override: dict | None, settings: Settings) -> tuple[ParsedDocument, list[Item], Extracted]:
    """(parsed document, its items with ids and pages, the extracted text) of one file's bytes."""
    extracted = read_cached(path, raw, sha, settings.ingest_limits, settings.cache_dir)
    parsed = parse_text(extracted.text, path.name, override)
    items = []
    for position, p in enumerate(parsed.items):
        page, page_end = extracted.page_span(p.line_start, p.line_end)
        items.append(
            Item(
                item_id=make_item_id(path.name, position, p.title, p.text),
                file=path.name,
                kind=parsed.meta.kind,
                position=position,
                section=p.section,
                title=p.title,
                text=p.text,
                line_start=p.line_start,
                line_end=p.line_end,
                date=p.date,
                date_end=p.date_end,
                page=page,
                page_end=page_end,
                flagged=flagged_sentences(p.text, p.title),
            )
        )
    return parsed, items, extracted


def _store_document(index: Index, path: Path, prepared: _Prepared, report: IngestReport, progress: Progress | None) -> Document:
    """Chunk, embed and write one parsed file (vectors first, then its catalog rows, then stale vectors out)."""
    settings = index.settings
    parsed, items, extracted = prepared.parsed, prepared.items, prepared.extracted
    chunks = _timed(
        report,
        "chunk",
        lambda: [c for item in items for c in chunk_item(item, settings.chunk_tokens, settings.chunk_overlap_tokens)],
    )
    by_id = {item.item_id: item for item in items}
    vectors = _timed(report, "embed", lambda: _embed_with_progress(index, chunks, path.name, progress))
    stale = index.catalog.chunk_ids(path.name)
    new_ids = {c.chunk_id for c in chunks}
    _timed(report, "store", lambda: index.store.upsert(chunks, vectors, by_id, {path.name: parsed.meta.period}))
    document = Document(
        file=path.name,
        kind=parsed.meta.kind,
        title=parsed.meta.title,
        period=parsed.meta.period,
        evidence=parsed.meta.evidence,
        sha256=prepared.sha,
        items=len(items),
        pages=extracted.pages,
        format=extracted.format,
        supersedes=revisions.supersedes_json(path.name, prepared.previous),
    )
    _timed(
        report,
        "catalog",
        lambda: index.catalog.replace_file(
            document, items, chunks, source=str(path.resolve()), fingerprint=prepared.fingerprint, encoding=extracted.format
        ),
    )
    # Only now that the catalog points at the new chunks may the old vectors go.
    _timed(report, "store", lambda: index.store.delete(sorted(stale - new_ids)))
    return document


def _embed_with_progress(index: Index, chunks: list[Chunk], name: str, progress: Progress | None):
    import numpy as np

    texts = [c.text for c in chunks]
    cached = index.embedder.cached(texts)
    todo = [t for t in dict.fromkeys(texts) if t not in cached]
    step = 32
    for start in range(0, len(todo), step):
        if progress:
            progress(f"{name}: embedding", start, len(todo))
        index.embedder.embed_passages(todo[start : start + step])
    return index.embedder.embed_passages(texts) if texts else np.zeros((0, 1), dtype=np.float32)


def _remove_file(index: Index, file: str) -> None:
    stale = sorted(index.catalog.chunk_ids(file))
    index.store.delete(stale)
    index.catalog.remove_file(file)


def _repair_vectors(index: Index, report: IngestReport) -> None:
    """Make Chroma hold exactly the catalog's chunks: drop leftovers of an interrupted run, add what is missing."""
    wanted = index.catalog.chunk_ids()
    if not wanted and not (index.settings.index_dir / "chroma").exists() and not index.settings.chroma_url:
        return
    present = index.store.ids()
    extra = sorted(present - wanted)
    missing = wanted - present
    if extra:
        index.store.delete(extra)
    if missing:
        chunks = [c for c in index.catalog.chunks() if c.chunk_id in missing]
        items = index.catalog.items_by_id(c.item_id for c in chunks)
        periods = {d.file: d.period for d in index.catalog.documents()}
        index.store.upsert(chunks, index.embedder.embed_passages([c.text for c in chunks]), items, periods)
    report.repaired_vectors = len(extra) + len(missing)


def _timed(report: IngestReport, stage: str, work: Callable):
    started = time.perf_counter()
    try:
        return work()
    finally:
        report.stage_seconds[stage] = report.stage_seconds.get(stage, 0.0) + time.perf_counter() - started
