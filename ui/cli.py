"""The `heluo` command line. Heavy libraries are imported inside the commands, so --help is instant."""

from __future__ import annotations

import json
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="河洛问答 heluo: cited answers over Luoyang government documents.")

LlmOption = Annotated[Optional[str], typer.Option("--llm", help="extractive | local | openai | hybrid (default: HELUO_LLM, auto)")]


def _quiet_libraries() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"heluo: {message}", err=True)
    raise typer.Exit(code)


def _settings():
    from rag.settings import get_settings

    try:
        return get_settings()
    except Exception as error:  # pydantic validation errors name the bad HELUO_ variable
        _fail(f"设置有误 (bad HELUO_ setting): {error}")


def _assistant():
    from rag.service import Assistant

    return Assistant(_settings())


@app.command()
def ingest(paths: Annotated[Optional[list[Path]], typer.Argument(help="files or folders; default HELUO_CORPUS")] = None) -> None:
    """Index documents incrementally: unchanged files are skipped, changed ones replaced, removed ones dropped."""
    _quiet_libraries()
    from ingest.index import ingest as run_ingest

    settings = _settings()
    targets = paths or [settings.corpus]
    with _ingest_progress() as progress:
        try:
            report = run_ingest(targets, settings, progress)
        except ValueError as error:
            _fail(str(error))
    for file, message in report.failed:
        typer.echo(f"跳过 {file}: {message}", err=True)
    for file, reason in report.skipped:
        typer.echo(f"跳过 {file}: {reason}", err=True)
    for file, other in report.duplicates:
        typer.echo(f"未重复导入 {file}: 与已导入的 {other} 内容完全相同", err=True)
    for file, other in report.superseded:
        typer.echo(f"未导入 {file}: 是旧版本，已被修订版 {other} 取代（如需恢复旧版，请先删除 {other}）", err=True)
    for file, old in report.replaced:
        typer.echo(f"{file} 是 {old} 的修订版：已替换旧版，旧版的条目已从索引中删除")
    typer.echo(
        f"文档 {report.documents}，条目 {report.items}，片段 {report.chunks}；"
        f"新增 {len(report.added)}，更新 {len(report.updated)}，未变 {len(report.unchanged)}，删除 {len(report.removed)}，"
        f"替换旧版 {len(report.replaced)}，重复 {len(report.duplicates) + len(report.superseded)}，"
        f"跳过 {len(report.skipped)}，失败 {len(report.failed)}；新嵌入 {report.embedded}；修复向量 {report.repaired_vectors}；用时 {report.seconds:.1f} 秒"
    )
    if report.failed and not (report.added or report.updated or report.unchanged):
        raise typer.Exit(1)


@contextmanager
def _ingest_progress():
    """A progress bar on a terminal; elsewhere (a log, a pipe) one line per document as it starts."""
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True) as bar:
            task = bar.add_task("ingest", total=None)
            yield lambda message, done, total: bar.update(task, description=message, completed=done, total=total or None)
        return
    yield ProgressLines(sys.stderr)


class ProgressLines:
    """Ingest progress as plain lines: "[2/5] 文件名" when a document starts; embedding steps and
    the final "done" (the summary line follows) print nothing."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.files = 0
        self.current = ""

    def __call__(self, message: str, done: int, total: int) -> None:
        file = message.split(": ", 1)[0]
        if ": " in message or message == "done" or file == self.current:
            return
        self.current = file
        self.files += 1
        self.stream.write(f"[{done + 1}/{total}] {file}\n" if total else f"{file}\n")
        self.stream.flush()


@app.command()
def docs(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the indexed documents: file, kind, title, period, item count."""
    from ingest.catalog import Catalog
    from rag.serialize import document_to_dict

    settings = _settings()
    documents = Catalog(settings.index_dir / "catalog.sqlite").documents()
    if as_json:
        typer.echo(json.dumps([document_to_dict(d) for d in documents], ensure_ascii=False, indent=1))
        return
    if not documents:
        _fail("索引为空：请先运行 `heluo ingest` (the index is empty)")
    for d in documents:
        typer.echo(f"{d.file}\t{d.kind}\t{d.period}\t{d.items} 条\t{d.title}")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help='问题; "-" reads one question per line from stdin')],
    month: Annotated[Optional[str], typer.Option(help="restrict to a month, e.g. 2023-07")] = None,
    llm: LlmOption = None,
    k: Annotated[Optional[int], typer.Option("--k", min=1, max=50)] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Answer a question with citations (or refuse when the corpus does not say)."""
    _quiet_libraries()
    from rag.serialize import answer_to_dict

    batch = question == "-"
    # Read as the lines come, so a pipe gets each answer as soon as it is ready.
    questions = (line.strip() for line in sys.stdin if line.strip()) if batch else iter([question])
    try:
        assistant = _assistant()
    except Exception as error:  # e.g. a Chroma server that is down: every question still gets its line
        if not batch:
            _fail(_error_message(error))
        assistant = None
        startup_error = error
    failed = False
    for text in questions:
        try:
            if assistant is None:
                raise startup_error
            answer = assistant.ask(text, llm=llm, month=month, k=k)
        except Exception as error:  # in a batch, one failing question must not lose the others
            if not batch:
                _fail(_error_message(error))
            failed = True
            typer.echo(json.dumps({"question": text, "error": _error_message(error)}, ensure_ascii=False))
            sys.stdout.flush()
            continue
        if as_json or batch:
            typer.echo(json.dumps(answer_to_dict(answer), ensure_ascii=False))
            sys.stdout.flush()
        else:
            _print_answer(answer)
    if failed:
        raise typer.Exit(1)


@app.command()
def summarize(month: str, llm: LlmOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Digest of every item of a month, by section, with citations (plus an LLM overview when one is set)."""
    _quiet_libraries()
    from rag.serialize import answer_to_dict

    try:
        answer = _assistant().summarize(month, llm)
    except Exception as error:  # an LLM failure never gets here: the digest comes back with a notice
        _fail(_error_message(error))
    if as_json:
        typer.echo(json.dumps(answer_to_dict(answer), ensure_ascii=False))
    else:
        _print_answer(answer, summary=True)
    if answer.refused:
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="default 127.0.0.1 (HELUO_HOST)")] = None,
    port: Annotated[Optional[int], typer.Option(help="default 7860 (HELUO_PORT)")] = None,
    allow_public: Annotated[bool, typer.Option("--allow-public", help="bind a non-loopback address without HELUO_AUTH")] = False,
) -> None:
    """Start the web UI."""
    _quiet_libraries()
    from ui.web import launch

    try:
        launch(_settings(), host=host, port=port, allow_public=allow_public)
    except ValueError as error:
        _fail(str(error))


@app.command("eval")
def evaluate(
    set_paths: Annotated[
        Optional[list[Path]],
        typer.Option("--set", help="a JSONL set or a folder with corpus/ + questions.jsonl; repeatable (default: eval/dev.jsonl and eval/test.jsonl)"),
    ] = None,
    llm: LlmOption = None,
    out: Annotated[Path, typer.Option("--out")] = Path("reports"),
    compare: Annotated[Optional[str], typer.Option(help="comma-separated configs, e.g. naive,extractive,local")] = None,
    limit: Annotated[Optional[int], typer.Option(help="only the first N questions of each set (smoke run)")] = None,
    judge: Annotated[bool, typer.Option("--judge", help="claim-level faithfulness judged by the configured openai endpoint")] = False,
    without_gold: Annotated[
        bool, typer.Option("--without-gold", help="folder sets: also ask every question over the corpus without its gold files (all must be refused)")
    ] = False,
    export_feedback: Annotated[
        Optional[Path], typer.Option("--export-feedback", help="write the answers disliked in the web UI to FILE as candidate questions, then stop")
    ] = None,
) -> None:
    """Run the evaluation sets side by side and write Markdown, JSON and PNG reports."""
    _quiet_libraries()
    if export_feedback is not None:
        from eval.feedback import export_feedback as write_candidates
        from ui.history import HistoryStore

        count = write_candidates(HistoryStore.for_home(_settings().home), export_feedback)
        typer.echo(f"已写出 {count} 条候选评测问题（来自被点踩的回答）到 {export_feedback}；补全参考答案、要点和出处后即可加入评测集。")
        return
    from eval.harness import run_cli

    try:
        run_cli(_settings(), set_paths, out, llm=llm, compare=compare, limit=limit, judge=judge, without_gold=without_gold)
    except ValueError as error:
        _fail(str(error))


def _error_message(error: Exception) -> str:
    """A message for the user: our own errors say what to do; anything else names what failed."""
    if isinstance(error, (ValueError, RuntimeError)) and str(error):
        return str(error)
    return (
        f"回答失败（{type(error).__name__}：{error}）。请检查嵌入模型、Chroma 服务（HELUO_CHROMA_URL）"
        "和索引（heluo ingest）是否可用。"
    )


@app.command()
def history(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the conversations saved by the web UI: id, title, started, turns."""
    from ui.history import HistoryStore

    conversations = HistoryStore.for_home(_settings().home).conversations()
    if as_json:
        typer.echo(json.dumps([{"id": c.id, "title": c.title, "started": c.started, "turns": c.turns} for c in conversations], ensure_ascii=False, indent=1))
        return
    if not conversations:
        typer.echo("还没有保存的对话：在网页（heluo serve）里提问后，对话会自动保存。")
        return
    for c in conversations:
        _echo(f"{c.id}\t{c.started.replace('T', ' ')[:16]}\t{c.turns} 问\t{c.title}")


# Control characters in an answer (from a document or an LLM) could drive the terminal: ESC sequences
# make hidden links (OSC 8), write the clipboard (OSC 52) or overwrite lines; tab and newline stay.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _echo(text: str) -> None:
    typer.echo(_CONTROL.sub("", text))


def _print_answer(answer, summary: bool = False) -> None:
    """An answer with its quoted sources; a month summary (summary=True) as it reads best in a
    terminal: the overview and one line per key item, the quotes one `--json` away (80 of them
    would bury the summary)."""
    from rag.digest import overview_first
    from ui.render import status_text

    _echo((overview_first(answer.text) if summary else answer.text).rstrip())
    for note in answer.notices:
        _echo(f"（{note}）")
    if answer.citations and not summary:
        _echo("\n来源：")
        for c in answer.citations:
            when = f"，{c.item.date}" if c.item.date else ""
            _echo(f"[{c.n}] {c.item.title}（{c.item.section}{when}，{c.item.file}）\n    “{c.quote}”")
    if answer.unsupported:
        _echo("\n未能核实的句子：")
        for sentence in answer.unsupported:
            _echo(f"  ⚠ {sentence}")
    if not answer.refused:
        _echo(f"\n{status_text(answer)}")
    if summary and answer.citations:
        month = answer.query.months[0] if answer.query and answer.query.months else "月份"
        _echo(f"每条来源的原文摘录：heluo summarize {month} --json")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
