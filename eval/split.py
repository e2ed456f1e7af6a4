"""The dev/test split: a rule over question ids, decided before any system runs on the questions.

- The 102 seed questions (provenance "seed", tuned on by earlier work) are dev, always; so is every
  batch added after the split was made (provenance "hand_dev2", written once the test set was sealed),
  a rule over provenance that moves none of the questions split before it. A rewording of a dev-only
  question is dev too (its group's root decides).
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
none of them (`assign` over the union, compared with the files); otherwise they are dev by provenance
(DEV_ONLY, as the hand_dev2 batch is) or start a new salt, and the old assignment stays — never move a
question because it fails.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from typing import Literal

from eval.dataset import EvalQuestion

SALT = "heluo-eval-split-v1"
TEST_SHARE = 0.65
# Provenances that are dev by construction: the seed (tuned on before the split) and later batches.
DEV_ONLY = ("seed", "hand_dev2")
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
    dev_only = {q.id for q in questions if q.provenance in DEV_ONLY or by_id.get(group_of(q), q).provenance in DEV_ONLY}
    for question in questions:
        if question.id not in dev_only:
            groups[group_of(question)].append(question)
    strata: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for group, members in groups.items():
        root = by_id.get(group, members[0])
        strata[stratum_of(root)].append(group)
    split: dict[str, Split] = {id_: "dev" for id_ in dev_only}
    for members in strata.values():
        ordered = sorted(members, key=order_key)
        in_test = round(TEST_SHARE * len(ordered))
        for rank, group in enumerate(ordered):
            for question in groups[group]:
                split[question.id] = "test" if rank < in_test else "dev"
    return split


__all__ = ["DEV_ONLY", "SALT", "TEST_SHARE", "assign", "group_of", "stratum_of"]
