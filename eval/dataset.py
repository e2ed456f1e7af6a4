"""The evaluation set: typed records and a loader that rejects malformed lines with a clear message.

One JSON object per line of eval/qa.jsonl:
    {"id": "q001", "type": "factoid", "question": "…", "period": "2023-07" | "2021-02-07" | "",
     "reference_answer": "…", "key_facts": ["…"], "gold": [{"file", "title", "quote"}], "answerable": true}
Answerable questions carry gold items and key facts; unanswerable ones carry neither, so a scorer can
tell "the corpus does not say" apart from "we forgot to write the gold".
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
_GOLD_FIELDS = ("file", "title", "quote")
_ID = re.compile(r"q\d{3,}")
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


def load_eval_set(path: Path | str) -> list[EvalQuestion]:
    """Read and validate every line; the first problem raises ValueError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"评测集文件不存在: {path}; pass the path of eval/qa.jsonl")
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
    return questions


def parse_question(record: Any) -> EvalQuestion:
    """Validate one decoded JSON object and turn it into an EvalQuestion."""
    if not isinstance(record, dict):
        raise ValueError("each line must be a JSON object")
    missing = [name for name in _FIELDS if name not in record]
    if missing:
        raise ValueError(f"缺少字段 missing fields {missing}; every line needs {list(_FIELDS)}")
    unknown = sorted(set(record) - set(_FIELDS))
    if unknown:
        raise ValueError(f"未知字段 unknown fields {unknown}; allowed: {list(_FIELDS)}")

    question_id = _text(record, "id")
    if not _ID.fullmatch(question_id):
        raise ValueError(f"id {question_id!r} should look like 'q001'")
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
    return EvalQuestion(
        id=question_id,
        type=question_type,
        question=_text(record, "question"),
        period=period,
        reference_answer=_text(record, "reference_answer"),
        key_facts=key_facts,
        gold=gold,
        answerable=answerable,
    )


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
