"""Uploads to the document library: staged outside the corpus folder, checked (what each file would
do to the index, so the page can ask before replacing a document), then imported in a background
thread that reports its progress and goes on if the page is closed. All messages are Chinese.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ingest.decode import UnreadableDocument
from ingest.readers import SUPPORTED_SUFFIXES, check_size, unsupported_reason
from rag.settings import Settings

ACCEPTED_LABEL = "、".join(SUPPORTED_SUFFIXES)


def staging_root(settings: Settings) -> Path:
    return settings.home / "uploads"


def pending_files(pending: list[str] | None, settings: Settings) -> list[Path]:
    """The staged files a page's answer refers to; anything outside the staging folder is ignored."""
    root = staging_root(settings).resolve()
    return [Path(p) for p in pending or [] if Path(p).resolve().is_relative_to(root) and Path(p).is_file()]


def stage(paths: list[str], settings: Settings) -> tuple[list[Path], list[str]]:
    """Copy the uploads into a private folder; (staged files, problems with the rest)."""
    folder = staging_root(settings) / uuid.uuid4().hex[:12]
    staged, problems = [], []
    for raw in paths:
        source = Path(raw)
        reason = unsupported_reason(source)
        if reason is not None:
            problems.append(f"✗ {source.name}：{reason}")
            continue
        try:
            check_size(source, source.stat().st_size, settings.ingest_limits)
        except UnreadableDocument as error:
            problems.append(f"✗ {error}")
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / source.name
        shutil.copyfile(source, target)
        staged.append(target)
    return staged, problems


def check(staged: list[Path], settings: Settings) -> tuple[list[Path], list[str], list[str]]:
    """(files worth importing, questions to ask before importing them, notes on the others): what
    each staged file would do to the index. Rejected files are dropped from the staging folder."""
    from ingest.index import preview

    documents = _documents(settings)
    importable, questions, notes = [], [], []
    for plan in preview(staged, settings):
        name = plan.path.name
        if plan.action == "replace" and plan.other:
            old = documents.get(plan.other)
            size = f"（现有 {old.items} 条）" if old else ""
            questions.append(f"⚠ {name}：{plan.message}。导入后将删除旧文档 {plan.other}{size}，不会出现重复条目。")
        elif plan.action == "update" and name in documents:
            questions.append(f"⚠ {name}：文档库中已有同名文档（{documents[name].items} 条），导入将用新文件替换它。")
        elif plan.action in ("duplicate", "superseded", "conflict", "failed"):
            notes.append(f"✗ {name}：{plan.message}（已有的索引不受影响）")
            discard([plan.path])
            continue
        importable.append(plan.path)
    return importable, questions, notes


@dataclass
class ImportJob:
    """One background import: its progress while it runs, its report when it is done."""

    staged: list[Path]
    done: threading.Event = field(default_factory=threading.Event)
    message: str = "准备导入…"
    step: tuple[int, int] = (0, 0)
    lines: list[str] = field(default_factory=list)

    def progress(self, message: str, done: int, total: int) -> None:
        self.message, self.step = message, (done, total)

    def progress_line(self) -> str:
        done, total = self.step
        where = f"（{done}/{total}）" if total else ""
        message = "即将完成" if self.message == "done" else self.message.replace(": embedding", "：正在生成向量")
        return f"⏳ 后台导入中{where}：{message}。可以继续提问，导入完成后这里会更新。"

    def result_lines(self) -> list[str]:
        return self.lines


def start_import(staged: list[Path], settings: Settings) -> ImportJob:
    job = ImportJob(staged)
    threading.Thread(target=_run_import, args=(job, settings), name="heluo-upload", daemon=True).start()
    return job


def _run_import(job: ImportJob, settings: Settings) -> None:
    from ingest.index import ingest

    corpus = Path(settings.corpus)
    previous: dict[Path, bytes] = {}
    targets = []
    try:
        corpus.mkdir(parents=True, exist_ok=True)
        for source in job.staged:
            target = corpus / source.name
            if target.exists():
                previous[target] = target.read_bytes()  # put back if the new version fails
            shutil.copyfile(source, target)
            targets.append(target)
        before, sources = _documents(settings), _sources(settings)
        report = ingest(targets, settings, job.progress)
        rejected = {file for file, _ in report.failed} | {file for file, _ in report.duplicates + report.superseded}
        _restore([t for t in targets if t.name in rejected], previous)
        for _new, old in report.replaced:  # the replaced version's file goes too, if the library held it
            copy = _corpus_copy(before.get(old), corpus, sources.get(old, ""))
            if copy is not None:
                copy.unlink()
        job.lines = _report_lines(report)
    except Exception as error:  # the edge of a background job: say what happened, keep the corpus as it was
        _restore(targets, previous)
        job.lines = [f"✗ 导入失败：{error}（文档库未改变）" if isinstance(error, ValueError) else f"✗ 导入出错（{type(error).__name__}），文档库未改变；请查看服务日志"]
    finally:
        discard(job.staged)
        job.done.set()


def _report_lines(report) -> list[str]:
    lines = [f"✓ {name}：已导入" for name in report.added]
    lines += [f"✓ {name}：已更新" for name in report.updated]
    lines += [f"✓ {new}：已替换旧版 {old}（旧版条目已删除）" for new, old in report.replaced]
    lines += [f"– {name}：内容未变" for name in report.unchanged]
    lines += [f"✗ {name}：与已导入的 {other} 内容完全相同，未重复导入" for name, other in report.duplicates]
    lines += [f"✗ {name}：是旧版本，已被 {other} 取代，未导入" for name, other in report.superseded]
    lines += [f"✗ {file}：{message}（已有的索引不受影响）" for file, message in report.failed]
    lines.append(f"索引现有 {report.documents} 个文档、{report.items} 条目（用时 {report.seconds:.1f} 秒）。")
    return lines


def _restore(targets: list[Path], previous: dict[Path, bytes]) -> None:
    """Put back what an upload replaced, or remove what it added, so the corpus folder stays ingestible."""
    for target in targets:
        if target in previous:
            target.write_bytes(previous[target])
        else:
            target.unlink(missing_ok=True)


def discard(staged: list[Path]) -> None:
    for path in staged:
        path.unlink(missing_ok=True)
        if path.parent.name and path.parent.parent.name == "uploads" and not any(path.parent.iterdir()):
            path.parent.rmdir()


def corpus_copy_of(file: str, settings: Settings) -> Path | None:
    """The corpus folder's copy of an indexed document: the file it was read from, bytes unchanged."""
    return _corpus_copy(_documents(settings).get(file), Path(settings.corpus), _sources(settings).get(file, ""))


def _corpus_copy(document, corpus: Path, source: str) -> Path | None:
    if document is None:
        return None
    path = corpus / document.file
    if not path.is_file() or Path(source).resolve() != path.resolve():
        return None
    return path if hashlib.sha256(path.read_bytes()).hexdigest() == document.sha256 else None


def _documents(settings: Settings) -> dict:
    from ingest.catalog import Catalog

    return {d.file: d for d in Catalog(settings.index_dir / "catalog.sqlite").documents()}


def _sources(settings: Settings) -> dict[str, str]:
    from ingest.catalog import Catalog

    return {file: source for file, (_fp, source) in Catalog(settings.index_dir / "catalog.sqlite").fingerprints().items()}
