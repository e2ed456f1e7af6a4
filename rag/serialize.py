"""The `heluo ask --json` contract (see DESIGN.md): keep these keys, only ever add to them."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ingest.records import Document
from rag.records import Answer


def answer_to_dict(answer: Answer) -> dict[str, Any]:
    return {
        "question": answer.question,
        "answer": answer.text,
        "refused": answer.refused,
        "llm": answer.llm,
        "citations": [
            {
                "n": c.n,
                "item_id": c.item.item_id,
                "file": c.item.file,
                "section": c.item.section,
                "title": c.item.title,
                "date": c.item.date,
                "quote": c.quote,
                "page": c.item.page,
                "page_end": c.item.page_end,
            }
            for c in answer.citations
        ],
        "retrieved": [
            {
                "item_id": h.item.item_id,
                "file": h.item.file,
                "section": h.item.section,
                "title": h.item.title,
                "date": h.item.date,
                "score": round(h.score, 6),
                "text": h.chunk_text,
                "page": h.item.page,
                "page_end": h.item.page_end,
            }
            for h in answer.retrieved
        ],
        "timings_ms": answer.timings_ms,
        "unsupported": answer.unsupported,
        "fidelity": round(answer.fidelity, 4),
        "notices": answer.notices,
        "period": answer.query.period_label if answer.query else "",
        "intent": answer.query.intent if answer.query else "",
    }


def document_to_dict(document: Document) -> dict[str, Any]:
    data = asdict(document)
    return {
        "file": data["file"],
        "kind": data["kind"],
        "title": data["title"],
        "period": data["period"],
        "items": data["items"],
        "evidence": data["evidence"],
        "sha256": data["sha256"],
        "pages": data["pages"],
        "format": data["format"],
    }
