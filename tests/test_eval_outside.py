"""Outside question sets (a folder with corpus/ + questions.jsonl, the CRUD-RAG shape): the loader, the
CRUD scoring rules, the BM25-over-articles baseline on hand-made data, and the whole folder path of
the harness on a tiny fixture corpus (its own index, reused; the without-gold refusal variant)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from eval.bm25_articles import ArticleBm25
from eval.harness import Config
from eval.outside import (
    as_eval_question,
    corpus_without,
    found_ranks,
    is_outside_set,
    load_outside_set,
    read_texts,
    refusal_questions,
    run_outside,
    score_outside,
    set_home,
    set_settings,
)
from ingest.records import Item
from rag.records import Answer, Hit
from conftest import REPO, make_settings

TINY = REPO / "tests" / "fixtures" / "crud_tiny"


def _copy_set(tmp_path: Path, lines: list[str] | None = None) -> Path:
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder)
    if lines is not None:
        (folder / "questions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


class TestLoader:
    def test_the_fixture_loads_with_its_sets_and_gold_files(self):
        loaded = load_outside_set(TINY)
        assert is_outside_set(TINY) and not is_outside_set(REPO / "eval" / "dev.jsonl")
        assert [q.set for q in loaded.questions] == ["1doc", "1doc", "1doc", "2docs"]
        assert loaded.questions[3].gold_files == ("news-00003.txt", "news-00005.txt")
        assert loaded.gold_files() == {f"news-0000{n}.txt" for n in (1, 2, 3, 4, 5)}

    @pytest.mark.parametrize(
        ("line", "message"),
        [
            ('{"qid": "x", "set": "1doc", "question": "问？", "answer": "答"}', "gold_files"),
            ('{"qid": "x", "set": "1doc", "question": "问？", "answer": "答", "gold_files": ["nope.txt"]}', "not in corpus"),
            ('{"qid": "x", "set": "1doc", "question": "", "answer": "答", "gold_files": ["news-00001.txt"]}', "question"),
            ("{broken", "JSON"),
        ],
    )
    def test_malformed_lines_are_rejected_with_the_line_number(self, tmp_path, line, message):
        folder = _copy_set(tmp_path, [line])
        with pytest.raises(ValueError, match=message) as error:
            load_outside_set(folder)
        assert "questions.jsonl:1" in str(error.value)

    def test_duplicate_qids_and_a_folder_without_questions_are_rejected(self, tmp_path):
        line = '{"qid": "x", "set": "1doc", "question": "问？", "answer": "答", "gold_files": ["news-00001.txt"]}'
        with pytest.raises(ValueError, match="重复"):
            load_outside_set(_copy_set(tmp_path, [line, line]))
        with pytest.raises(ValueError, match="corpus/"):
            load_outside_set(tmp_path)


def _item(file: str, text: str) -> Item:
    return Item(f"{file}#0", file, "generic", 0, "", text[:10], text, 1, 1)


class TestScoring:
    TEXTS = {
        "a.txt": "江城市全民羽毛球大赛开幕。本次大赛按照青年组和中老年组两个组进行，设男子双打、女子双打、混合双打三个项目。",
        "b.txt": "江城市上半年新建口袋公园12座，新增绿地面积3.6万平方米，主要分布在老城区和滨江新区。",
    }

    def _answer(self, text: str, retrieved: list[str], refused: bool = False) -> Answer:
        hits = [Hit(_item(f"r{n}.txt", t), 1.0, t) for n, t in enumerate(retrieved)]
        return Answer("问", text, refused, "extractive", retrieved=hits, timings_ms={"total": 5.0})

    def test_gold_files_are_found_by_a_shared_run_of_text_whatever_the_unit(self):
        paragraph = "本次大赛按照青年组和中老年组两个组进行，设男子双打、女子双打、混合双打三个项目。"
        ranks = found_ranks(["无关的文章内容，讲的是别的事情，和羽毛球没有任何关系。", paragraph], ["a.txt", "b.txt"], self.TEXTS)
        assert ranks == [2, None]

    def test_a_two_file_question_scores_by_hand(self):
        from eval.outside import OutsideQuestion

        question = as_eval_question(OutsideQuestion("q", "2docs", "问？", "两个组", ("a.txt", "b.txt")))
        answer = self._answer("根据资料：本次大赛按照 两个组 进行。[1]", [self.TEXTS["b.txt"], "别的", self.TEXTS["a.txt"]])
        score = score_outside(question, answer, self.TEXTS)
        assert (score.hit_at_1, score.hit_at_k, score.recall_at_k, score.reciprocal_rank) == (1.0, 1.0, 1.0, 1.0)
        assert score.answer_accuracy == 1.0 and score.key_fact_recall == 1.0 and not score.refused

    def test_a_refusal_of_an_answerable_question_scores_nothing(self):
        from eval.outside import OutsideQuestion

        question = as_eval_question(OutsideQuestion("q", "1doc", "问？", "12座", ("b.txt",)))
        score = score_outside(question, self._answer("资料中没有相关信息。", [], refused=True), self.TEXTS)
        assert score.refused and score.answer_accuracy == 0.0 and score.hit_at_k == 0.0 and score.hit_at_1 == 0.0

    def test_the_refusal_variant_scores_refusals_only(self):
        from eval.outside import OutsideQuestion

        question = as_eval_question(OutsideQuestion("q", "1doc", "问？", "12座", ("b.txt",)), answerable=False)
        score = score_outside(question, self._answer("随便说说。", ["x"]), self.TEXTS)
        assert not question.answerable and question.gold == () and score.answer_accuracy is None and score.hit_at_k is None


class TestArticleBm25:
    TEXTS = {
        "a.txt": "江城市举办青少年游泳比赛\n市第一中学代表队获得团体总分第一名。",
        "b.txt": "江城地铁2号线开通试运营\n2号线全长23.5公里，设车站19座。",
        "c.txt": "江城市公交新开三条线路\n新线路连接滨江新区和老城区，方便换乘地铁。",
    }

    def test_the_article_with_the_rare_terms_ranks_first_and_is_quoted(self):
        baseline = ArticleBm25(self.TEXTS)
        hits = baseline.retrieve("江城地铁2号线全长多少公里？")
        assert hits[0].item.file == "b.txt" and hits[0].item.text == self.TEXTS["b.txt"]
        assert {h.item.file for h in hits} <= set(self.TEXTS)
        answer = baseline.ask("江城地铁2号线全长多少公里？")
        assert "23.5公里" in answer.text and not answer.refused
        assert answer.citations and answer.citations[0].item.file == "b.txt"

    def test_no_match_gives_no_hits_and_the_baseline_never_claims_an_llm(self):
        baseline = ArticleBm25(self.TEXTS)
        assert baseline.retrieve("量子计算机") == []
        assert baseline.ask("量子计算机").retrieved == []
        with pytest.raises(ValueError, match="extractive"):
            baseline.ask("地铁", llm="local")
        with pytest.raises(ValueError, match="没有文章"):
            ArticleBm25({})


def test_the_corpus_without_gold_keeps_the_distractors_and_drops_giveaway_questions(tmp_path):
    loaded = load_outside_set(TINY)
    corpus = corpus_without(loaded.corpus, tmp_path / "corpus", loaded.gold_files())
    assert sorted(p.name for p in corpus.iterdir()) == ["news-00006.txt", "news-00007.txt"]
    (corpus / "stale.txt").write_text("旧文件", encoding="utf-8")
    corpus_without(loaded.corpus, corpus, loaded.gold_files())
    assert not (corpus / "stale.txt").exists()
    remaining = read_texts(corpus)
    kept, left_out = refusal_questions(loaded, remaining)
    assert (len(kept), left_out) == (4, 0)
    kept, left_out = refusal_questions(loaded, {**remaining, "x.txt": "江城地铁2号线全长23.5公里"})
    assert left_out == 1 and "23.5公里" not in [q.answer for q in kept]


@pytest.fixture(scope="module")
def set_settings_home(tmp_path_factory):
    """One HELUO_HOME for the folder-set runs of this module: the second run reuses the set's index."""
    return make_settings(tmp_path_factory.mktemp("outside") / "home")


def test_the_folder_path_of_the_harness_runs_bm25_and_heluo_on_their_own_index(set_settings_home):
    """Both configurations answer every question on the fixture's own index; BM25 over whole articles
    finds every gold file at rank 1; the refusal variant asks the same questions without the gold files;
    a second ingest of the set's corpus embeds nothing (the index is reused)."""
    settings = set_settings_home
    loaded = load_outside_set(TINY)
    runs = run_outside(settings, loaded, [Config("heluo", "extractive")], without_gold=True)
    answered, refusals = runs
    assert [c.name for c in answered.configs] == ["bm25-extractive", "heluo-extractive"]
    assert answered.kind == "outside" and refusals.name == "crud_tiny without gold files"
    assert len(answered.runs) == len(refusals.runs) == 2 * len(loaded.questions)
    bm25 = answered.summaries()["bm25-extractive"]["all"]
    assert (bm25.hit_at_1, bm25.recall_at_k, bm25.false_refusal_rate) == (1.0, 1.0, 0.0)
    assert bm25.answer_accuracy >= 0.5
    heluo = [r.score for r in answered.for_config("heluo-extractive")]
    assert all(s.error or s.hit_at_k is not None for s in heluo)  # answered and scored, or its error kept
    assert all(not r.question.answerable for r in refusals.runs)
    assert refusals.summaries()["bm25-extractive"]["all"].refusal_accuracy is not None
    assert "0 questions left out" in refusals.note

    from ingest.index import ingest

    again = ingest([loaded.corpus], set_settings(settings, loaded.corpus, set_home(settings, loaded.folder)))
    assert again.embedded == 0 and not again.added and len(again.unchanged) == 7


def test_heluo_eval_takes_a_folder_set_and_writes_its_section(set_settings_home, tmp_path):
    from eval.harness import run_cli

    run_cli(set_settings_home, [TINY], tmp_path / "out", compare="heluo-extractive", limit=2)
    markdown = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "## Outside set `crud_tiny`" in markdown and "bm25-extractive" in markdown and "hit@1" in markdown
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    (document,) = results["sets"]
    assert document["kind"] == "outside" and len(document["results"]) == 2 * 2
