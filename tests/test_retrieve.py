"""Hybrid retrieval on the real index: filters on both sides, one hit per item, reranking, sub-questions."""

from __future__ import annotations

from rag.query import parse_query
from rag.records import Query
from rag.retrieve import Retriever


def test_hits_are_items_not_chunks_and_respect_the_period(assistant):
    query = Query(text="市政府常务会议", original="市政府常务会议", date_from="2023-12-01", date_to="2023-12-31", months=("2023-12",))
    hits = assistant.retriever.retrieve(query, 8)
    assert len(hits) == 8 and len({h.item.item_id for h in hits}) == 8
    assert all(h.item.date and h.item.date.startswith("2023-12") or h.item.date is None for h in hits)
    assert all(h.item.file.startswith("002_") for h in hits)
    assert any(h.dense_rank for h in hits) and any(h.bm25_rank for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_two_part_question_retrieves_each_part(assistant):
    query = parse_query("2023年2月和12月分别召开了哪些市政府常务会议？", assistant.catalog)
    assert len(query.sub_questions) == 2
    files = {h.item.file[:3] for h in assistant.retriever.retrieve(query, 4)}
    assert files == {"000", "002"}


def test_a_configured_reranker_decides_the_final_order(indexed_settings, assistant):
    class ReverseAlphabetical:
        """Stands in for a CrossEncoder (none ships offline): scores by chunk text."""

        def predict(self, pairs):
            return [-ord(text[-1]) for _question, text in pairs]

    retriever = Retriever(assistant.index, candidates=40, reranker="fake")
    retriever.__dict__["_reranker"] = ReverseAlphabetical()
    query = Query(text="地区生产总值", original="地区生产总值")
    hits = retriever.retrieve(query, 5)
    keys = [-ord(h.chunk_text[-1]) for h in hits]
    assert keys == sorted(keys, reverse=True)
