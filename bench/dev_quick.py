"""Quick dev-set run of one heluo configuration with the eval harness's own scoring (not a test).

Run: nice -n 10 .venv/bin/python bench/dev_quick.py [SET.jsonl ...] [--llm extractive] [--failures]
Default sets: eval/dev.jsonl when it exists, else eval/qa.jsonl, plus eval/dev_answers.jsonl.
Prints the overall and per-type figures (the harness's `aggregate`) and, with --failures, every
question the harness counts as a failure with what was retrieved and answered. Uses HELUO_HOME /
HELUO_CACHE like `heluo eval`; ingests incrementally first. Never pass eval/test.jsonl.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def default_sets() -> list[Path]:
    dev = REPO / "eval" / "dev.jsonl"
    sets = [dev if dev.exists() else REPO / "eval" / "qa.jsonl"]
    own = REPO / "eval" / "dev_answers.jsonl"
    return sets + ([own] if own.exists() else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", type=Path)
    parser.add_argument("--llm", default="extractive")
    parser.add_argument("--failures", action="store_true")
    parser.add_argument("--only", default="", help="comma-separated question ids")
    args = parser.parse_args()
    sets = args.sets or default_sets()
    if any(p.name == "test.jsonl" for p in sets):
        raise SystemExit("the test set is not for tuning")

    from eval.dataset import load_eval_set
    from eval.harness import Config, is_failure, run_eval, summarize_by_type
    from ingest.index import ingest
    from rag.settings import get_settings

    settings = get_settings()
    ingest([settings.corpus], settings)
    questions = [q for path in sets for q in load_eval_set(path)]
    if args.only:
        wanted = set(args.only.split(","))
        questions = [q for q in questions if q.id in wanted]
    run = run_eval(settings, questions, [Config("heluo", args.llm)])
    summary = summarize_by_type([r.score for r in run.runs])
    print("| type | n | hit@5 | MRR | key facts | cite P gold | refusal acc | false refusal |")
    print("|---|---|---|---|---|---|---|---|")
    for name, agg in summary.items():
        cells = [agg.hit_at_k, agg.mrr, agg.key_fact_recall, agg.gold_citation_precision, agg.refusal_accuracy, agg.false_refusal_rate]
        print(f"| {name} | {agg.questions} | " + " | ".join("—" if v is None else f"{v:.2f}" for v in cells) + " |")
    if args.failures or args.only:
        for r in run.runs:
            if not (is_failure(r.score) or args.only):
                continue
            q, a, s = r.question, r.answer, r.score
            print(f"\n## {q.id} [{q.type}] {q.question}")
            print(f"   key facts {q.key_facts} -> recall {s.key_fact_recall} refused={a.refused} hit@5={s.hit_at_k}")
            for hit in a.retrieved[:5]:
                print(f"   - {hit.item.file[:12]} {hit.item.section[:20]} | {hit.item.title[:30]} ({hit.item.date})")
            print("   " + a.text.replace("\n", "\n   ")[:900])


if __name__ == "__main__":
    main()
