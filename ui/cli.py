"""The `heluo` command line. Heavy libraries are imported inside the commands, so --help is instant."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="河洛问答 heluo: cited answers over Luoyang government documents.")

LlmOption = Annotated[Optional[str], typer.Option("--llm", help="extractive | local | openai (default: HELUO_LLM, auto)")]


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
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ingest.index import ingest as run_ingest

    settings = _settings()
    targets = paths or [settings.corpus]
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("ingest", total=None)

        def progress(message: str, done: int, total: int) -> None:
            bar.update(task, description=message, completed=done, total=total or None)

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

    assistant = _assistant()
    questions = [line.strip() for line in sys.stdin if line.strip()] if question == "-" else [question]
    failed = False
    for text in questions:
        try:
            answer = assistant.ask(text, llm=llm, month=month, k=k)
        except Exception as error:
            if not isinstance(error, (ValueError, RuntimeError)):
                raise
            if question != "-":
                _fail(str(error))
            failed = True
            typer.echo(json.dumps({"question": text, "error": str(error)}, ensure_ascii=False))
            continue
        if as_json or question == "-":
            typer.echo(json.dumps(answer_to_dict(answer), ensure_ascii=False))
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
    except (ValueError, RuntimeError) as error:
        _fail(str(error))
    if as_json:
        typer.echo(json.dumps(answer_to_dict(answer), ensure_ascii=False))
    else:
        _print_answer(answer)
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
    set_path: Annotated[Path, typer.Option("--set")] = Path("eval/qa.jsonl"),
    llm: LlmOption = None,
    out: Annotated[Path, typer.Option("--out")] = Path("reports"),
    compare: Annotated[Optional[str], typer.Option(help="comma-separated configs, e.g. naive,extractive,local")] = None,
    limit: Annotated[Optional[int], typer.Option(help="only the first N questions (smoke run)")] = None,
    judge: Annotated[bool, typer.Option("--judge", help="claim-level faithfulness judged by the configured openai endpoint")] = False,
) -> None:
    """Run the evaluation set and write Markdown, JSON and PNG reports."""
    _quiet_libraries()
    from eval.harness import run_cli

    try:
        run_cli(_settings(), set_path, out, llm=llm, compare=compare, limit=limit, judge=judge)
    except ValueError as error:
        _fail(str(error))


# Control characters in an answer (from a document or an LLM) could drive the terminal: ESC sequences
# make hidden links (OSC 8), write the clipboard (OSC 52) or overwrite lines; tab and newline stay.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _echo(text: str) -> None:
    typer.echo(_CONTROL.sub("", text))


def _print_answer(answer) -> None:
    _echo(answer.text.rstrip())
    for note in answer.notices:
        _echo(f"（{note}）")
    if answer.citations:
        _echo("\n来源：")
        for c in answer.citations:
            when = f"，{c.item.date}" if c.item.date else ""
            _echo(f"[{c.n}] {c.item.title}（{c.item.section}{when}，{c.item.file}）\n    “{c.quote}”")
    if answer.unsupported:
        _echo("\n未能核实的句子：")
        for sentence in answer.unsupported:
            _echo(f"  ⚠ {sentence}")
    if not answer.refused:
        _echo(f"\n忠实度 {answer.fidelity:.2f} · 生成方式 {answer.llm} · {answer.timings_ms.get('total', 0):.0f} ms")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
