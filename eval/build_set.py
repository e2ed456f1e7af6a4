"""Build eval/dev.jsonl and eval/test.jsonl from every source of questions, split by eval.split's rule.

Sources (all data, all in the repository):
- the 102 seed questions (provenance "seed", always dev): the seed lines of eval/dev.jsonl (the
  retired eval/qa.jsonl, with the kind of each unanswerable one added: SEED_KINDS);
- template questions generated from the parsed corpus (`eval.generate.templates`);
- questions the local LLM wrote, as stored raw in eval/generate/llm_raw.jsonl and checked by
  `eval.generate.llm_questions.accepted` (the model is not run here);
- hand-written questions, eval/generate/hand.jsonl;
- the second hand-written batch, eval/generate/hand_dev2.jsonl (provenance "hand_dev2", ids d0001…):
  written after the split was sealed, so dev by construction (eval.split.DEV_ONLY); appended last and
  never paraphrased by rule, so adding it changes no line of either file;
- paraphrases: by rule (`eval.generate.paraphrase`) of a hashed share of the above, and hand-written
  ones, eval/generate/hand_paraphrases.jsonl (`{"paraphrase_of": id, "question": …}`);
- eval/generate/excluded.tsv: questions dropped on review before any system ran on them
  (question text, a tab, the reason: unreadable, ambiguous, wrong by construction).

Generated questions get ids from a hash of their text (t…, l…, p…), so a re-run gives the same ids.
The split is a rule over ids (eval/split.py). Run it again only before anyone runs a system on the new
questions; a test checks that the committed files follow the rule.

    .venv/bin/python -m eval.build_set            # writes eval/dev.jsonl and eval/test.jsonl
    .venv/bin/python -m eval.build_set --check    # only prints the counts
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from eval.dataset import EvalQuestion, load_eval_set, parse_question, write_eval_set
from eval.generate import llm_questions, paraphrase, templates
from eval.generate.corpus import Corpus, load_corpus, squash, stable_hash
from eval.split import assign

EVAL = Path(__file__).resolve().parent
GENERATE = EVAL / "generate"
DEV, TEST = EVAL / "dev.jsonl", EVAL / "test.jsonl"
ID_DIGITS = 7
# Why each of the seed set's unanswerable questions is unanswerable (they predate the field).
SEED_KINDS = {
    "q088": "missing_month", "q089": "missing_month", "q090": "on_topic_no_answer", "q091": "on_topic_no_answer",
    "q092": "never_happened", "q093": "adjacent_year_or_place", "q094": "never_happened", "q095": "missing_detail",
    "q096": "on_topic_no_answer", "q097": "on_topic_no_answer", "q098": "missing_month", "q099": "missing_detail",
    "q100": "missing_detail", "q101": "missing_detail", "q102": "missing_month",
}


def seed_questions() -> list[dict]:
    records = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = [r for r in records if r.get("provenance") == "seed"]
    for record in records:
        record["provenance"] = "seed"
        if not record["answerable"]:
            record["unanswerable_kind"] = SEED_KINDS[record["id"]]
    return records


def with_ids(records: Iterable[dict], prefix: str, taken: set[str]) -> list[dict]:
    """Ids from a hash of the question text; a clash takes the next hash, so ids stay stable."""
    out = []
    for record in records:
        for attempt in range(100):
            digest = stable_hash(f"{record['question']}#{attempt}" if attempt else record["question"])
            candidate = f"{prefix}{int(digest[:12], 16) % 10**ID_DIGITS:0{ID_DIGITS}d}"
            if candidate not in taken:
                break
        taken.add(candidate)
        out.append({"id": candidate, **{k: v for k, v in record.items() if k not in ("id", "source_key")}})
    return out


def llm_records(corpus: Corpus) -> tuple[list[dict], dict[str, int]]:
    records, reasons = llm_questions.accepted(llm_questions.read_raw(GENERATE / "llm_raw.jsonl"), corpus)
    for record in records:
        record["provenance"] = "llm"
        record["tags"] = ["llm_question"]
    return records, reasons


def hand_paraphrases(by_id: dict[str, dict]) -> list[dict]:
    path = GENERATE / "hand_paraphrases.jsonl"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        if not line.strip():
            continue
        entry = json.loads(line)
        source = by_id[entry["paraphrase_of"]]
        copy = {k: v for k, v in source.items() if k not in ("id", "provenance", "tags", "paraphrase_of")}
        copy.update(question=entry["question"], provenance="paraphrase", paraphrase_of=source["id"], tags=[*source.get("tags", ()), "hand_paraphrase"])
        out.append(copy)
    return out


def later_batch(earlier: Iterable[dict]) -> list[dict]:
    """The hand_dev2 lines as written; a question repeating an earlier one is an error, not a silent drop."""
    path = GENERATE / "hand_dev2.jsonl"
    batch = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] if path.is_file() else []
    seen = {squash(r["question"]) for r in earlier}
    repeated = [r["id"] for r in batch if squash(r["question"]) in seen]
    wrong = [r["id"] for r in batch if r.get("provenance") != "hand_dev2"]
    if repeated or wrong:
        raise ValueError(f"{path}: questions already in the sets {repeated}, provenance not 'hand_dev2' {wrong}")
    return batch


def excluded() -> dict[str, str]:
    path = GENERATE / "excluded.tsv"
    rows = [line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] if path.is_file() else []
    return {squash(question): reason for question, reason in rows}


def build(corpus_dir: Path) -> tuple[list[EvalQuestion], dict[str, str], dict]:
    corpus = load_corpus(corpus_dir)
    dropped = excluded()
    seed = seed_questions()
    taken = {r["id"] for r in seed}
    hand = [json.loads(line) for line in (GENERATE / "hand.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    taken |= {r["id"] for r in hand}
    generated = [r for r in templates.generate(corpus) if squash(r["question"]) not in dropped]
    llm, reasons = llm_records(corpus)
    seen = {squash(r["question"]) for r in [*seed, *hand, *generated]}
    llm = [r for r in llm if squash(r["question"]) not in seen and squash(r["question"]) not in dropped]
    originals = [*hand, *with_ids(generated, "t", taken), *with_ids(llm, "l", taken)]
    by_id = {r["id"]: r for r in originals}
    corpus_text = "".join(corpus.texts.values())
    rewordings = [*paraphrase.paraphrases(originals, corpus_text), *hand_paraphrases(by_id)]
    seen |= {squash(r["question"]) for r in llm}
    rewordings = [r for r in rewordings if squash(r["question"]) not in seen and squash(r["question"]) not in dropped]
    records = [*seed, *originals, *with_ids(rewordings, "p", taken)]
    records += later_batch(records)
    questions = [parse_question(r) for r in records]
    stats = {"llm_rejected": reasons, "excluded": len(dropped)}
    return questions, assign(questions), stats


def counts(questions: Iterable[EvalQuestion]) -> dict[str, Counter]:
    questions = list(questions)
    return {
        "type": Counter(q.type for q in questions),
        "provenance": Counter(q.provenance for q in questions),
        "unanswerable_kind": Counter(q.unanswerable_kind for q in questions if not q.answerable),
        "document": Counter(q.gold[0].file[:3] if q.gold else "-" for q in questions),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    parser.add_argument("--check", action="store_true", help="print the counts, write nothing")
    args = parser.parse_args(argv)
    questions, split, stats = build(args.corpus)
    dev = [q for q in questions if split[q.id] == "dev"]
    test = [q for q in questions if split[q.id] == "test"]
    for name, part in (("dev", dev), ("test", test)):
        print(f"{name}: {len(part)} questions", file=sys.stderr)
        for field, counter in counts(part).items():
            print(f"  {field}: {dict(sorted(counter.items()))}", file=sys.stderr)
    print(f"LLM outputs rejected: {stats['llm_rejected']}; excluded on review: {stats['excluded']}", file=sys.stderr)
    if not args.check:
        write_eval_set(DEV, dev)
        write_eval_set(TEST, test)
        load_eval_set(DEV), load_eval_set(TEST)  # the written files load back
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
