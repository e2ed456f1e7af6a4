"""Revisions and copies: a revised document replaces its indexed version (no item twice, the month
summary keeps its count), an identical copy is not indexed again, an old version left in the folder
stays out, and a namesake from another folder never silently replaces a different document."""

from __future__ import annotations

import shutil

import pytest

from conftest import CORPUS, make_settings
from ingest.catalog import Catalog
from ingest.index import ingest, preview

FEB, JUL, DEC, DISTRICT, CITY = sorted(p.name for p in CORPUS.glob("*.txt"))
FEB_ITEMS = 103


def revised(text: str) -> str:
    """A corrected edition: one figure changed, the way a revised bulletin differs."""
    assert "国家文物局副局长关强率调研组来洛" in text
    return text.replace("国家文物局副局长关强率调研组来洛", "国家文物局副局长关强率调研组一行来洛")


@pytest.fixture(scope="module")
def indexed_feb(tmp_path_factory):
    """The February bulletin indexed once; each test works on a copy of the folder and the index."""
    root = tmp_path_factory.mktemp("feb")
    (root / "corpus").mkdir()
    shutil.copy(CORPUS / FEB, root / "corpus" / FEB)
    ingest([root / "corpus"], make_settings(root / "home", corpus=root / "corpus"))
    return root


@pytest.fixture
def library(indexed_feb, tmp_path):
    # The catalog keeps each file's absolute source path: the copy keeps the folder's path too.
    corpus = indexed_feb / "corpus"
    shutil.copytree(indexed_feb / "home", tmp_path / "home")
    saved = tmp_path / "corpus-before"
    shutil.copytree(corpus, saved)
    yield make_settings(tmp_path / "home", corpus=corpus), corpus
    shutil.rmtree(corpus)
    shutil.copytree(saved, corpus)


def catalog(settings) -> Catalog:
    return Catalog(settings.index_dir / "catalog.sqlite")


def test_revised_bulletin_replaces_the_old_one(library):
    settings, corpus = library
    revision = corpus / "2023年2月月报（修订版）.txt"
    revision.write_text(revised((CORPUS / FEB).read_text(encoding="utf-8")), encoding="utf-8")
    plans = {plan.path.name: plan for plan in preview([revision], settings)}
    assert plans[revision.name].action == "replace" and plans[revision.name].other == FEB  # what the upload asks about

    report = ingest([corpus], settings)
    assert report.replaced == [(revision.name, FEB)] and report.added == [revision.name]
    documents = catalog(settings).documents()
    assert [(d.file, d.items) for d in documents] == [(revision.name, FEB_ITEMS)]
    assert sum(1 for item in catalog(settings).items() if item.kind == "bulletin") == FEB_ITEMS
    assert any("关强率调研组一行来洛" in item.text for item in catalog(settings).items())

    # The old file still in the folder is the superseded version: it stays out on the next run.
    again = ingest([corpus], settings)
    assert again.superseded == [(FEB, revision.name)] and again.unchanged == [revision.name]
    assert [(d.file, d.items) for d in catalog(settings).documents()] == [(revision.name, FEB_ITEMS)]


def test_month_summary_counts_the_revised_bulletin_once(library):
    from rag.service import Assistant

    settings, corpus = library
    (corpus / "修订版.txt").write_text(revised((CORPUS / FEB).read_text(encoding="utf-8")), encoding="utf-8")
    ingest([corpus], settings)
    summary = Assistant(settings).summarize("2023-02", llm="extractive").text
    assert f"本月共收录 {FEB_ITEMS} 条" in summary and "207" not in summary


def test_identical_copy_under_another_name_is_not_indexed_twice(library):
    settings, corpus = library
    shutil.copy(corpus / FEB, corpus / "副本.txt")
    report = ingest([corpus], settings)
    assert report.duplicates == [("副本.txt", FEB)] and not report.added
    assert [d.file for d in catalog(settings).documents()] == [FEB]


def test_namesake_from_another_folder_does_not_replace_a_different_document(library, tmp_path):
    settings, _corpus = library
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / FEB).write_text((CORPUS / CITY).read_text(encoding="utf-8"), encoding="utf-8")  # same name, another document
    report = ingest([elsewhere / FEB], settings)
    assert [file for file, _ in report.failed] == [FEB] and "同名" in report.failed[0][1] and "改名" in report.failed[0][1]
    assert [(d.kind, d.items) for d in catalog(settings).documents()] == [("bulletin", FEB_ITEMS)]

    (elsewhere / FEB).write_text(revised((CORPUS / FEB).read_text(encoding="utf-8")), encoding="utf-8")  # its revision: fine
    report = ingest([elsewhere / FEB], settings)
    assert report.updated == [FEB] and not report.failed


def test_folder_ingest_lists_what_it_skipped(library):
    settings, corpus = library
    (corpus / "旧版通知.doc").write_bytes(b"\xd0\xcf\x11\xe0 old word")
    (corpus / "数据.xlsx").write_bytes(b"PK")
    (corpus / "子目录").mkdir()
    (corpus / ".隐藏.txt").write_text("x", encoding="utf-8")
    report = ingest([corpus], settings)
    skipped = dict(report.skipped)
    assert set(skipped) == {"旧版通知.doc", "数据.xlsx", "子目录"}
    assert ".docx" in skipped["旧版通知.doc"] and "子文件夹" in skipped["子目录"]


def test_delete_removes_only_the_file_it_indexed(library, tmp_path):
    from ui.uploads import corpus_copy_of

    settings, corpus = library
    assert corpus_copy_of(FEB, settings) == corpus / FEB
    (corpus / FEB).write_text("另一份同名文件的内容", encoding="utf-8")  # the folder's file is no longer what was indexed
    assert corpus_copy_of(FEB, settings) is None
    other = make_settings(tmp_path / "home2", corpus=tmp_path / "empty")
    ingest([CORPUS / CITY], other)  # indexed from outside its corpus folder: nothing there to delete
    assert corpus_copy_of(CITY, other) is None
