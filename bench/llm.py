"""Benchmark the LLM path: the bundled model's speed, and first-text / total latency per generator.

Usage: .venv/bin/python bench/llm.py [--set eval/dev_stratified21.jsonl] [--generators extractive,local,hybrid]
       [--limit N] [--runs 3] [--threads N] [--skip-model]
       [--overview-generators extractive,local] [--skip-overviews] [--out bench/results/llm.json]

1. The model (skipped with --skip-model): assembly + verification, measured cold into a temporary
   folder (1.1 GB written, then removed); loading; prompt and generation speed over the same
   ~600-token Chinese RAG prompt, llama.cpp's prompt cache off so every run reads the whole prompt.
2. The generators: every question of the set through `Assistant.ask_stream` with each generator;
   first text = the first streamed piece with words in it, total = the verified final answer.
   Needs an index (`heluo ingest`) under HELUO_HOME.
3. The month overviews: each bulletin month through `summarize_stream` with each generator: the
   digest's first text, the total, whether the overview was kept, and whether it repeats itself.
4. One line per generator: the worst first text, overview and answer wall times. The JSON says the
   machine's load average before and after (figures measured under load are only an upper bound).
Run it on a quiet machine: on a shared one the figures are only an upper bound.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if sys.path[0] == str(REPO / "bench"):  # run as a script: bench/ingest.py must not shadow the ingest package
    sys.path[0] = str(REPO)

from langchain_core.messages import HumanMessage, SystemMessage  # noqa: E402

from rag.llm_local import MODEL_FILENAME, LocalChatModel, default_threads, ensure_assembled_model, parts_installed  # noqa: E402
from rag.settings import Settings, get_settings  # noqa: E402

REPORT = REPO / "data" / "corpus" / "004_3a04fcff32c40ffe.txt"
SOURCES = 2  # the two paragraphs make a prompt of about 600 Qwen tokens

SYSTEM = (
    "你是洛阳市政务问答助手。只根据下面编号的资料回答问题；资料中没有的内容，回答“资料中没有相关信息”。"
    "每句话后用[1]、[2]这样的编号标注出处，不要编造数字。"
)
QUESTIONS = (
    "2020年洛阳市地区生产总值是多少，增长了多少？",
    "2020年洛阳市社会消费品零售总额是多少？",
    "515个省市重点项目完成投资多少？",
)


def rag_prompt(question: str) -> list:
    """System prompt plus the report's first two paragraphs with amounts, numbered like retrieved sources."""
    paragraphs = [line.strip() for line in REPORT.read_text(encoding="utf-8").splitlines() if "亿元" in line]
    sources = "\n".join(f"[{n}] {text}" for n, text in enumerate(paragraphs[:SOURCES], start=1))
    return [SystemMessage(content=SYSTEM), HumanMessage(content=f"资料：\n{sources}\n\n问题：{question}")]


def measure(runs: int, threads: int) -> dict:
    settings = get_settings()
    results: dict = {
        "model": MODEL_FILENAME,
        "threads": threads,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "load_average_before": [round(load, 2) for load in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory(prefix="heluo-bench-") as folder:
        if settings.local_model:
            model_path = Path(settings.local_model)
            results["assemble_verify_s"] = None
            results["warm_verify_s"] = None
        elif parts_installed():
            started = time.perf_counter()
            model_path = ensure_assembled_model(Path(folder))
            results["assemble_verify_s"] = round(time.perf_counter() - started, 2)
            started = time.perf_counter()
            ensure_assembled_model(Path(folder))
            results["warm_verify_s"] = round(time.perf_counter() - started, 4)
        else:
            raise SystemExit("本地模型未安装：请先运行 pip install -e '.[local]'（或 scripts/install.sh）。")

        chat = LocalChatModel(
            model_path=str(model_path),
            n_ctx=settings.local_ctx,
            threads=threads,
            max_tokens=settings.max_answer_tokens,
            cache_prompt=False,
        )
        started = time.perf_counter()
        chat.load()
        results["load_s"] = round(time.perf_counter() - started, 2)
        results["runs"] = [_one_run(chat, QUESTIONS[n % len(QUESTIONS)]) for n in range(runs)]
    for key in ("prompt_tokens", "prompt_tokens_per_s", "generated_tokens", "generated_tokens_per_s", "answer_s"):
        results[key] = round(statistics.mean(run[key] for run in results["runs"]), 2)
    return results


def _one_run(chat: LocalChatModel, question: str) -> dict:
    started = time.perf_counter()
    reply = chat.invoke(rag_prompt(question))
    elapsed = time.perf_counter() - started
    timings = reply.response_metadata["timings"]
    return {
        "question": question,
        "answer": reply.content,
        "prompt_tokens": timings["prompt_n"],
        "prompt_tokens_per_s": round(timings["prompt_per_second"], 1),
        "generated_tokens": timings["predicted_n"],
        "generated_tokens_per_s": round(timings["predicted_per_second"], 1),
        "answer_s": round(elapsed, 2),
    }


def measure_generators(settings: Settings, set_path: Path, generators: list[str], limit: int | None) -> dict:
    """Per generator: first-text and total latency (ms) over the eval set, and how often the LLM's answer was kept."""
    from eval.dataset import load_eval_set
    from rag.service import Assistant

    questions = load_eval_set(set_path)[:limit]
    assistant = Assistant(settings)
    assistant.warm_up()
    results = {}
    for name in generators:
        runs = [_timed(assistant.ask_stream(q.question, llm=name)) | {"id": q.id} for q in questions]
        results[name] = _latency_summary(runs) | {"runs": runs}
    return results


def measure_overviews(settings: Settings, generators: list[str]) -> dict:
    """Per generator, each bulletin month summarised: the digest first, then (with an LLM) the overview within its budget."""
    from rag.bounded import RepetitionGuard
    from rag.digest import LLM_OVERVIEW_HEADING
    from rag.service import Assistant

    assistant = Assistant(settings)
    results: dict = {}
    for name in generators:
        results[name] = {}
        for month in assistant.months():
            run = _timed(assistant.summarize_stream(month, name))
            overview = run.pop("text").split(LLM_OVERVIEW_HEADING, 1)
            run["overview"] = overview[1].strip() if len(overview) == 2 else ""
            run["repeats_itself"] = bool(run["overview"]) and RepetitionGuard().feed(run["overview"])
            results[name][month] = run
    return results


def _timed(events) -> dict:
    from rag.service import Delta, Done

    started = time.perf_counter()
    first_text = None
    for event in events:
        if isinstance(event, Delta) and first_text is None and event.text.strip():
            first_text = time.perf_counter() - started
        if isinstance(event, Done):
            answer = event.answer
    total = time.perf_counter() - started
    return {
        "first_text_ms": round(1000 * (first_text if first_text is not None else total), 1),
        "total_ms": round(1000 * total, 1),
        "llm": answer.llm,
        "refused": answer.refused,
        "notices": answer.notices,
        "text": answer.text,
    }


def _latency_summary(runs: list[dict]) -> dict:
    def percentiles(key: str) -> dict:
        values = sorted(run[key] for run in runs)
        return {"p50": _percentile(values, 0.5), "p95": _percentile(values, 0.95), "max": values[-1]}

    for run in runs:
        run.pop("text")
    return {
        "questions": len(runs),
        "first_text_ms": percentiles("first_text_ms"),
        "total_ms": percentiles("total_ms"),
        "answered_by": dict(sorted(_count(run["llm"] for run in runs).items())),
    }


def _percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, round(share * (len(values) - 1)))]


def _count(values) -> dict:
    counts: dict = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def print_table(results: dict) -> None:
    print(f"machine: {results['machine']['cpu_count']} cores, load average before {results['machine']['load_average_before']}, after {results['machine']['load_average_after']}")
    if "model" in results:
        print_model_table(results["model"])
    print_overall(results)
    if results.get("generators"):
        print("\ngenerator     n    first text p50 / p95 / max (s)   total p50 / p95 / max (s)   answered by")
        for name, summary in results["generators"].items():
            first, total = summary["first_text_ms"], summary["total_ms"]
            print(
                f"{name:<12} {summary['questions']:>3}    {_s(first['p50'])} / {_s(first['p95'])} / {_s(first['max'])}"
                f"          {_s(total['p50'])} / {_s(total['p95'])} / {_s(total['max'])}      {summary['answered_by']}"
            )
    for name, months in results.get("overviews", {}).items():
        print(f"\n{name}: month   first text (s)   total (s)   overview kept   repeats itself   notices")
        for month, run in months.items():
            kept = "yes" if run["llm"] != "extractive" else "no"
            print(f"{' ' * len(name)}  {month} {_s(run['first_text_ms']):>10}   {_s(run['total_ms']):>9}   {kept:>13}   {str(run['repeats_itself']):>14}   {'；'.join(run['notices'])}")
            for line in run["overview"].splitlines():
                print(f"{' ' * len(name)}    {line}")


def print_overall(results: dict) -> None:
    """One line per generator against the targets (quiet 2-core machine): first text < 3 s, overview < 20 s, any answer < 30 s."""
    names = list(dict.fromkeys([*results.get("generators", {}), *results.get("overviews", {})]))
    if not names:
        return
    print("\nwall time (s)  first text max (answers / summaries)   overview max   answer max")
    for name in names:
        answers = results.get("generators", {}).get(name)
        months = results.get("overviews", {}).get(name, {}).values()
        first_answers = _s(answers["first_text_ms"]["max"]) if answers else "-"
        first_months = _s(max(run["first_text_ms"] for run in months)) if months else "-"
        overview = _s(max(run["total_ms"] for run in months)) if months else "-"
        answer = _s(answers["total_ms"]["max"]) if answers else "-"
        print(f"{name:<12}   {first_answers:>6} / {first_months:<6}{'':>26}{overview:>6}   {answer:>10}")


def _s(ms: float) -> str:
    return f"{ms / 1000:.1f}"


def print_model_table(results: dict) -> None:
    rows = [
        ("model", results["model"]),
        ("threads", results["threads"]),
        ("assembly + sha256 verify (cold)", _seconds(results["assemble_verify_s"])),
        ("verify with stamp (warm start)", _seconds(results["warm_verify_s"])),
        ("load", _seconds(results["load_s"])),
        ("prompt tokens (mean)", results["prompt_tokens"]),
        ("prompt processing", f"{results['prompt_tokens_per_s']} tokens/s"),
        ("generated tokens (mean)", results["generated_tokens"]),
        ("generation", f"{results['generated_tokens_per_s']} tokens/s"),
        ("answer time (mean)", _seconds(results["answer_s"])),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    for run in results["runs"]:
        print(f"\n问：{run['question']}\n答：{run['answer']}")


def _seconds(value: float | None) -> str:
    return "n/a (HELUO_LOCAL_MODEL set)" if value is None else f"{value} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=get_settings().local_threads or default_threads())
    parser.add_argument("--set", dest="set_path", type=Path, default=REPO / "eval" / "dev_stratified21.jsonl")
    parser.add_argument("--generators", default="extractive,local,hybrid", help="comma-separated; empty to skip")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions of the set")
    parser.add_argument("--skip-model", action="store_true", help="skip the model speed part")
    parser.add_argument("--overview-generators", default=None, help="comma-separated; default: --generators")
    parser.add_argument("--skip-overviews", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "llm.json")
    args = parser.parse_args(argv)
    settings = get_settings()
    results: dict = {
        "machine": {"cpu_count": os.cpu_count(), "load_average_before": [round(load, 2) for load in os.getloadavg()]},
        "settings": {key: getattr(settings, key) for key in ("first_token_timeout", "max_answer_tokens", "answer_seconds", "lead_tokens", "overview_tokens", "overview_seconds", "context_tokens")},
    }
    if not args.skip_model:
        results["model"] = measure(args.runs, args.threads)
    generators = [name.strip() for name in args.generators.split(",") if name.strip()]
    if generators:
        results["set"] = str(args.set_path)
        results["generators"] = measure_generators(settings, args.set_path, generators, args.limit)
    overview_generators = generators if args.overview_generators is None else [name.strip() for name in args.overview_generators.split(",") if name.strip()]
    if overview_generators and not args.skip_overviews:
        results["overviews"] = measure_overviews(settings, overview_generators)
    results["machine"]["load_average_after"] = [round(load, 2) for load in os.getloadavg()]
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten: {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
