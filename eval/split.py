"""The dev/test split: a rule over question ids, decided before any system runs on the questions.

- The 102 seed questions (provenance "seed", tuned on by earlier work) are dev, always.
- Every other question belongs to a group: a paraphrase to the group of the question it rewords,
  any other question to its own. A group goes to dev or test as a whole, so no test question has a
  rewording in dev to tune on.
- Groups are stratified by (provenance, type, document) — for unanswerable questions (provenance,
  type, kind) — where the document is the file of the first gold item. Provenance is part of the
  stratum so that adding questions of one origin (more LLM questions) moves none of another. Within a stratum, groups are ordered by
  sha256("heluo-eval-split-v1|" + group id), and the first round(TEST_SHARE × n) of them go to test.

The rule depends on ids only (never on how any system answers), `assign` recomputes it, and a test
checks that eval/dev.jsonl and eval/test.jsonl follow it, so a question cannot be moved by hand.
Questions added later are split by the same rule together with the current ones only if that moves
none of them (`assign` over the union, compared with the files); otherwise start a new salt and
keep the old assignment — never move a question because it fails.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from typing import Literal

from eval.dataset import EvalQuestion

SALT = "heluo-eval-split-v1"
TEST_SHARE = 0.65
Split = Literal["dev", "test"]


def group_of(question: EvalQuestion) -> str:
    return question.paraphrase_of or question.id


def stratum_of(question: EvalQuestion) -> tuple[str, str, str]:
    if not question.answerable:
        return (question.provenance, question.type, question.unanswerable_kind or "unknown")
    return (question.provenance, question.type, question.gold[0].file)


def order_key(group: str) -> str:
    return hashlib.sha256(f"{SALT}|{group}".encode("utf-8")).hexdigest()


def assign(questions: Sequence[EvalQuestion]) -> dict[str, Split]:
    """question id -> "dev" | "test" under the rule above."""
    by_id = {q.id: q for q in questions}
    groups: dict[str, list[EvalQuestion]] = defaultdict(list)
    for question in questions:
        if question.provenance != "seed":
            groups[group_of(question)].append(question)
    strata: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for group, members in groups.items():
        root = by_id.get(group, members[0])
        strata[stratum_of(root)].append(group)
    split: dict[str, Split] = {q.id: "dev" for q in questions if q.provenance == "seed"}
    for members in strata.values():
        ordered = sorted(members, key=order_key)
        in_test = round(TEST_SHARE * len(ordered))
        for rank, group in enumerate(ordered):
            for question in groups[group]:
                split[question.id] = "test" if rank < in_test else "dev"
    return split


__all__ = ["SALT", "TEST_SHARE", "assign", "group_of", "stratum_of"]
