"""Documents that are neither bulletins nor reports: dated from their content, titled, kinded, their
items dated, and found by a date filter in Chroma and BM25 (real embedder, real Chroma)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import make_settings
from ingest.docdate import document_date
from ingest.generic import parse_generic

CRUD = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "crud-rag-sample" / "corpus"
if not CRUD.exists():
    CRUD = Path("/work/shared/datasets/crud-rag-sample/corpus")

NOTICE = """关于做好2023年洛阳市夏季防汛工作的通知

洛政办〔2023〕41号

各县区人民政府，市直各有关单位：

为切实做好今年汛期防汛工作，确保人民群众生命财产安全，现就有关事项通知如下。

一、压实防汛责任

各级要严格落实以行政首长负责制为核心的防汛责任制，防汛值班电话为0379-63990000。

二、加强隐患排查

8月10日前完成全市水库、河道、地质灾害隐患点排查，建立问题清单。

洛阳市人民政府办公室

2023年8月8日
"""


def lines(text: str) -> list[tuple[int, str]]:
    return list(enumerate(text.split("\n"), start=1))


@pytest.mark.parametrize(
    "text, iso, published",
    [
        ("标题\n发文日期：2023年8月8日\n正文。", "2023-08-08", False),
        ("标题\n发布时间：2023-08-07 09:33:41\n正文。", "2023-08-07", True),
        ("标题\n2023-08-03 19:19\n\n正文提到2022年。", "2023-08-03", True),
        ("标题\n来源：央视网  |  2023年07月24日 08:08:43\n正文。", "2023-07-24", True),
        ("标题\n2023/07/27\n正文。", "2023-07-27", False),
        ("标题\n7-26 16:16\n\n2023年7月以来，全省降雨偏多。", "2023-07-26", True),
        ("中新社北京8月8日电(记者刘育英)国家网信办8日发布规定，截止时间为2023年9月7日。", "2023-08-08", True),
        ("一份说明\n\n正文没有日期。\n\n第二段。\n\n某某局\n2021年3月5日", "2021-03-05", False),
        ("一份说明\n\n会议于2020年5月1日召开。", "2020-05-01", False),
        ("一份说明\n\n正文没有任何日期。", "", False),
        ("标题\n8-14 16:20\n\n正文没有年份。", "", True),  # a month and day without any year: undated, not guessed
    ],
)
def test_document_date_from_its_content(text, iso, published):
    found = document_date(lines(text))
    assert found.iso == iso, found.evidence
    assert found.published == published


def test_notice_is_dated_titled_and_split_into_sections():
    document = parse_generic(NOTICE, "通知.txt")
    assert document.meta.kind == "notice"
    assert document.meta.title == "关于做好2023年洛阳市夏季防汛工作的通知"
    assert document.meta.period == "2023-08-08" and "落款" in document.meta.evidence
    sections = {item.section for item in document.items}
    assert {"一、压实防汛责任", "二、加强隐患排查"} <= sections
    by_text = {item.text: item for item in document.items}
    assert by_text["8月10日前完成全市水库、河道、地质灾害隐患点排查，建立问题清单。"].date == "2023-08-10"  # its own date
    assert {item.date for item in document.items} == {"2023-08-08", "2023-08-10"}


@pytest.mark.parametrize(
    "title, kind",
    [("洛阳市人民政府关于印发实施方案的通知", "notice"), ("关于公布第一批名录的公告", "notice"), ("洛阳市文旅发展简报", "generic")],
)
def test_kind_from_the_title(title, kind):
    assert parse_generic(f"{title}\n\n正文第一段，内容充实。\n\n正文第二段。", "x.txt").meta.kind == kind


def crud_files(names):
    if not CRUD.exists():
        pytest.skip("the CRUD-RAG sample is not in ../shared/datasets")
    return [CRUD / name for name in names]


NEWS = ["news-00001.txt", "news-00009.txt", "news-00500.txt"]  # a dateline, a source line, an ISO date line


def test_crud_news_articles_are_dated_and_titled():
    for path in crud_files(NEWS):
        document = parse_generic(path.read_text(encoding="utf-8"), path.name)
        first_line = path.read_text(encoding="utf-8").split("\n")[0].strip()
        assert document.meta.kind == "news", path.name
        assert document.meta.period.startswith("2023-0"), (path.name, document.meta.evidence)
        assert document.meta.title == first_line
        assert all(item.date for item in document.items)


@pytest.fixture(scope="module")
def news_index(tmp_path_factory):
    """A corpus with no bulletin or report: a few CRUD-RAG articles and a dated notice."""
    from ingest.index import ingest

    root = tmp_path_factory.mktemp("news")
    corpus = root / "corpus"
    corpus.mkdir()
    for path in crud_files(NEWS):
        shutil.copy(path, corpus / path.name)
    (corpus / "防汛通知.txt").write_text(NOTICE, encoding="utf-8")
    settings = make_settings(root / "home", corpus=corpus)
    report = ingest([corpus], settings)
    assert not report.failed and len(report.added) == len(NEWS) + 1
    return settings


def test_news_only_corpus_ingests_with_dates(news_index):
    from ingest.catalog import Catalog

    catalog = Catalog(news_index.index_dir / "catalog.sqlite")
    documents = {d.file: d for d in catalog.documents()}
    assert documents["防汛通知.txt"].kind == "notice" and documents["防汛通知.txt"].period == "2023-08-08"
    assert all(documents[name].kind == "news" and documents[name].period for name in NEWS)
    assert all(item.date for item in catalog.items())


def test_a_dated_notice_is_found_by_its_date_in_chroma_and_bm25(news_index):
    from ingest.index import Index
    from ingest.store import date_range_filter
    from rag.retrieve import Bm25Index

    index = Index(news_index)
    catalog = index.catalog
    where = date_range_filter("2023-08-08", "2023-08-08")
    dense = index.store.search(index.embedder.embed_query("防汛责任制 值班电话"), 10, where)
    assert dense and dense[0].item_id.startswith("防汛通知#")
    spans = {(i.date, i.date_end) for i in catalog.items_by_id(m.item_id for m in dense).values()}
    assert spans == {("2023-08-08", None)}  # the notice's undated paragraphs and news-00001 of that day
    assert not index.store.search(index.embedder.embed_query("防汛责任制"), 10, date_range_filter("2023-08-11", "2023-08-31"))
    items = {item.item_id: item for item in catalog.items()}
    bm25 = Bm25Index(catalog.chunks(), items, {d.file: d.period for d in catalog.documents()})
    found = bm25.search("防汛值班电话", 5, "2023-08-08", "2023-08-08")  # chunk ids
    assert found and items[catalog.chunks_by_id(found[:1])[found[0]].item_id].file == "防汛通知.txt"
    assert bm25.search("防汛值班电话", 5, "2023-07-01", "2023-07-31") == []  # another month: not this notice


def test_a_corpus_without_bulletins_answers_and_finds_a_notice_by_its_date(news_index):
    from rag.service import Assistant

    assistant = Assistant(news_index)
    assert assistant.catalog.bulletin_months == () and assistant.catalog.report_periods == ()
    assert "2023-08" in assistant.catalog.dated_months  # periods come from the dated documents
    answer = assistant.ask("8月8日的通知里防汛值班电话是多少？", llm="extractive")
    assert not answer.refused
    assert "0379-63990000" in answer.text
    assert answer.citations and answer.citations[0].item.file == "防汛通知.txt"
    other_day = assistant.ask("8月20日的通知里防汛值班电话是多少？", llm="extractive")
    assert other_day.refused and not other_day.citations  # no document of that day: refused, not answered from 8月8日
