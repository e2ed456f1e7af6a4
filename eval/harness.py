"""Run evaluation sets through one or more configurations and score every answer the same way.

A configuration is a system and a generator: "heluo-extractive", "heluo-local", "naive-extractive",
"naive-local", "bm25-extractive"... (`parse_configs`). Every system returns the same Answer record;
only the mapping of gold items to retrievable units differs (heluo: `metrics.resolve_gold_ids` over
indexed items; naive: `naive.gold_chunk_ids` over raw chunks), so `score_answer` and `aggregate` are
shared and pure. Outside sets (a folder with corpus/ and questions.jsonl, e.g. the CRUD-RAG sample)
are run by `eval.outside` through the same loop with their own scorer; "bm25" (whole articles,
`eval.bm25_articles`) is their baseline.

Per question: hit@5, recall@5, reciprocal rank over the retrieved units; key-fact recall; citation
precision (a cited unit is right when it is gold or when the verifier found a sentence citing it
supported), the stricter gold-only citation precision, and citation recall; faithfulness (Answer.fidelity); refused; summary coverage for month
summaries (cited titles vs gold titles); the answer's own completeness (Answer.completeness, when the
generator measures it) and, for questions whose gold lists every matching item (complete_gold), the
share of those items cited; latency. Not-applicable values are None, never 0, so they
do not skew means: retrieval metrics for an answer built without top-k retrieval (heluo's month
digest reads every item of the month), citation precision and faithfulness for refusals.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from eval import metrics
from eval.dataset import EvalQuestion, load_eval_set
from rag.records import Answer
from rag.settings import Settings

K = 5
SYSTEMS = ("heluo", "naive", "bm25")
GENERATORS = ("extractive", "local", "openai", "hybrid")
# An answerable question scoring below this key-fact recall is listed as a failure in the report.
FAILURE_KEY_FACT_RECALL = 0.5
OVERALL = "all"

System = Literal["heluo", "naive", "bm25"]


@dataclass(frozen=True)
class Config:
    system: System
    llm: str

    @property
    def name(self) -> str:
        return f"{self.system}-{self.llm}"


@dataclass(frozen=True)
class QuestionScore:
    question_id: str
    type: str
    answerable: bool
    refused: bool
    latency_ms: float
    hit_at_k: float | None = None
    recall_at_k: float | None = None
    reciprocal_rank: float | None = None
    key_fact_recall: float | None = None
    citation_precision: float | None = None
    gold_citation_precision: float | None = None
    citation_recall: float | None = None
    faithfulness: float | None = None
    summary_coverage: float | None = None
    judge_faithfulness: float | None = None
    error: str = ""
    hit_at_1: float | None = None
    answer_accuracy: float | None = None
    answer_completeness: float | None = None
    gold_completeness: float | None = None


@dataclass(frozen=True)
class Aggregate:
    """Means over the questions where a metric applies (None: it applied to none of them)."""

    questions: int
    refused: int
    errors: int
    hit_at_k: float | None
    recall_at_k: float | None
    mrr: float | None
    key_fact_recall: float | None
    citation_precision: float | None
    gold_citation_precision: float | None
    citation_recall: float | None
    faithfulness: float | None
    refusal_accuracy: float | None
    false_refusal_rate: float | None
    summary_coverage: float | None
    judge_faithfulness: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    hit_at_1: float | None = None
    answer_accuracy: float | None = None
    answer_completeness: float | None = None
    gold_completeness: float | None = None


@dataclass(frozen=True)
class QuestionRun:
    question: EvalQuestion
    config: str
    answer: Answer
    score: QuestionScore


@dataclass(frozen=True)
class EvalRun:
    """Every configuration's answers to one set.

    name: the set's label in reports ("dev", "test", "crud-rag-sample"); kind: "qa" for our JSONL sets,
    "outside" for a folder set; sealed: per-question results are kept out of the committed report
    (the test set: nobody tunes on its failures).
    """

    configs: tuple[Config, ...]
    runs: tuple[QuestionRun, ...]
    name: str = ""
    kind: str = "qa"
    sealed: bool = False
    note: str = ""

    def for_config(self, name: str) -> list[QuestionRun]:
        return [run for run in self.runs if run.config == name]

    def summaries(self) -> dict[str, dict[str, Aggregate]]:
        """config name -> {"all": Aggregate, question type: Aggregate}."""
        return {c.name: summarize_by_type([r.score for r in self.for_config(c.name)]) for c in self.configs}


# -- configurations -------------------------------------------------------------------------------


def parse_configs(compare: str | None, llm: str | None = None) -> list[Config]:
    """Names from --compare: "heluo-local", "naive-extractive"; a bare generator means heluo with it,
    a bare "naive" means the baseline with --llm (extractive when not given). None: heluo with --llm.
    "auto" is left for `resolve_configs`, which knows what is installed.
    """
    default_llm = (llm or "auto").strip().lower()
    names = [part.strip().lower() for part in (compare or "").split(",") if part.strip()] or [f"heluo-{default_llm}"]
    configs: list[Config] = []
    for name in names:
        system, _, generator = name.partition("-")
        if system not in SYSTEMS:
            system, generator = "heluo", name
        if not generator:
            generator = (llm or "extractive").strip().lower()
        if generator not in (*GENERATORS, "auto"):
            raise ValueError(
                f"未知的评测配置 {name!r}：请用 heluo-extractive、naive-extractive、heluo-local、naive-local、"
                f"heluo-openai 这类名字，或 {'、'.join(GENERATORS)}、naive"
            )
        config = Config(system, generator)  # type: ignore[arg-type]
        if config not in configs:
            configs.append(config)
    return configs


def resolve_configs(configs: Sequence[Config], settings: Settings) -> list[Config]:
    """Replace "auto" by the generator it means here; an unavailable generator fails before any question runs."""
    from rag.llms import resolve_llm_name

    resolved = []
    for config in configs:
        concrete = Config(config.system, resolve_llm_name(config.llm, settings))
        if concrete not in resolved:
            resolved.append(concrete)
    return resolved


# -- scoring (pure) -------------------------------------------------------------------------------


def supported_ids(answer: Answer) -> set[str]:
    """Ids of cited units that some verified-supported sentence cites."""
    numbers = {n for check in answer.checks if check.supported for n in check.citations}
    return {c.item.item_id for c in answer.citations if c.n in numbers}


def score_answer(question: EvalQuestion, answer: Answer, gold_ids: metrics.GoldIds, error: str = "") -> QuestionScore:
    """Every per-question metric; gold_ids are in the same id space as the answer's retrieved/cited units."""
    cited = list(dict.fromkeys(c.item.item_id for c in answer.citations))
    answered = not answer.refused and not error
    values: dict[str, float | None] = {}
    if question.answerable:
        if answered and cited:
            values["citation_precision"] = metrics.citation_precision(cited, gold_ids, supported_ids(answer))
            values["gold_citation_precision"] = metrics.citation_precision(cited, gold_ids)
        retrieved = [hit.item.item_id for hit in answer.retrieved]
        digest_without_retrieval = answered and not retrieved
        if not digest_without_retrieval:
            values["hit_at_k"] = metrics.hit_at_k(retrieved, gold_ids, K)
            values["recall_at_k"] = metrics.recall_at_k(retrieved, gold_ids, K)
            values["reciprocal_rank"] = metrics.reciprocal_rank(retrieved[:K], gold_ids)
        values["key_fact_recall"] = metrics.key_fact_recall(answer.text if answered else "", question.key_facts)
        values["citation_recall"] = metrics.citation_recall(cited, gold_ids)
        if question.complete_gold:
            values["gold_completeness"] = values["citation_recall"]
        if question.type == "month_summary":
            # A gold title counts when a cited unit has it or the answer text names it (a raw chunk's
            # "title" is only its first line, so the text is where the baseline names items).
            titles = [c.item.title for c in answer.citations] + ([answer.text] if answered else [])
            values["summary_coverage"] = metrics.summary_coverage(titles, [g.title for g in question.gold]) if titles else 0.0
    return question_score(question, answer, error, values)


def question_score(question: EvalQuestion, answer: Answer, error: str, values: dict[str, float | None]) -> QuestionScore:
    """The score record: the given metric values plus what every set measures the same way (refusal,
    latency, faithfulness and the answer's own completeness when it answered)."""
    answered = not answer.refused and not error
    return QuestionScore(
        question_id=question.id,
        type=question.type,
        answerable=question.answerable,
        refused=answer.refused,
        latency_ms=float(answer.timings_ms.get("total", 0.0)),
        error=error,
        faithfulness=answer.fidelity if answered and answer.checks else None,
        answer_completeness=answer.completeness if answered else None,
        **values,
    )


def aggregate(scores: Sequence[QuestionScore]) -> Aggregate:
    """Means per metric over the questions where it applies; refusal metrics over their own halves."""
    answerable = [s.answerable for s in scores]
    refused = [s.refused for s in scores]
    latencies = [s.latency_ms for s in scores if not s.error]
    return Aggregate(
        questions=len(scores),
        refused=sum(refused),
        errors=sum(bool(s.error) for s in scores),
        hit_at_k=_mean(s.hit_at_k for s in scores),
        recall_at_k=_mean(s.recall_at_k for s in scores),
        mrr=_mean(s.reciprocal_rank for s in scores),
        key_fact_recall=_mean(s.key_fact_recall for s in scores),
        citation_precision=_mean(s.citation_precision for s in scores),
        gold_citation_precision=_mean(s.gold_citation_precision for s in scores),
        citation_recall=_mean(s.citation_recall for s in scores),
        faithfulness=_mean(s.faithfulness for s in scores),
        refusal_accuracy=metrics.refusal_accuracy(answerable, refused) if not all(answerable) else None,
        false_refusal_rate=metrics.false_refusal_rate(answerable, refused) if any(answerable) else None,
        summary_coverage=_mean(s.summary_coverage for s in scores),
        judge_faithfulness=_mean(s.judge_faithfulness for s in scores),
        latency_p50_ms=metrics.percentile(latencies, 50) if latencies else None,
        latency_p95_ms=metrics.percentile(latencies, 95) if latencies else None,
        hit_at_1=_mean(s.hit_at_1 for s in scores),
        answer_accuracy=_mean(s.answer_accuracy for s in scores),
        answer_completeness=_mean(s.answer_completeness for s in scores),
        gold_completeness=_mean(s.gold_completeness for s in scores),
    )


def summarize_by_type(scores: Sequence[QuestionScore]) -> dict[str, Aggregate]:
    """{"all": overall, then one entry per question type in the order the types first appear}."""
    summary = {OVERALL: aggregate(scores)}
    for question_type in dict.fromkeys(s.type for s in scores):
        summary[question_type] = aggregate([s for s in scores if s.type == question_type])
    return summary


def is_failure(score: QuestionScore) -> bool:
    """What a person should look at: wrong or missing answers, false refusals, answered unanswerables."""
    if score.error:
        return True
    if not score.answerable:
        return not score.refused
    return score.refused or (score.key_fact_recall is not None and score.key_fact_recall < FAILURE_KEY_FACT_RECALL)


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


# -- running --------------------------------------------------------------------------------------


Scorer = Callable[[EvalQuestion, Answer, str], QuestionScore]


class System:
    """One system under test: how it answers (question, generator) and how its answers are scored."""

    def __init__(self, ask: Callable[[str, str], Answer], score: Scorer) -> None:
        self.ask = ask
        self.score = score


def build_systems(settings: Settings, wanted: set[str]) -> dict[str, System]:
    """The systems the configurations need on our corpus, sharing one embedder and one set of chat models."""
    chat_models: dict = {}
    systems: dict[str, System] = {}
    embedder = None
    if "heluo" in wanted:
        from rag.service import Assistant

        assistant = Assistant(settings, chat_models=chat_models)
        items = assistant.index.catalog.items()
        embedder = assistant.index.embedder
        systems["heluo"] = System(
            lambda question, llm: assistant.ask(question, llm=llm),
            _gold_scorer(lambda question: metrics.resolve_gold_ids(question.gold, items)),
        )
    if "naive" in wanted:
        from eval.naive import NaiveBaseline, gold_chunk_ids

        baseline = NaiveBaseline(settings, embedder=embedder, chat_models=chat_models)
        baseline.build()
        systems["naive"] = System(baseline.ask, _gold_scorer(lambda question: gold_chunk_ids(question.gold, baseline.chunks)))
    if "bm25" in wanted:
        raise ValueError("bm25 是外部问题集（文件夹：corpus/ + questions.jsonl）的基线；on eval/*.jsonl use naive or heluo")
    return systems


def _gold_scorer(gold_ids: Callable[[EvalQuestion], metrics.GoldIds]) -> Scorer:
    return lambda question, answer, error: score_answer(question, answer, gold_ids(question) if question.answerable else [], error)


def run_eval(
    settings: Settings,
    questions: Sequence[EvalQuestion],
    configs: Sequence[Config],
    progress: Callable[[str], None] | None = None,
    judge=None,
    systems: dict[str, System] | None = None,
    name: str = "",
    kind: str = "qa",
    sealed: bool = False,
) -> EvalRun:
    """Answer and score every question under every configuration (the index must already exist).

    systems: the systems to use (default: `build_systems` on settings' corpus, for our JSONL sets).
    judge: an optional chat model; when given, each non-refused answer also gets `judge_faithfulness`.
    A question whose answer raises is kept, scored as a failure with its error, so a long run survives.
    """
    if not questions:
        raise ValueError("没有要评测的问题；check --set and --limit")
    if not configs:
        raise ValueError("没有评测配置；pass --compare heluo-extractive,naive-extractive or --llm")
    if systems is None:
        systems = build_systems(settings, {config.system for config in configs})
    runs: list[QuestionRun] = []
    for config in configs:
        system = systems[config.system]
        for question in questions:
            error = ""
            try:
                answer = system.ask(question.question, config.llm)
            except Exception as exc:  # kept and reported: one failing question must not sink the run
                error = f"{type(exc).__name__}: {exc}"
                answer = Answer(question.question, "", False, config.llm)
            score = system.score(question, answer, error)
            if judge is not None and not answer.refused and not error:
                score = replace(score, judge_faithfulness=judge_faithfulness(answer, judge))
            runs.append(QuestionRun(question, config.name, answer, score))
            if progress:
                progress(f"{name or 'eval'} {config.name} {question.id}")
    return EvalRun(tuple(configs), tuple(runs), name=name, kind=kind, sealed=sealed)


# -- optional LLM judge ---------------------------------------------------------------------------

CLAIMS_PROMPT = """把下面的回答拆成独立的事实陈述（每条一句，保留数字、日期、人名），去掉引用编号。
只输出 JSON 字符串数组，例如 ["……", "……"]。

回答：
{answer}"""

VERDICT_PROMPT = """根据下面的资料，逐条判断每个陈述能否从资料中直接得出。
只输出 JSON 数组，每条一个对象 {{"claim": 陈述, "supported": true 或 false}}。

资料：
{sources}

陈述：
{claims}"""


def judge_faithfulness(answer: Answer, chat_model) -> float | None:
    """RAGAS-style faithfulness: the share of the answer's claims that its cited sources support.

    1. the judge decomposes the answer into standalone claims; 2. it checks all claims against the
    full text of the cited items; 3. supported claims / all claims. None when there is nothing to
    judge (a refusal, no claims) or the judge's output is not the JSON asked for.
    """
    if answer.refused or not answer.text.strip():
        return None
    claims = _json_list(_invoke(chat_model, CLAIMS_PROMPT.format(answer=answer.text)))
    claims = [c.strip() for c in claims if isinstance(c, str) and c.strip()]
    if not claims:
        return None
    cited = {c.item.item_id: c.item for c in answer.citations}
    if not cited:
        return 0.0
    sources = "\n\n".join(f"《{item.title}》\n{item.text}" for item in cited.values())
    numbered = "\n".join(f"{n}. {claim}" for n, claim in enumerate(claims, start=1))
    verdicts = _json_list(_invoke(chat_model, VERDICT_PROMPT.format(sources=sources, claims=numbered)))
    flags = [bool(v.get("supported")) for v in verdicts if isinstance(v, dict)]
    if len(flags) != len(claims):
        return None
    return sum(flags) / len(claims)


def _invoke(chat_model, prompt: str) -> str:
    from langchain_core.output_parsers import StrOutputParser

    return (chat_model | StrOutputParser()).invoke(prompt)


def _json_list(text: str) -> list:
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end <= start:
        return []
    try:
        value = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return []
    return value if isinstance(value, list) else []


# -- command line entry ---------------------------------------------------------------------------


DEFAULT_SETS = (Path("eval/dev.jsonl"), Path("eval/test.jsonl"))
# A JSONL set with this file stem is sealed: its per-question results stay out of the committed report.
SEALED_STEMS = ("test",)


def run_cli(
    settings: Settings,
    set_paths: Sequence[Path] | None,
    out: Path,
    llm: str | None = None,
    compare: str | None = None,
    limit: int | None = None,
    judge: bool = False,
    without_gold: bool = False,
) -> list[EvalRun]:
    """`heluo eval`: run every set (default dev and test) under every configuration and write one report.

    A JSONL set runs on the configured corpus (ingested incrementally); a folder set (corpus/ +
    questions.jsonl) on its own index, with BM25 over whole articles as its baseline, and with
    `without_gold` also over its corpus without the gold files. Writes report.md, results.json, PNGs.
    """
    from rich.console import Console

    from eval import outside
    from eval.report import print_summary, write_report

    if limit is not None and limit < 1:
        raise ValueError(f"--limit {limit}: give a positive number of questions")
    paths = [Path(p) for p in (set_paths or DEFAULT_SETS)]
    loaded = [(p, outside.load_outside_set(p) if outside.is_outside_set(p) else load_eval_set(p)[:limit]) for p in paths]
    configs = resolve_configs(parse_configs(compare, llm), settings)
    judge_model = _judge_model(settings) if judge else None
    console = Console(stderr=True)
    qa_configs = [c for c in configs if c.system != "bm25"]
    if any(not isinstance(s, outside.OutsideSet) for _p, s in loaded) and len(qa_configs) < len(configs):
        console.print("[yellow]bm25 只用于文件夹问题集（CRUD-RAG 这类），在 eval/*.jsonl 上跳过[/yellow]")
    runs: list[EvalRun] = []
    systems = None
    with _progress(console) as advance:
        for path, loaded_set in loaded:
            if isinstance(loaded_set, outside.OutsideSet):
                runs += outside.run_outside(settings, loaded_set, configs, limit, advance, without_gold)
                continue
            if systems is None:
                systems = _qa_systems(settings, qa_configs, console)
            runs.append(run_eval(settings, loaded_set, qa_configs, advance, judge_model, systems=systems,
                                 name=path.stem, sealed=path.stem in SEALED_STEMS))
    written = write_report(runs, Path(out), set_paths=paths)
    print_summary(runs)
    console.print("写入 " + "、".join(str(path) for path in written))
    return runs


def _qa_systems(settings: Settings, configs: Sequence[Config], console) -> dict[str, System]:
    from ingest.index import ingest

    with console.status("索引语料 (ingest)…"):
        report = ingest([settings.corpus], settings)
    if report.failed:
        console.print(f"[yellow]ingest 跳过 {len(report.failed)} 个文件: {report.failed}[/yellow]")
    return build_systems(settings, {config.system for config in configs})


@contextmanager
def _progress(console, every: int = 50) -> Iterator[Callable[[str], None]]:
    """A spinner line naming the set, configuration and question being run; without a terminal (a log
    file) a plain line every `every` questions instead."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    if not console.is_terminal:
        count = 0

        def log(label: str) -> None:
            nonlocal count
            count += 1
            if count % every == 0 or label.startswith("ingest"):
                console.print(f"[{count}] {label}")

        yield log
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed}"), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("eval", total=None)
        yield lambda label: bar.update(task, advance=1, description=label)


def _judge_model(settings: Settings):
    from rag.llm_openai import NOT_CONFIGURED, openai_configured
    from rag.llms import get_chat_model

    if not openai_configured(settings):
        raise ValueError(f"--judge 需要一个 OpenAI 兼容的接口: {NOT_CONFIGURED}")
    return get_chat_model("openai", settings)


__all__ = [
    "Aggregate",
    "Config",
    "EvalRun",
    "QuestionRun",
    "QuestionScore",
    "System",
    "aggregate",
    "build_systems",
    "is_failure",
    "judge_faithfulness",
    "parse_configs",
    "question_score",
    "resolve_configs",
    "run_cli",
    "run_eval",
    "score_answer",
    "summarize_by_type",
    "supported_ids",
]
