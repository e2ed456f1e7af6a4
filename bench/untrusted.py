"""Benchmark of the injection detector (not a test): false positives on real text, recall on held-out attacks.

Run: .venv/bin/python -m bench.untrusted [--crud DIR]   (a few seconds; writes bench/results/untrusted.json;
`-m`, because bench/ingest.py would shadow the ingest package if run as a script)

- Real text: every item of the bundled corpus and of the CRUD-RAG news sample (1,063 articles,
  /work/shared/datasets/crud-rag-sample/corpus by default), parsed as ingest parses them. Nothing there
  is an injection, so every flagged sentence is a false positive; each one is printed for review.
- Held-out: bench/data/untrusted_heldout.jsonl, attacks and tricky ordinary sentences written before
  the detector's rules and never used to tune them: recall on the attacks, false positives on the rest.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ingest.decode import read_document
from ingest.parse import parse_text
from ingest.textutil import split_sentences
from ingest.untrusted import flagged_sentences, scan

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "untrusted.json"
HELDOUT = REPO / "bench" / "data" / "untrusted_heldout.jsonl"
CRUD = Path("/work/shared/datasets/crud-rag-sample/corpus")


def real_text(name: str, folder: Path) -> dict:
    files = sorted(folder.glob("*.txt"))
    sentences = items = flagged_items = reported = 0
    flagged: list[dict] = []
    detector = 0.0
    for path in files:
        text, _ = read_document(path)
        for item in parse_text(text, path.name).items:
            items += 1
            sentences += len(split_sentences(item.text)) + 1  # its sentences and its title
            started = time.perf_counter()
            found = flagged_sentences(item.text, item.title)
            detector += time.perf_counter() - started
            flagged_items += bool(found)
            flagged += [{"file": path.name, "sentence": sentence} for sentence in found]
            reported += sum(flag.reported for flag in scan(item.text))
    return {
        "corpus": name,
        "files": len(files),
        "items": items,
        "sentences": sentences,
        "flagged_sentences": len(flagged),
        "flagged_items": flagged_items,
        "false_positive_rate_sentences": len(flagged) / sentences if sentences else 0.0,
        "false_positive_rate_items": flagged_items / items if items else 0.0,
        "reported_signals_kept": reported,
        "detector_seconds": round(detector, 2),
        "flagged": flagged,
    }


def heldout() -> dict:
    rows = [json.loads(line) for line in HELDOUT.read_text(encoding="utf-8").splitlines() if line.strip()]
    attacks = [r for r in rows if r["attack"]]
    ordinary = [r for r in rows if not r["attack"]]
    missed = [r["text"] for r in attacks if not flagged_sentences(r["text"])]
    wrongly = [r["text"] for r in ordinary if flagged_sentences(r["text"])]
    return {
        "attacks": len(attacks),
        "caught": len(attacks) - len(missed),
        "recall": (len(attacks) - len(missed)) / len(attacks),
        "ordinary": len(ordinary),
        "ordinary_flagged": len(wrongly),
        "missed": missed,
        "ordinary_flagged_texts": wrongly,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crud", type=Path, default=CRUD, help="folder of the CRUD-RAG news sample")
    args = parser.parse_args()
    corpora = [real_text("bundled", REPO / "data" / "corpus")]
    if args.crud.is_dir():
        corpora.append(real_text("crud-rag-news", args.crud))
    held = heldout()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"real_text": corpora, "heldout": held}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    print("| corpus | files | items | sentences | flagged sentences | flagged items | FP rate (sentences) | reported kept | detector s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for c in corpora:
        print(f"| {c['corpus']} | {c['files']} | {c['items']} | {c['sentences']} | {c['flagged_sentences']} | {c['flagged_items']} "
              f"| {c['false_positive_rate_sentences']:.5f} | {c['reported_signals_kept']} | {c['detector_seconds']} |")
        for hit in c["flagged"]:
            print(f"    flagged: {hit['file']}: {hit['sentence'][:120]}")
    print(f"\nheld-out attacks caught: {held['caught']}/{held['attacks']} (recall {held['recall']:.2f}); "
          f"held-out ordinary flagged: {held['ordinary_flagged']}/{held['ordinary']}")
    for text in held["missed"]:
        print(f"    missed: {text}")
    for text in held["ordinary_flagged_texts"]:
        print(f"    wrongly flagged: {text}")
    print(f"\nwrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
