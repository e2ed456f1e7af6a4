"""Saved web conversations: one SQLite file under HELUO_HOME, typed records in and out.

A conversation is a list of turns; a turn is a question and either its final, verified Answer
(stored whole, so a reopened conversation renders the same cards) or, when the user stopped it or
the page went away mid-answer, the text streamed so far. Only answered turns are read by
follow-up questions. Every call opens its own connection: the web UI calls from many threads.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Literal

from ingest.records import Document
from rag.records import Answer
from rag.serialize import answer_from_record, answer_to_record

TurnStatus = Literal["answered", "stopped"]
TurnMode = Literal["ask", "summarize"]
Feedback = Literal["up", "down"]
TITLE_CHARS = 30

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    started TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    question TEXT NOT NULL,
    mode TEXT NOT NULL,
    month TEXT NOT NULL,
    requested_llm TEXT NOT NULL,
    status TEXT NOT NULL,
    answer TEXT,
    partial TEXT NOT NULL,
    documents TEXT NOT NULL,
    feedback TEXT,
    feedback_reason TEXT NOT NULL,
    asked TEXT NOT NULL,
    PRIMARY KEY (conversation_id, number)
);
"""

_CONVERSATIONS = "SELECT c.*, (SELECT COUNT(*) FROM turns t WHERE t.conversation_id = c.id) AS turns FROM conversations c"


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    started: str  # local time, ISO 8601 to the second
    updated: str  # to the microsecond: it orders the list
    turns: int


@dataclass(frozen=True)
class SavedTurn:
    """One question of a conversation, as asked and as answered (or stopped).

    mode/month: how to ask it again (regenerate): a question with its month filter ("" for none),
    or the summary of a month. documents: the cited documents as they were (titles, periods), so
    the cards read the same after a document is renamed or removed.
    """

    number: int
    question: str
    mode: TurnMode = "ask"
    month: str = ""
    requested_llm: str = ""
    status: TurnStatus = "stopped"
    answer: Answer | None = None
    partial: str = ""
    documents: Mapping[str, Document] = field(default_factory=dict)
    feedback: Feedback | None = None
    feedback_reason: str = ""
    asked: str = ""

    def answered(self, answer: Answer, documents: Mapping[str, Document]) -> "SavedTurn":
        cited = {c.item.file for c in answer.citations}
        return replace(self, status="answered", answer=answer, partial="", documents={f: d for f, d in documents.items() if f in cited})


def now(timespec: str = "seconds") -> str:
    return datetime.now().astimezone().isoformat(timespec=timespec)


def title_from(question: str) -> str:
    """A conversation's title: its first question, on one line, shortened."""
    line = " ".join(question.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1] + "…"


def follow_up_history(turns: Sequence[SavedTurn]) -> list[tuple[str, str]]:
    """What a follow-up question is read against: the answered turns, oldest first."""
    return [(t.question, t.answer.text) for t in turns if t.answer is not None]


class HistoryStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @classmethod
    def for_home(cls, home: Path) -> "HistoryStore":
        return cls(Path(home) / "history.sqlite")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys = ON")
        try:
            with db:  # one transaction per call
                yield db
        finally:
            db.close()

    # -- conversations ---------------------------------------------------------------------------
    def create(self, first_question: str) -> Conversation:
        conversation = Conversation(uuid.uuid4().hex[:12], title_from(first_question) or "新对话", now(), now("microseconds"), 0)
        with self._connect() as db:
            db.execute(
                "INSERT INTO conversations (id, title, started, updated) VALUES (?, ?, ?, ?)",
                (conversation.id, conversation.title, conversation.started, conversation.updated),
            )
        return conversation

    def conversations(self) -> list[Conversation]:
        """Every conversation, the most recently used first."""
        with self._connect() as db:
            rows = db.execute(f"{_CONVERSATIONS} ORDER BY c.updated DESC").fetchall()
        return [_conversation_from_row(row) for row in rows]

    def get(self, conversation_id: str) -> Conversation | None:
        with self._connect() as db:
            row = db.execute(f"{_CONVERSATIONS} WHERE c.id = ?", (conversation_id,)).fetchone()
        return None if row is None else _conversation_from_row(row)

    def rename(self, conversation_id: str, title: str) -> bool:
        title = " ".join((title or "").split())
        if not title:
            raise ValueError("标题不能为空：请输入新的对话标题")
        with self._connect() as db:
            return db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title[:100], conversation_id)).rowcount > 0

    def delete(self, conversation_id: str) -> bool:
        with self._connect() as db:
            return db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,)).rowcount > 0

    # -- turns -----------------------------------------------------------------------------------
    def turns(self, conversation_id: str) -> list[SavedTurn]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM turns WHERE conversation_id = ? ORDER BY number", (conversation_id,)).fetchall()
        return [_turn_from_row(row) for row in rows]

    def next_number(self, conversation_id: str) -> int:
        with self._connect() as db:
            row = db.execute("SELECT MAX(number) FROM turns WHERE conversation_id = ?", (conversation_id,)).fetchone()
        return (row[0] or 0) + 1

    def save_turn(self, conversation_id: str, turn: SavedTurn) -> None:
        """Insert the turn, or replace the one with its number (an answer arriving, a regeneration)."""
        values = {
            "conversation_id": conversation_id,
            "number": turn.number,
            "question": turn.question,
            "mode": turn.mode,
            "month": turn.month,
            "requested_llm": turn.requested_llm,
            "status": turn.status,
            "answer": None if turn.answer is None else json.dumps(answer_to_record(turn.answer), ensure_ascii=False),
            "partial": turn.partial,
            "documents": json.dumps({f: asdict(d) for f, d in turn.documents.items()}, ensure_ascii=False),
            "feedback": turn.feedback,
            "feedback_reason": turn.feedback_reason,
            "asked": turn.asked or now(),
        }
        columns = ", ".join(values)
        with self._connect() as db:
            db.execute(f"INSERT OR REPLACE INTO turns ({columns}) VALUES ({', '.join('?' * len(values))})", tuple(values.values()))
            db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now("microseconds"), conversation_id))

    def set_feedback(self, conversation_id: str, number: int, feedback: Feedback | None, reason: str | None = None) -> bool:
        """Record 👍/👎 (None takes it back); a reason given later keeps the thumb it explains."""
        with self._connect() as db:
            if reason is None:
                changed = db.execute(
                    "UPDATE turns SET feedback = ? WHERE conversation_id = ? AND number = ?", (feedback, conversation_id, number)
                )
            else:
                changed = db.execute(
                    "UPDATE turns SET feedback = ?, feedback_reason = ? WHERE conversation_id = ? AND number = ?",
                    (feedback, reason.strip(), conversation_id, number),
                )
            return changed.rowcount > 0

    def disliked(self) -> list[tuple[Conversation, SavedTurn]]:
        """Every 👎 turn with its conversation, oldest first: candidate evaluation questions."""
        found = []
        for conversation in reversed(self.conversations()):
            found += [(conversation, turn) for turn in self.turns(conversation.id) if turn.feedback == "down"]
        return found


def _conversation_from_row(row: sqlite3.Row) -> Conversation:
    return Conversation(row["id"], row["title"], row["started"], row["updated"], row["turns"])


def _turn_from_row(row: sqlite3.Row) -> SavedTurn:
    document_fields = {f.name for f in fields(Document)}
    documents = {
        file: Document(**{k: v for k, v in data.items() if k in document_fields})
        for file, data in json.loads(row["documents"] or "{}").items()
    }
    return SavedTurn(
        number=row["number"],
        question=row["question"],
        mode=row["mode"],
        month=row["month"],
        requested_llm=row["requested_llm"],
        status=row["status"],
        answer=None if row["answer"] is None else answer_from_record(json.loads(row["answer"])),
        partial=row["partial"],
        documents=documents,
        feedback=row["feedback"],
        feedback_reason=row["feedback_reason"],
        asked=row["asked"],
    )
