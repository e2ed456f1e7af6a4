"""Disliked answers from the web UI, written out as candidate evaluation questions.

A 👎 says an answer failed a real user on a real question: the questions an evaluation set most
needs. Each candidate has the eval set's fields (see eval/dataset.py) with what the conversation
knows filled in (question, period, type) and what only a person can say left empty (reference
answer, key facts, gold items). The extra `feedback` field holds what the reviewer needs: the
reason given, the answer that was disliked and what it cited. Complete the record, drop
`feedback`, and give it a free id, and it loads like any other line of the set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ui.history import Conversation, HistoryStore, SavedTurn

# Candidate ids start here so they never collide with the hand-written q001… of the set.
FIRST_CANDIDATE_ID = 9001


def candidate(conversation: Conversation, turn: SavedTurn, number: int) -> dict[str, Any]:
    answer = turn.answer
    query = answer.query if answer else None
    refused = bool(answer and answer.refused)
    if turn.mode == "summarize" or (query and query.intent == "month_summary"):
        kind = "month_summary"
    else:
        kind = "factoid"
    months = query.months if query else ()
    period = turn.month or (months[0] if len(months) == 1 else "")
    return {
        "id": f"q{number}",
        "type": kind,
        "question": turn.question,
        "period": period,
        "reference_answer": "",
        "key_facts": [],
        "gold": [],
        "answerable": True,
        "feedback": {
            "reason": turn.feedback_reason,
            "conversation": conversation.id,
            "turn": turn.number,
            "asked": turn.asked,
            "llm": answer.llm if answer else "",
            "refused": refused,
            "answer": answer.text if answer else turn.partial,
            "cited": [{"file": c.item.file, "title": c.item.title, "quote": c.quote} for c in answer.citations] if answer else [],
        },
    }


def export_feedback(store: HistoryStore, out: Path) -> int:
    """Write one candidate per disliked answer to `out` (JSON Lines); returns how many."""
    candidates = [candidate(conversation, turn, FIRST_CANDIDATE_ID + k) for k, (conversation, turn) in enumerate(store.disliked())]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in candidates), encoding="utf-8")
    return len(candidates)
