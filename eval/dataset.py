"""The evaluation sets: typed records and a loader that rejects malformed lines with a clear message.

One JSON object per line of eval/dev.jsonl and eval/test.jsonl (see eval/README.md for the split):
    {"id": "q001", "type": "factoid", "question": "…", "period": "2023-07" | "2021-02-07" | "",
     "reference_answer": "…", "key_facts": ["…"], "gold": [{"file", "title", "quote"}], "answerable": true}
Answerable questions carry gold items and key facts; unanswerable ones carry neither, so a scorer can
tell "the corpus does not say" apart from "we forgot to write the gold".

Optional fields (absent = the default in EvalQuestion):
    "provenance": "seed" | "template" | "llm" | "paraphrase" | "hand" | "hand_dev2"  (who or what wrote the question;
                  "hand_dev2" is the second hand-written batch, dev only: eval/split.py)
    "tags": ["on_date", …]              lower-case labels: the template family, a hard case ("ordinal")
    "complete_gold": true               the gold is *every* matching item (list questions: completeness)
    "unanswerable_kind": "missing_month" | …   why an unanswerable question is (UNANSWERABLE_KINDS)
    "paraphrase_of": "t123456"          the question this one rewords (same set, so the same split)
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

QUESTION_TYPES = ("factoid", "numeric", "month_summary", "multi_doc", "temporal", "report", "unanswerable")
_FIELDS = ("id", "type", "question", "period", "reference_answer", "key_facts", "gold", "answerable")
_OPTIONAL_FIELDS = ("provenance", "tags", "complete_gold", "unanswerable_kind", "paraphrase_of")
PROVENANCES = ("seed", "template", "llm", "paraphrase", "hand", "hand_dev2")
UNANSWERABLE_KINDS = (
    "missing_detail",  # the right item exists but does not state the detail asked for
    "target_not_actual",  # only a target or plan exists, the question asks for the actual figure
    "adjacent_year_or_place",  # a year, district, city or report next to the one the corpus covers
    "never_happened",  # a plausible event the documents never mention
    "missing_month",  # a month (of a covered year) the corpus has no bulletin for
    "on_topic_no_answer",  # passages on the topic exist, none of them answers
)
_GOLD_FIELDS = ("file", "title", "quote")
# q001 (the first 102 questions); a letter for the provenance and digits for the others (t482913, h0001).
_ID = re.compile(r"[a-z]\d{3,}")
_TAG = re.compile(r"[a-z][a-z0-9_]{0,31}")
# "" (no period), a month "2023-07", or a day such as a report's delivery date "2021-02-07".
_PERIOD = re.compile(r"(\d{4}-(0[1-9]|1[0-2]))(-(0[1-9]|[12]\d|3[01]))?")


@dataclass(frozen=True)
class GoldItem:
    """A source item a correct answer should rest on: its file, its title, and a verbatim quote from it."""

    file: str
    title: str
    quote: str


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    type: str
    question: str
    period: str
    reference_answer: str
    key_facts: tuple[str, ...]
    gold: tuple[GoldItem, ...]
    answerable: bool
    provenance: str = ""
    tags: tuple[str, ...] = ()
    complete_gold: bool = False
    unanswerable_kind: str = ""
    paraphrase_of: str = ""


def load_eval_set(path: Path | str) -> list[EvalQuestion]:
    """Read and validate every line; the first problem raises ValueError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"评测集文件不存在: {path}; pass eval/dev.jsonl, eval/test.jsonl or a folder with corpus/ and questions.jsonl")
    questions: list[EvalQuestion] = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            questions.append(parse_question(json.loads(line)))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{line_no}: 不是合法的 JSON ({error.msg}); write one JSON object per line") from error
        except ValueError as error:
            raise ValueError(f"{path}:{line_no}: {error}") from error
    if not questions:
        raise ValueError(f"{path}: 评测集为空; add at least one question")
    duplicates = sorted(id_ for id_, count in Counter(q.id for q in questions).items() if count > 1)
    if duplicates:
        raise ValueError(f"{path}: 问题 id 重复 {duplicates}; give every question its own id")
    ids = {q.id for q in questions}
    orphans = sorted(q.id for q in questions if q.paraphrase_of and q.paraphrase_of not in ids)
    if orphans:
        raise ValueError(f"{path}: paraphrase_of 指向本文件中不存在的问题 {orphans}; a paraphrase lives in the set of its source question")
    return questions


def parse_question(record: Any) -> EvalQuestion:
    """Validate one decoded JSON object and turn it into an EvalQuestion."""
    if not isinstance(record, dict):
        raise ValueError("each line must be a JSON object")
    missing = [name for name in _FIELDS if name not in record]
    if missing:
        raise ValueError(f"缺少字段 missing fields {missing}; every line needs {list(_FIELDS)}")
    unknown = sorted(set(record) - set(_FIELDS) - set(_OPTIONAL_FIELDS))
    if unknown:
        raise ValueError(f"未知字段 unknown fields {unknown}; allowed: {list(_FIELDS)} and optionally {list(_OPTIONAL_FIELDS)}")

    question_id = _text(record, "id")
    if not _ID.fullmatch(question_id):
        raise ValueError(f"id {question_id!r} should be a letter and digits, e.g. 'q001' or 't482913'")
    question_type = _text(record, "type")
    if question_type not in QUESTION_TYPES:
        raise ValueError(f"{question_id}: type {question_type!r} is not one of {list(QUESTION_TYPES)}")
    period = record["period"]
    if not isinstance(period, str) or (period and not _PERIOD.fullmatch(period)):
        raise ValueError(f"{question_id}: period {period!r} must be '', 'YYYY-MM' or 'YYYY-MM-DD'")
    answerable = record["answerable"]
    if not isinstance(answerable, bool):
        raise ValueError(f"{question_id}: answerable must be true or false, not {answerable!r}")

    key_facts = _key_facts(record["key_facts"], question_id)
    gold = tuple(_gold_item(entry, question_id) for entry in _list(record["gold"], "gold", question_id))
    _check_consistency(question_id, question_type, answerable, key_facts, gold)
    optional = _optional_fields(record, question_id, answerable, gold)
    return EvalQuestion(
        id=question_id,
        type=question_type,
        question=_text(record, "question"),
        period=period,
        reference_answer=_text(record, "reference_answer"),
        key_facts=key_facts,
        gold=gold,
        answerable=answerable,
        **optional,
    )


def _optional_fields(record: dict, question_id: str, answerable: bool, gold: tuple[GoldItem, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "provenance" in record:
        if record["provenance"] not in PROVENANCES:
            raise ValueError(f"{question_id}: provenance {record['provenance']!r} is not one of {list(PROVENANCES)}")
        values["provenance"] = record["provenance"]
    if "tags" in record:
        tags = _list(record["tags"], "tags", question_id)
        if not all(isinstance(tag, str) and _TAG.fullmatch(tag) for tag in tags):
            raise ValueError(f"{question_id}: tags must be short lower-case labels such as 'on_date', got {tags!r}")
        values["tags"] = tuple(tags)
    if "complete_gold" in record:
        if not isinstance(record["complete_gold"], bool):
            raise ValueError(f"{question_id}: complete_gold must be true or false, not {record['complete_gold']!r}")
        if record["complete_gold"] and not (answerable and gold):
            raise ValueError(f"{question_id}: complete_gold=true needs an answerable question with its gold items")
        values["complete_gold"] = record["complete_gold"]
    if "unanswerable_kind" in record:
        kind = record["unanswerable_kind"]
        if answerable:
            raise ValueError(f"{question_id}: unanswerable_kind is only for answerable=false questions")
        if kind not in UNANSWERABLE_KINDS:
            raise ValueError(f"{question_id}: unanswerable_kind {kind!r} is not one of {list(UNANSWERABLE_KINDS)}")
        values["unanswerable_kind"] = kind
    if "paraphrase_of" in record:
        source = record["paraphrase_of"]
        if not isinstance(source, str) or not _ID.fullmatch(source) or source == question_id:
            raise ValueError(f"{question_id}: paraphrase_of must be the id of another question, got {source!r}")
        values["paraphrase_of"] = source
    if (values.get("provenance") == "paraphrase") != bool(values.get("paraphrase_of")):
        raise ValueError(f"{question_id}: provenance 'paraphrase' goes with paraphrase_of (the reworded question's id), and only with it")
    return values


def _check_consistency(
    question_id: str, question_type: str, answerable: bool, key_facts: tuple[str, ...], gold: tuple[GoldItem, ...]
) -> None:
    if (question_type == "unanswerable") == answerable:
        raise ValueError(f"{question_id}: type 'unanswerable' goes with answerable=false, and only with it")
    if answerable and not (gold and key_facts):
        raise ValueError(f"{question_id}: an answerable question needs at least one gold item and one key fact")
    if not answerable and (gold or key_facts):
        raise ValueError(f"{question_id}: an unanswerable question must have gold [] and key_facts []")


def _text(record: dict, name: str) -> str:
    value = record[name]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"field {name!r} must be a non-empty string, got {value!r}")
    return value


def _list(value: Any, name: str, question_id: str) -> list:
    if not isinstance(value, list):
        raise ValueError(f"{question_id}: {name} must be a JSON list, got {type(value).__name__}")
    return value


def _key_facts(value: Any, question_id: str) -> tuple[str, ...]:
    facts = _list(value, "key_facts", question_id)
    if not all(isinstance(fact, str) and fact.strip() for fact in facts):
        raise ValueError(f"{question_id}: key_facts must be non-empty strings, got {facts!r}")
    return tuple(facts)


def _gold_item(entry: Any, question_id: str) -> GoldItem:
    if not isinstance(entry, dict) or set(entry) != set(_GOLD_FIELDS):
        raise ValueError(f"{question_id}: each gold item needs exactly the fields {list(_GOLD_FIELDS)}, got {entry!r}")
    values = [entry[name] for name in _GOLD_FIELDS]
    if not all(isinstance(value, str) and value.strip() for value in values):
        raise ValueError(f"{question_id}: gold file, title and quote must be non-empty strings, got {entry!r}")
    return GoldItem(*values)


def to_record(question: EvalQuestion) -> dict[str, Any]:
    """The JSON object of one line: the required fields, then the optional ones that differ from their default."""
    record: dict[str, Any] = {
        "id": question.id,
        "type": question.type,
        "question": question.question,
        "period": question.period,
        "reference_answer": question.reference_answer,
        "key_facts": list(question.key_facts),
        "gold": [{"file": g.file, "title": g.title, "quote": g.quote} for g in question.gold],
        "answerable": question.answerable,
    }
    optional = {
        "provenance": question.provenance,
        "tags": list(question.tags),
        "complete_gold": question.complete_gold,
        "unanswerable_kind": question.unanswerable_kind,
        "paraphrase_of": question.paraphrase_of,
    }
    record.update({name: value for name, value in optional.items() if value})
    return record


def write_eval_set(path: Path | str, questions: list[EvalQuestion]) -> None:
    Path(path).write_text("".join(json.dumps(to_record(q), ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
