"""Run the evaluation set through one or more configurations and score every answer the same way.

A configuration is a system and a generator: "heluo-extractive", "heluo-local", "naive-extractive",
"naive-local"... (`parse_configs`). Both systems return the same Answer record; only the mapping of
gold items to retrievable units differs (heluo: `metrics.resolve_gold_ids` over indexed items; naive:
`naive.gold_chunk_ids` over raw chunks), so `score_answer` and `aggregate` are shared and pure.

Per question: hit@5, recall@5, reciprocal rank over the retrieved units; key-fact recall; citation
precision (a cited unit is right when it is gold or when the verifier found a sentence citing it
supported), the stricter gold-only citation precision, and citation recall; faithfulness (Answer.fidelity); refused; summary coverage for month
summaries (cited titles vs gold titles); latency. Not-applicable values are None, never 0, so they
do not skew means: retrieval metrics for an answer built without top-k retrieval (heluo's month
digest reads every item of the month), citation precision and faithfulness for refusals.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from eval import metrics
from eval.dataset import EvalQuestion, load_eval_set
from rag.records import Answer
from rag.settings import Settings

K = 5
SYSTEMS = ("heluo", "naive")
GENERATORS = ("extractive", "local", "openai", "hybrid")
# An answerable question scoring below this key-fact recall is listed as a failure in the report.
FAILURE_KEY_FACT_RECALL = 0.5
OVERALL = "all"

System = Literal["heluo", "naive"]


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
    completeness: float | None = None


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
    completeness: float | None = None


@dataclass(frozen=True)
class QuestionRun:
    question: EvalQuestion
    config: str
    answer: Answer
    score: QuestionScore


@dataclass(frozen=True)
class EvalRun:
    configs: tuple[Config, ...]
    runs: tuple[QuestionRun, ...]

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
    values: dict[str, float | None] = {
        "faithfulness": answer.fidelity if answered and answer.checks else None,
        "completeness": answer.completeness if answered else None,
    }
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
        if question.type == "month_summary":
            # A gold title counts when a cited unit has it or the answer text names it (a raw chunk's
            # "title" is only its first line, so the text is where the baseline names items).
            titles = [c.item.title for c in answer.citations] + ([answer.text] if answered else [])
            values["summary_coverage"] = metrics.summary_coverage(titles, [g.title for g in question.gold]) if titles else 0.0
    return QuestionScore(
        question_id=question.id,
        type=question.type,
        answerable=question.answerable,
        refused=answer.refused,
        latency_ms=float(answer.timings_ms.get("total", 0.0)),
        error=error,
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
        completeness=_mean(s.completeness for s in scores),
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


class _System:
    """One system under test: how it answers, and its gold units for a question."""

    def __init__(self, ask: Callable[[str, str], Answer], gold_ids: Callable[[EvalQuestion], metrics.GoldIds]) -> None:
        self.ask = ask
        self.gold_ids = gold_ids


def _build_systems(settings: Settings, wanted: set[str]) -> dict[str, _System]:
    """The systems the configurations need, sharing one embedder and one set of loaded chat models."""
    chat_models: dict = {}
    systems: dict[str, _System] = {}
    embedder = None
    if "heluo" in wanted:
        from rag.service import Assistant

        assistant = Assistant(settings, chat_models=chat_models)
        items = assistant.index.catalog.items()
        embedder = assistant.index.embedder
        systems["heluo"] = _System(
            lambda question, llm: assistant.ask(question, llm=llm),
            lambda question: metrics.resolve_gold_ids(question.gold, items),
        )
    if "naive" in wanted:
        from eval.naive import NaiveBaseline, gold_chunk_ids

        baseline = NaiveBaseline(settings, embedder=embedder, chat_models=chat_models)
        baseline.build()
        systems["naive"] = _System(baseline.ask, lambda question: gold_chunk_ids(question.gold, baseline.chunks))
    return systems


def run_eval(
    settings: Settings,
    questions: Sequence[EvalQuestion],
    configs: Sequence[Config],
    progress: Callable[[str], None] | None = None,
    judge=None,
) -> EvalRun:
    """Answer and score every question under every configuration (the index must already exist).

    judge: an optional chat model; when given, each non-refused answer also gets `judge_faithfulness`.
    A question whose answer raises is kept, scored as a failure with its error, so a long run survives.
    """
    if not questions:
        raise ValueError("没有要评测的问题；check --set and --limit")
    if not configs:
        raise ValueError("没有评测配置；pass --compare heluo-extractive,naive-extractive or --llm")
    systems = _build_systems(settings, {config.system for config in configs})
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
            score = score_answer(question, answer, system.gold_ids(question) if question.answerable else [], error)
            if judge is not None and not answer.refused and not error:
                score = replace(score, judge_faithfulness=judge_faithfulness(answer, judge))
            runs.append(QuestionRun(question, config.name, answer, score))
            if progress:
                progress(f"{config.name} {question.id}")
    return EvalRun(tuple(configs), tuple(runs))


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


def run_cli(
    settings: Settings,
    set_path: Path,
    out: Path,
    llm: str | None = None,
    compare: str | None = None,
    limit: int | None = None,
    judge: bool = False,
) -> EvalRun:
    """`heluo eval`: ingest (incremental), run the configurations, write report.md/results.json/PNGs to `out`."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from eval.report import print_summary, write_report
    from ingest.index import ingest

    if limit is not None and limit < 1:
        raise ValueError(f"--limit {limit}: give a positive number of questions")
    questions = load_eval_set(set_path)[:limit]
    configs = resolve_configs(parse_configs(compare, llm), settings)
    judge_model = _judge_model(settings) if judge else None
    console = Console(stderr=True)
    with console.status("索引语料 (ingest)…"):
        report = ingest([settings.corpus], settings)
    if report.failed:
        console.print(f"[yellow]ingest 跳过 {len(report.failed)} 个文件: {report.failed}[/yellow]")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("eval", total=len(questions) * len(configs))

        def advance(label: str) -> None:
            bar.update(task, advance=1, description=label)

        run = run_eval(settings, questions, configs, advance, judge_model)
    written = write_report(run, Path(out), set_path=Path(set_path))
    print_summary(run)
    console.print("写入 " + "、".join(str(path) for path in written))
    return run


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
    "aggregate",
    "is_failure",
    "judge_faithfulness",
    "parse_configs",
    "resolve_configs",
    "run_cli",
    "run_eval",
    "score_answer",
    "summarize_by_type",
    "supported_ids",
]
