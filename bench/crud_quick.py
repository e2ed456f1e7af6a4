"""Quick score of heluo on the CRUD-RAG news sample, next to BM25 over whole articles (not a test).

Run: nice -n 10 .venv/bin/python bench/crud_quick.py [--home DIR] [--cache DIR] [--limit N] [--llm extractive]
Ingests the sample's corpus into HOME (incremental: a copy of /work/cache/crud-home with the shared
embedding cache as --cache makes it a few minutes), asks every question with heluo, and scores with
the sample README's rules:
- a gold file is found when a retrieved text and the file's text share a common substring of at
  least min(len, 24) characters, whitespace removed (hit@1, hit@5);
- an answer is right when the gold answer string, whitespace removed, is a substring of it;
- every question is answerable, so every refusal is a false refusal.
The baseline ranks whole articles with BM25 (bm25s over rjieba search tokens, the project's
`tokenize`). Writes bench/results/crud_quick.json and prints a table; --details adds one line per
question. Figures measured on a loaded machine are noisy for time, not for scores.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SAMPLE = Path("/work/shared/datasets/crud-rag-sample")
RESULTS = REPO / "bench" / "results" / "crud_quick.json"
_SPACE = re.compile(r"\s+")
_WINDOW = 24


def compact(text: str) -> str:
    return _SPACE.sub("", text)


def shares_window(retrieved: str, document: str) -> bool:
    """The README's rule: a common substring of at least min(len(retrieved), 24) characters."""
    retrieved = compact(retrieved)
    if len(retrieved) <= _WINDOW:
        return bool(retrieved) and retrieved in document
    return any(retrieved[i : i + _WINDOW] in document for i in range(0, len(retrieved) - _WINDOW + 1))


def found_rank(retrieved_texts: list[str], gold_texts: list[str]) -> int | None:
    """1-based rank of the first retrieved text that matches a gold file, None when none does."""
    for rank, text in enumerate(retrieved_texts, start=1):
        if any(shares_window(text, gold) for gold in gold_texts):
            return rank
    return None


def bm25_articles(corpus: Path, questions: list[dict]) -> dict[str, list[str]]:
    """Whole-article BM25: question id -> files in rank order (top 5)."""
    import bm25s

    from ingest.textutil import tokenize

    files = sorted(corpus.glob("*.txt"))
    index = bm25s.BM25()
    index.index([tokenize(p.read_text(encoding="utf-8")) or ["\u0000"] for p in files], show_progress=False)
    ranked = {}
    for question in questions:
        scores = index.get_scores(tokenize(question["question"]))
        order = sorted(range(len(files)), key=lambda i: -scores[i])[:5]
        ranked[question["qid"]] = [files[i].name for i in order]
    return ranked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=REPO / ".heluo" / "crud-home")
    parser.add_argument("--cache", type=Path, default=REPO / ".heluo" / "crud-embeddings")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--llm", default="extractive")
    parser.add_argument("--details", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    from ingest.index import ingest
    from rag.service import Assistant
    from rag.settings import Settings

    corpus = SAMPLE / "corpus"
    questions = [json.loads(line) for line in (SAMPLE / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = questions[: args.limit]
    texts = {p.name: compact(p.read_text(encoding="utf-8")) for p in corpus.glob("*.txt")}

    settings = Settings(_env_file=None, home=args.home, cache=args.cache, corpus=corpus, llm=args.llm)
    started = time.perf_counter()
    report = ingest([corpus], settings)
    ingest_seconds = time.perf_counter() - started
    assistant = Assistant(settings)

    baseline = bm25_articles(corpus, questions)
    rows = []
    started = time.perf_counter()
    for question in questions:
        gold = [texts[f] for f in question["gold_files"]]
        answer = assistant.ask(question["question"], llm=args.llm)
        rank = found_rank([hit.chunk_text.split("\n", 1)[-1] for hit in answer.retrieved], gold)
        base_rank = next((r for r, f in enumerate(baseline[question["qid"]], start=1) if f in question["gold_files"]), None)
        correct = not answer.refused and compact(question["answer"]) in compact(answer.text)
        rows.append(
            {
                "qid": question["qid"],
                "set": question["set"],
                "question": question["question"],
                "gold_answer": question["answer"],
                "refused": answer.refused,
                "correct": correct,
                "rank": rank,
                "bm25_rank": base_rank,
                "answer": answer.text,
                "retrieved": [hit.item.file for hit in answer.retrieved],
                "ms": answer.timings_ms.get("total", 0.0),
            }
        )
        if args.details:
            mark = "R" if answer.refused else ("✓" if correct else "✗")
            print(f"{mark} rank={rank} bm25={base_rank} {question['question']} | {question['answer']}", flush=True)
    seconds = time.perf_counter() - started

    def share(predicate) -> float:
        return round(sum(1 for row in rows if predicate(row)) / len(rows), 3)

    summary = {
        "questions": len(rows),
        "heluo": {
            "hit@1": share(lambda r: r["rank"] == 1),
            "hit@5": share(lambda r: r["rank"] is not None and r["rank"] <= 5),
            "answer_accuracy": share(lambda r: r["correct"]),
            "false_refusals": share(lambda r: r["refused"]),
        },
        "bm25_articles": {
            "hit@1": share(lambda r: r["bm25_rank"] == 1),
            "hit@5": share(lambda r: r["bm25_rank"] is not None and r["bm25_rank"] <= 5),
        },
        "per_set": {
            name: {
                "n": sum(1 for r in rows if r["set"] == name),
                "hit@1": round(sum(1 for r in rows if r["set"] == name and r["rank"] == 1) / max(1, sum(1 for r in rows if r["set"] == name)), 3),
                "answer_accuracy": round(sum(1 for r in rows if r["set"] == name and r["correct"]) / max(1, sum(1 for r in rows if r["set"] == name)), 3),
            }
            for name in dict.fromkeys(r["set"] for r in rows)
        },
        "ingest_seconds": round(ingest_seconds, 1),
        "embedded": report.embedded,
        "ask_seconds": round(seconds, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "rows": rows}, ensure_ascii=False, indent=1), encoding="utf-8")
    print("| system | hit@1 | hit@5 | answer accuracy | false refusals |")
    print("|---|---|---|---|---|")
    h, b = summary["heluo"], summary["bm25_articles"]
    print(f"| heluo-{args.llm} | {h['hit@1']:.3f} | {h['hit@5']:.3f} | {h['answer_accuracy']:.3f} | {h['false_refusals']:.3f} |")
    print(f"| bm25 whole articles | {b['hit@1']:.3f} | {b['hit@5']:.3f} | — | — |")
    print(json.dumps(summary["per_set"], ensure_ascii=False))
    print(f"ingest {ingest_seconds:.0f} s ({report.embedded} embedded), questions {seconds:.0f} s")


if __name__ == "__main__":
    main()
