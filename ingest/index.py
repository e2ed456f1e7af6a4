"""Incremental, interrupt-safe indexing of a corpus folder into the catalog (SQLite) and Chroma.

Three stages overlap:
- plan and prepare (the calling thread), file after file: read -> fingerprint -> unchanged,
  duplicate, old version, conflict, or revision (ingest.revisions) -> parse -> chunk;
- embed (`EmbeddingStage`, a worker thread): the chunks the content-hash cache lacks, in full
  batches across files, while Python prepares the next file (the embedder's C engine or HTTP server
  does not hold the GIL);
- write (the calling thread, under the write lock, briefly): upsert the vectors of the files whose
  embedding finished, replace their catalog rows (one transaction per file), delete their stale
  vectors.
The write lock is never held while a file is parsed or embedded: uploads, deletes and other ingests
wait at most for one write, questions never wait. The catalog is the source of truth: a writer marks
the vectors out of sync before it touches Chroma and in sync once Chroma matches again, and a run
that finds them out of sync (its predecessor was killed) first reconciles Chroma with the catalog.
Embeddings are cached as each batch is made, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ingest import revisions
from ingest.catalog import Catalog, FileStat, IndexedStat
from ingest.chunk import chunk_item
from ingest.decode import UnreadableDocument
from ingest.embedder import CachedEmbedder, embedder_from_settings
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
# A file modified this recently may change again within the file system's timestamp granularity
# (a few ms on Linux) without its size or mtime changing: its stat is not recorded, so the next run
# hashes it again (git's "racily clean" files).
_RACY_NS = 2_000_000_000
# One write (one hold of the lock) covers the files finished so far, up to about this many chunks.
_WRITE_CHUNKS = 512

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


@dataclass(frozen=True)
class PreparedFile:
    """One changed file, parsed and chunked, ready to embed and write."""

    path: Path
    document: Document
    items: tuple[Item, ...]
    chunks: tuple[Chunk, ...]
    fingerprint: str
    encoding: str
    indexed_before: bool  # an indexed version of this very file exists
    replaces: str | None = None  # the indexed document (another file) this revision replaces
    stat: FileStat | None = None  # the file's when its bytes were read

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class EmbeddedFile:
    prepared: PreparedFile
    vectors: np.ndarray  # one row per chunk, in chunk order


class Index:
    """The indexed corpus: catalog, vector store and (lazily) the embedder, for ingest and retrieval."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(settings.index_dir / "catalog.sqlite")

    @cached_property
    def embedder(self) -> CachedEmbedder:
        return embedder_from_settings(self.settings)

    @cached_property
    def store(self) -> VectorStore:
        return VectorStore(self.settings.index_dir / "chroma", self.settings.collection, self.embedder.name, self.settings.chroma_url)

    def reopen_store(self) -> None:
        """Drop this process's embedded Chroma state, which never sees another process's writes.

        Embedded Chroma keeps its vector index in memory: after `heluo ingest` in another process it
        would return deleted chunks (without metadata) and miss new ones. A Chroma server is shared
        by every process and needs nothing.
        """
        if self.settings.chroma_url:
            return
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()  # handles already open keep working
        self.__dict__.pop("store", None)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """One writer at a time (CLI and UI uploads may overlap); readers are never blocked."""
        with open(self.settings.index_dir / ".write.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def changing_vectors(self) -> Iterator[None]:
        """Around every change to Chroma (inside `writing`): if it is interrupted, the next run repairs."""
        self.catalog.set_vectors_in_sync(False)
        yield
        self.catalog.set_vectors_in_sync(True)


def pipeline_fingerprint(settings: Settings) -> str:
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for module in _PIPELINE_MODULES:
        digest.update((here / f"{module}.py").read_bytes())
    digest.update(readers_version().encode())
    digest.update(f"{settings.chunk_tokens}/{settings.chunk_overlap_tokens}/{settings.embedder_name}".encode())
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
    """Index the files: unchanged ones skipped, changed ones replaced, removed ones (of scanned folders) dropped.

    An embeddings server that fails raises EmbeddingServiceError (a ValueError) once the files
    embedded before the failure are written; nothing of a file it failed on is.
    """
    started = time.perf_counter()
    index = Index(settings)
    report = IngestReport()
    files, folders = discover(paths, report.skipped)
    _timed(report, "repair", lambda: _repair_if_needed(index, report))
    known = index.catalog.fingerprints()
    _index_files(index, files, known, report, progress)
    seen = {path.name for path in files}
    replaced = {old for _, old in report.replaced}
    for file, (_fingerprint, source) in known.items():
        if file not in seen and file not in replaced and Path(source).parent in folders and not Path(source).exists():
            _timed(report, "remove", lambda file=file: _remove_file(index, file))
            report.removed.append(file)
    if report.changed:
        from ingest.lexical import LexicalIndexes

        _timed(report, "lexical", lambda: LexicalIndexes(index.catalog, settings.index_dir / "lexical").save())
    if progress:
        progress("done", len(files), len(files))
    report.documents, report.items, report.chunks = index.catalog.counts()
    report.embedded = index.embedder.misses if "embedder" in index.__dict__ else 0
    report.seconds = time.perf_counter() - started
    return report


def remove_document(file: str, settings: Settings) -> bool:
    index = Index(settings)
    with index.writing():
        if not index.catalog.fingerprints([file]):
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
    stat: FileStat | None = None  # the file's, taken before its bytes were read


@dataclass(frozen=True)
class FilePlan:
    """What ingesting one file will do, decided before anything is written (the UI shows it and
    asks before a replacement). action: unchanged | duplicate | superseded | failed | conflict |
    add | update | replace (`other` is the replaced, duplicated or conflicting indexed file).
    `touched`: unchanged, but only its hash said so (its stat changed): the stat to record."""

    path: Path
    action: str
    message: str = ""
    other: str | None = None
    prepared: _Prepared | None = field(default=None, repr=False)
    touched: tuple[FileStat, str] | None = None  # (new stat, content hash)


def file_fingerprint(sha: str, pipeline: str, override: dict | None) -> str:
    """What decides a file is unchanged: its bytes, the pipeline that processed them and its manifest entry."""
    return hashlib.sha256(f"{sha}/{pipeline}/{json.dumps(override, sort_keys=True)}".encode()).hexdigest()[:24]


def unchanged_by_stat(
    path: Path, stat: FileStat, known: tuple[str, str] | None, indexed: IndexedStat | None, pipeline: str, override: dict | None,
    folder: Path | None = None,
) -> bool:
    """Is the file as indexed, without reading it? Same source path, size and mtime (ns) as when its
    bytes were hashed, and that hash gives the indexed fingerprint under today's pipeline and manifest.
    `folder`: the file's folder, resolved (one resolve per folder instead of one per file)."""
    if not (known and indexed and indexed.stat == stat):
        return False
    if indexed.source != str((folder or path.parent.resolve()) / path.name) and indexed.source != str(path.resolve()):
        return False
    return file_fingerprint(indexed.sha256, pipeline, override) == known[0]


def plan_file(
    index: Index, documents: revisions.KnownDocuments, path: Path, override: dict | None, pipeline: str, known: tuple[str, str] | None,
    indexed: IndexedStat | None = None,
) -> FilePlan:
    """`known`: the file's indexed (fingerprint, source); `indexed`: its recorded stat, so an unchanged
    file (same path, size and mtime in ns) is not even read. When the stat differs the content hash decides."""
    try:
        stat = FileStat.of(path)
    except OSError as error:
        return FilePlan(path, "failed", f"无法读取文件 ({error.strerror or error})")
    if unchanged_by_stat(path, stat, known, indexed, pipeline, override):
        return FilePlan(path, "unchanged")
    try:
        raw = path.read_bytes()
    except OSError as error:
        return FilePlan(path, "failed", f"无法读取文件 ({error.strerror or error})")
    sha = hashlib.sha256(raw).hexdigest()
    fingerprint = file_fingerprint(sha, pipeline, override)
    recorded = stat if stat.mtime_ns <= time.time_ns() - _RACY_NS else None  # the stat the catalog may trust
    if known and known[0] == fingerprint:
        return FilePlan(path, "unchanged", touched=(recorded, sha) if recorded else None)
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
    return FilePlan(path, action, decision.why, decision.replaces, _Prepared(parsed, items, extracted, sha, fingerprint, previous, recorded))


def preview(paths: Sequence[Path], settings: Settings) -> list[FilePlan]:
    """What `ingest(paths)` would do to each file, without writing anything (the upload asks first)."""
    index = Index(settings)
    files, _folders = discover(paths)
    known, stats = index.catalog.fingerprints(), index.catalog.file_stats()
    pipeline = pipeline_fingerprint(settings)
    documents = revisions.KnownDocuments(index.catalog)
    manifests = {folder: load_manifest(folder) for folder in {f.parent for f in files}}
    return [
        plan_file(index, documents, path, manifests[path.parent].get(path.name), pipeline, known.get(path.name), stats.get(path.name))
        for path in files
    ]


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


def _index_files(index: Index, files: list[Path], known: dict[str, tuple[str, str]], report: IngestReport, progress: Progress | None) -> None:
    """Plan and prepare each file here while the embedding stage works on the previous ones; write as they finish."""
    pipeline = pipeline_fingerprint(index.settings)
    folders = {parent: parent.resolve() for parent in {f.parent for f in files}}
    manifests = {folder: load_manifest(folder) for folder in set(folders.values())}
    stats = index.catalog.file_stats()
    touched: dict[str, tuple[FileStat, str]] = {}
    # Kept current as files are planned; loaded when the first file is not unchanged by its stat
    # (a no-op run reads no document list).
    documents: revisions.KnownDocuments | None = None

    def write(groups: Iterator[list[EmbeddedFile]]) -> None:
        for group in groups:
            _write(index, group, report)

    stage: EmbeddingStage | None = None
    try:
        for number, path in enumerate(files, start=1):
            if progress:  # as each document starts: "[2/5] name" (how many started before it, of all)
                progress(path.name, number - 1, len(files))
            folder = folders[path.parent]
            override = manifests[folder].get(path.name)
            if _timed(report, "stat", lambda: _unchanged_by_stat(path, known.get(path.name), stats.get(path.name), pipeline, override, folder)):
                report.unchanged.append(path.name)
                continue
            documents = documents or revisions.KnownDocuments(index.catalog)
            plan = _timed(
                report, "parse", lambda: plan_file(index, documents, path, override, pipeline, known.get(path.name), stats.get(path.name))
            )
            if plan.touched:
                touched[path.name] = plan.touched
            prepared = _prepared(plan, known.get(path.name) is not None, index.settings, report)
            if prepared is None:
                continue
            # Later files of this run are decided against this one, as if it were written already.
            documents.add(prepared.document, str(path.resolve()))
            if prepared.replaces:
                documents.remove(prepared.replaces)
            if stage is None:  # the embedder loads only when something changed
                stage = EmbeddingStage(index.embedder, index.settings.embed_batch)
            stage.submit(prepared)
            write(stage.finished())
        if stage is not None:
            write(stage.drain(progress))
        index.catalog.record_stats(touched)
    finally:
        if stage is not None:
            stage.stop()
            report.stage_seconds["embed"] = stage.busy_seconds


def _unchanged_by_stat(path: Path, known: tuple[str, str] | None, indexed: IndexedStat | None, pipeline: str, override: dict | None, folder: Path) -> bool:
    try:
        stat = FileStat.of(path)
    except OSError:
        return False  # plan_file says why
    return unchanged_by_stat(path, stat, known, indexed, pipeline, override, folder)


def _prepared(plan: FilePlan, indexed_before: bool, settings: Settings, report: IngestReport) -> PreparedFile | None:
    """A planned file chunked and ready to embed; None (recorded in the report) when it is not to be written."""
    name = plan.path.name
    if plan.action == "unchanged":
        report.unchanged.append(name)
    elif plan.action == "duplicate":
        report.duplicates.append((name, plan.other or ""))
    elif plan.action == "superseded":
        report.superseded.append((name, plan.other or ""))
    elif plan.action in ("failed", "conflict"):
        report.failed.append((name, plan.message))
    if plan.prepared is None:
        return None
    parsed, items, extracted = plan.prepared.parsed, plan.prepared.items, plan.prepared.extracted
    chunks = _timed(
        report, "chunk", lambda: [c for item in items for c in chunk_item(item, settings.chunk_tokens, settings.chunk_overlap_tokens)]
    )
    document = Document(
        file=name,
        kind=parsed.meta.kind,
        title=parsed.meta.title,
        period=parsed.meta.period,
        evidence=parsed.meta.evidence,
        sha256=plan.prepared.sha,
        items=len(items),
        pages=extracted.pages,
        format=extracted.format,
        supersedes=revisions.supersedes_json(name, plan.prepared.previous),
    )
    return PreparedFile(
        plan.path, document, tuple(items), tuple(chunks), plan.prepared.fingerprint, extracted.format, indexed_before,
        plan.other if plan.action == "replace" else None, plan.prepared.stat,
    )


class EmbeddingStage:
    """Embeds the chunks of prepared files on a worker thread, in full batches across files.

    Files come out in the order they went in, each once all its chunks have vectors (from the cache
    or freshly made; every fresh batch is cached at once). `submit` blocks while more than a few
    batches wait, so memory stays bounded whatever the corpus size.
    """

    _END = object()

    def __init__(self, embedder: CachedEmbedder, batch_size: int, backlog_batches: int = 8) -> None:
        self._embedder = embedder
        self._batch = max(1, batch_size)
        self._backlog = self._batch * backlog_batches
        self._inbox: queue.Queue = queue.Queue()
        self._outbox: queue.Queue = queue.Queue()
        self._room = threading.Condition()
        self._backlog_chunks = 0  # chunks of the files submitted and not yet handed back
        self._stopping = threading.Event()
        self.embedded_texts = 0
        self.texts_to_embed = 0  # not in the cache, counted once each
        self.busy_seconds = 0.0
        self.last_file = ""  # the latest file submitted: what progress names while the last batches embed
        self._thread = threading.Thread(target=self._run, name="heluo-embed", daemon=True)
        self._thread.start()

    def submit(self, prepared: PreparedFile) -> None:
        with self._room:
            while self._backlog_chunks > self._backlog and self._thread.is_alive():
                self._room.wait(0.5)
            self._backlog_chunks += len(prepared.chunks)
        self.last_file = prepared.name
        self._inbox.put(prepared)

    def finished(self) -> Iterator[list[EmbeddedFile]]:
        """The files finished so far, in write groups; re-raises the worker's error once those are out."""
        group: list[EmbeddedFile] = []
        while True:
            try:
                result = self._outbox.get_nowait()
            except queue.Empty:
                break
            if isinstance(result, BaseException):
                if group:
                    yield group
                raise result
            group.append(result)
            if sum(len(f.prepared.chunks) for f in group) >= _WRITE_CHUNKS:
                yield group
                group = []
        if group:
            yield group

    def drain(self, progress: Progress | None = None) -> Iterator[list[EmbeddedFile]]:
        """Everything still in flight, in write groups, reporting embedding progress while waiting."""
        self._inbox.put(self._END)
        while self._thread.is_alive() or not self._outbox.empty():
            self._thread.join(timeout=0.5)
            if progress and self._thread.is_alive():
                progress(f"{self.last_file}: embedding", self.embedded_texts, self.texts_to_embed)
            yield from self.finished()

    def stop(self) -> None:
        self._stopping.set()
        self._inbox.put(self._END)
        self._thread.join(timeout=60)

    # -- worker ----------------------------------------------------------------------------------
    def _run(self) -> None:
        pending: deque[_Pending] = deque()  # submitted files, in order, until all their vectors are there
        waiting: dict[str, list[_Pending]] = {}  # text -> the pending files that need its vector
        todo: deque[str] = deque()  # texts to embed, each once
        ended = False
        try:
            while not self._stopping.is_set():
                self._emit_ready(pending)
                if not ended and len(todo) < self._batch:
                    try:
                        got = self._inbox.get(block=not todo)
                    except queue.Empty:
                        got = None  # nothing more for now: embed what there is rather than wait
                    if got is self._END:
                        ended = True
                    elif got is not None:
                        pending.append(self._intake(got, waiting, todo))
                        continue  # fill the batch first
                if todo:
                    self._embed_batch([todo.popleft() for _ in range(min(self._batch, len(todo)))], waiting)
                elif ended:
                    self._emit_ready(pending)
                    return
        except BaseException as error:  # the main thread re-raises it after writing what finished
            self._outbox.put(error)
        finally:
            with self._room:
                self._room.notify_all()

    def _intake(self, prepared: PreparedFile, waiting: dict[str, list[_Pending]], todo: deque[str]) -> _Pending:
        texts = [c.text for c in prepared.chunks]
        entry = _Pending(prepared, self._embedder.cached(texts))
        for text in dict.fromkeys(texts):
            if text not in entry.vectors:
                if text not in waiting:
                    waiting[text] = []
                    todo.append(text)
                    self.texts_to_embed += 1
                waiting[text].append(entry)
                entry.missing += 1
        return entry

    def _embed_batch(self, texts: list[str], waiting: dict[str, list[_Pending]]) -> None:
        started = time.perf_counter()
        vectors = self._embedder.embed_passages(texts)
        self.busy_seconds += time.perf_counter() - started
        self.embedded_texts += len(texts)
        for text, vector in zip(texts, vectors):
            for entry in waiting.pop(text):
                entry.vectors[text] = vector
                entry.missing -= 1

    def _emit_ready(self, pending: deque[_Pending]) -> None:
        """Hand over the leading files whose vectors are all there (files leave in the order they came)."""
        while pending and pending[0].missing == 0:
            entry = pending.popleft()
            chunks = entry.prepared.chunks
            vectors = np.vstack([entry.vectors[c.text] for c in chunks]) if chunks else np.zeros((0, 1), dtype=np.float32)
            self._outbox.put(EmbeddedFile(entry.prepared, vectors))
            with self._room:
                self._backlog_chunks -= len(chunks)
                self._room.notify_all()


@dataclass
class _Pending:
    prepared: PreparedFile
    vectors: dict[str, np.ndarray]
    missing: int = 0


def _write(index: Index, group: list[EmbeddedFile], report: IngestReport) -> None:
    """Write embedded files under the lock: vectors first, then each file's catalog rows, then the stale vectors."""
    with index.writing():
        current = index.catalog.fingerprints(e.prepared.name for e in group)
        todo = []
        for embedded in group:
            if current.get(embedded.prepared.name, ("",))[0] == embedded.prepared.fingerprint:
                report.unchanged.append(embedded.prepared.name)  # another process indexed this very version meanwhile
            else:
                todo.append(embedded)
        if not todo:
            return
        with index.changing_vectors():
            chunks = [c for e in todo for c in e.prepared.chunks]
            items = {i.item_id: i for e in todo for i in e.prepared.items}
            periods = {e.prepared.name: e.prepared.document.period for e in todo}
            vectors = np.vstack([e.vectors for e in todo if len(e.prepared.chunks)]) if chunks else np.zeros((0, 1), dtype=np.float32)
            _timed(report, "store", lambda: index.store.upsert(chunks, vectors, items, periods))
            stale: list[str] = []
            for embedded in todo:
                prepared = embedded.prepared
                previous = index.catalog.chunk_ids(prepared.name)
                _timed(
                    report,
                    "catalog",
                    lambda: index.catalog.replace_file(
                        prepared.document, prepared.items, prepared.chunks,
                        source=str(prepared.path.resolve()), fingerprint=prepared.fingerprint, encoding=prepared.encoding,
                        stat=prepared.stat,
                    ),
                )
                stale += previous - {c.chunk_id for c in prepared.chunks}
                if prepared.replaces:  # a revision: its old version goes once the new one is in
                    stale += index.catalog.chunk_ids(prepared.replaces)
                    _timed(report, "catalog", lambda: index.catalog.remove_file(prepared.replaces))
                    report.replaced.append((prepared.name, prepared.replaces))
                    if prepared.replaces in report.added:  # added earlier in this run, then replaced by its revision
                        report.added.remove(prepared.replaces)
                (report.updated if prepared.indexed_before or prepared.name in current else report.added).append(prepared.name)
            # Only now that the catalog points at the new chunks may the old vectors go.
            _timed(report, "store", lambda: index.store.delete(sorted(stale)))


def _remove_file(index: Index, file: str) -> None:
    with index.changing_vectors():
        index.store.delete(sorted(index.catalog.chunk_ids(file)))
        index.catalog.remove_file(file)


def _repair_if_needed(index: Index, report: IngestReport) -> None:
    """Reconcile Chroma with the catalog when the last writer did not finish (or the vectors went missing)."""
    if not _needs_repair(index):
        return
    with index.writing():
        if _needs_repair(index):  # another writer may have repaired it meanwhile
            with index.changing_vectors():
                _repair_vectors(index, report)


def _needs_repair(index: Index) -> bool:
    if not index.catalog.vectors_in_sync():
        return True
    embedded_store_gone = not index.settings.chroma_url and not (index.settings.index_dir / "chroma").exists()
    return embedded_store_gone and index.catalog.counts()[2] > 0


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
        chunks = sorted(index.catalog.chunks_by_id(missing).values(), key=lambda c: c.chunk_id)
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
