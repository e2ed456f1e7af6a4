"""The `heluo ask --json` contract (see DESIGN.md): keep these keys, only ever add to them."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from ingest.records import Document, Item
from rag.records import Answer, Citation, Query, SentenceCheck


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
        "completeness": None if answer.completeness is None else round(answer.completeness, 4),
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


# -- full records: what a saved conversation needs to render an answer again, exactly -------------
# (`answer_to_dict` above is the CLI contract and leaves out item texts; these keep everything.)


def item_to_record(item: Item) -> dict[str, Any]:
    return asdict(item)


def item_from_record(data: dict[str, Any]) -> Item:
    """An Item from `item_to_record`; fields added to Item later take their defaults, JSON lists become tuples."""
    known = {f.name for f in fields(Item)}
    return Item(**{name: tuple(value) if isinstance(value, list) else value for name, value in data.items() if name in known})


def answer_to_record(answer: Answer) -> dict[str, Any]:
    """Everything the UI renders from an Answer: text, citations with their full items, checks, notices."""
    query = answer.query
    return {
        "question": answer.question,
        "text": answer.text,
        "refused": answer.refused,
        "llm": answer.llm,
        "citations": [{"n": c.n, "item": item_to_record(c.item), "quote": c.quote} for c in answer.citations],
        "checks": [asdict(check) for check in answer.checks],
        "fidelity": answer.fidelity,
        "completeness": answer.completeness,
        "timings_ms": dict(answer.timings_ms),
        "notices": list(answer.notices),
        "query": None if query is None else {
            "text": query.text,
            "original": query.original,
            "intent": query.intent,
            "months": list(query.months),
            "period_label": query.period_label,
            "notes": list(query.notes),
        },
    }


def answer_from_record(data: dict[str, Any]) -> Answer:
    """The Answer `answer_to_record` saved (its retrieved hits are not kept: nothing renders them)."""
    query = data.get("query")
    return Answer(
        question=data["question"],
        text=data["text"],
        refused=bool(data["refused"]),
        llm=data["llm"],
        citations=[Citation(c["n"], item_from_record(c["item"]), c["quote"]) for c in data.get("citations", [])],
        checks=[
            SentenceCheck(c["sentence"], tuple(c["citations"]), bool(c["supported"]), c.get("reason", ""))
            for c in data.get("checks", [])
        ],
        fidelity=data.get("fidelity", 1.0),
        completeness=data.get("completeness"),
        timings_ms=dict(data.get("timings_ms", {})),
        notices=list(data.get("notices", [])),
        query=None if query is None else Query(
            text=query["text"],
            original=query["original"],
            intent=query["intent"],
            months=tuple(query.get("months", ())),
            period_label=query.get("period_label", ""),
            notes=tuple(query.get("notes", ())),
        ),
    )
