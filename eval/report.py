"""Write an EvalRun for people: report.md (tables, failures), results.json (everything), PNG charts.

Rendering only: every number comes from eval.harness (score_answer / aggregate), nothing is
recomputed here. Charts use English labels because no CJK font is installed on a typical server
(question types are ASCII anyway).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from eval.harness import K, OVERALL, Aggregate, EvalRun, QuestionRun, is_failure
from rag.serialize import answer_to_dict

# (Aggregate field, column header) in the order the tables show them.
COLUMNS = (
    ("questions", "n"),
    ("hit_at_k", f"hit@{K}"),
    ("recall_at_k", f"recall@{K}"),
    ("mrr", f"MRR@{K}"),
    ("key_fact_recall", "key facts"),
    ("citation_precision", "cite P"),
    ("gold_citation_precision", "cite P gold"),
    ("citation_recall", "cite R"),
    ("faithfulness", "faithful"),
    ("completeness", "complete"),
    ("refusal_accuracy", "refusal acc"),
    ("false_refusal_rate", "false refusal"),
    ("summary_coverage", "summary cov"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
)
# The per-type comparison across configurations shows these.
COMPARED = (("key_fact_recall", "key facts"), ("hit_at_k", f"hit@{K}"), ("faithfulness", "faithful"))
CHARTS = (
    ("key_fact_recall", "key-fact recall", "chart_key_fact_recall.png"),
    ("hit_at_k", f"hit@{K}", "chart_hit_at_5.png"),
    ("faithfulness", "faithfulness (supported sentences)", "chart_faithfulness.png"),
)
REFUSAL_CHART = "chart_refusal.png"
_ANSWER_CHARS = 600

METRIC_NOTES = f"""- **hit@{K} / recall@{K} / MRR@{K}**: gold items among the first {K} retrieved units (heluo: parsed items;
  naive: raw 500-character chunks holding the gold quote or half of it). Not applicable (—) to heluo's
  month digests, which read every item of the month instead of a top-{K}.
- **key facts**: share of the question's key facts found in the answer text (normalised).
- **cite P / cite P gold / cite R**: cited units that are gold or that a verified-supported sentence cites /
  cited units that are gold / gold items cited (answerable questions only).
- **faithful**: share of answer sentences the verifier (rag.verify) found supported by what they cite.
- **complete**: share of the items retrieval found to answer the question that the answer cites
  (`Answer.completeness`; month summaries: of all the month's items).
- **refusal acc**: unanswerable questions refused; **false refusal**: answerable questions refused.
- **summary cov**: month summaries only: gold item titles among the cited titles or named in the answer.
- Means are over the questions where a metric applies; — means it applied to none."""


def write_report(run: EvalRun, out: Path, set_path: Path | None = None) -> list[Path]:
    """report.md, results.json and the charts under `out` (created); returns the written paths."""
    out.mkdir(parents=True, exist_ok=True)
    charts = write_charts(run, out)
    report = out / "report.md"
    report.write_text(render_markdown(run, set_path, [path.name for path in charts]), encoding="utf-8")
    results = out / "results.json"
    results.write_text(json.dumps(results_document(run, set_path), ensure_ascii=False, indent=1), encoding="utf-8")
    return [report, results, *charts]


# -- Markdown -------------------------------------------------------------------------------------


def render_markdown(run: EvalRun, set_path: Path | None = None, charts: list[str] | None = None) -> str:
    summaries = run.summaries()
    names = [config.name for config in run.configs]
    questions = len({r.question.id for r in run.runs})
    lines = [
        "# 河洛问答评测报告 (heluo evaluation)",
        "",
        f"{datetime.now():%Y-%m-%d %H:%M} · set `{set_path or '-'}` · {questions} questions · configurations: "
        + ", ".join(f"`{name}`" for name in names),
        "",
        "## Overall" + (" (side by side)" if len(names) > 1 else ""),
        "",
        *_table(["config"], [(name, summaries[name][OVERALL]) for name in names]),
        "",
        METRIC_NOTES,
        "",
    ]
    if len(names) > 1:
        lines += ["## Per type, side by side", "", *_comparison_table(run), ""]
    for name in names:
        rows = [(question_type, aggregate) for question_type, aggregate in summaries[name].items()]
        lines += [f"## `{name}` by question type", "", *_table(["type"], rows), ""]
    for chart in charts or []:
        lines += [f"![{chart}]({chart})", ""]
    for name in names:
        lines += _failures(name, run.for_config(name))
    return "\n".join(lines).rstrip() + "\n"


def _table(label: list[str], rows: list[tuple[str, Aggregate]]) -> list[str]:
    header = [*label, *(title for _field, title in COLUMNS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, aggregate in rows:
        cells = [name, *(format_value(field, getattr(aggregate, field)) for field, _title in COLUMNS)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _comparison_table(run: EvalRun) -> list[str]:
    summaries = run.summaries()
    names = [config.name for config in run.configs]
    types = list(dict.fromkeys(t for name in names for t in summaries[name]))
    header = ["type", *(f"{title}<br>{name}" for _field, title in COMPARED for name in names)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for question_type in types:
        cells = [question_type]
        for field, _title in COMPARED:
            for name in names:
                aggregate = summaries[name].get(question_type)
                cells.append(format_value(field, getattr(aggregate, field)) if aggregate else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _failures(name: str, runs: list[QuestionRun]) -> list[str]:
    failed = [run for run in runs if is_failure(run.score)]
    lines = [f"## Failures of `{name}` ({len(failed)} of {len(runs)})", ""]
    if not failed:
        return lines + ["None.", ""]
    categories = Counter(failure_category(run) for run in failed)
    lines += [
        "Answerable questions with key-fact recall below 0.5 or a false refusal; unanswerable ones answered; errors.",
        "",
        "By cause: " + ", ".join(f"{category} {count}" for category, count in categories.most_common()),
        "",
    ]
    for run in failed:
        score, question = run.score, run.question
        lines.append(f"### {question.id} · {question.type} · {failure_reason(run)}")
        lines.append("")
        lines.append(f"- **问题** {question.question}")
        if question.answerable:
            lines.append(f"- **关键事实** {'、'.join(question.key_facts)}")
            lines.append(f"- **参考答案** {question.reference_answer}")
        retrieved = "; ".join(f"{hit.item.title[:30]} ({hit.item.file[:3]})" for hit in run.answer.retrieved[:K])
        lines.append(f"- **检索到** {retrieved or '—'}")
        lines.append("")
        text = run.answer.text.strip() or score.error or "(空)"
        if len(text) > _ANSWER_CHARS:
            text = text[:_ANSWER_CHARS] + "…"
        lines += ["```text", text, "```", ""]
    return lines


def failure_category(run: QuestionRun) -> str:
    """Where a failure happened: retrieval (gold not in the top 5), generation (gold there, facts not
    in the answer), refusal, or the run itself."""
    score = run.score
    if score.error:
        return "error"
    if not score.answerable:
        return "answered unanswerable"
    if score.refused:
        return "false refusal"
    if score.hit_at_k == 0.0:
        return f"gold not retrieved in top {K}"
    if score.hit_at_k is None:
        return "summary missed key facts"
    return "gold retrieved, facts not in answer"


def failure_reason(run: QuestionRun) -> str:
    score = run.score
    if score.error:
        return f"error: {score.error[:120]}"
    if not score.answerable:
        return "answered an unanswerable question"
    if score.refused:
        return "false refusal"
    facts = f"key facts {format_value('key_fact_recall', score.key_fact_recall)}"
    found = f"hit@{K} {format_value('hit_at_k', score.hit_at_k)}"
    return f"{facts}, {found}"


def format_value(field: str, value: float | int | None) -> str:
    if value is None:
        return "—"
    if field == "questions" or isinstance(value, int):
        return str(value)
    if field.startswith("latency"):
        return f"{value:.0f}"
    return f"{value:.2f}"


# -- JSON -----------------------------------------------------------------------------------------


def results_document(run: EvalRun, set_path: Path | None = None) -> dict:
    return {
        "set": str(set_path or ""),
        "created": datetime.now().isoformat(timespec="seconds"),
        "configs": [config.name for config in run.configs],
        "summary": {name: {t: asdict(a) for t, a in by_type.items()} for name, by_type in run.summaries().items()},
        "results": [
            {
                "config": r.config,
                "id": r.question.id,
                "type": r.question.type,
                "question": r.question.question,
                "answerable": r.question.answerable,
                "reference_answer": r.question.reference_answer,
                "key_facts": list(r.question.key_facts),
                "gold": [asdict(g) for g in r.question.gold],
                "failure": is_failure(r.score),
                "metrics": asdict(r.score),
                "answer": answer_to_dict(r.answer),
                "checks": [asdict(check) for check in r.answer.checks],
            }
            for r in run.runs
        ],
    }


# -- charts ---------------------------------------------------------------------------------------


def write_charts(run: EvalRun, out: Path) -> list[Path]:
    """One grouped bar chart per metric (types x configurations) and one for refusals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summaries = run.summaries()
    names = [config.name for config in run.configs]
    written = []
    for field, title, filename in CHARTS:
        types = [t for t in dict.fromkeys(t for n in names for t in summaries[n]) if _any_value(summaries, names, t, field)]
        series = {n: [_value(summaries[n].get(t), field) for t in types] for n in names}
        written.append(_grouped_bars(plt, out / filename, title, types, series))
    refusal_series = {
        "refusal accuracy (unanswerable)": [_value(summaries[n][OVERALL], "refusal_accuracy") for n in names],
        "false refusal rate (answerable)": [_value(summaries[n][OVERALL], "false_refusal_rate") for n in names],
    }
    written.append(_grouped_bars(plt, out / REFUSAL_CHART, "refusals", names, refusal_series))
    return written


def _grouped_bars(plt, path: Path, title: str, groups: list[str], series: dict[str, list[float]]) -> Path:
    figure, axes = plt.subplots(figsize=(max(6.0, 1.2 * len(groups) * max(1, len(series)) / 2 + 3), 4.2))
    width = 0.8 / max(1, len(series))
    for index, (label, values) in enumerate(series.items()):
        positions = [g + (index - (len(series) - 1) / 2) * width for g in range(len(groups))]
        bars = axes.bar(positions, values, width, label=label)
        axes.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=7, padding=1)
    axes.set_xticks(range(len(groups)), groups, rotation=20, ha="right")
    axes.set_ylim(0, 1.1)
    axes.set_ylabel(title)
    axes.set_title(title)
    axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=min(4, max(1, len(series))), frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _value(aggregate: Aggregate | None, field: str) -> float:
    value = getattr(aggregate, field) if aggregate else None
    return float(value) if value is not None else 0.0


def _any_value(summaries: dict, names: list[str], question_type: str, field: str) -> bool:
    return any(summaries[n].get(question_type) and getattr(summaries[n][question_type], field) is not None for n in names)


# -- stdout ---------------------------------------------------------------------------------------


def print_summary(run: EvalRun) -> None:
    """The overall table and the per-type comparison on stdout, as plain Markdown (fits logs and pipes)."""
    summaries = run.summaries()
    print("\n".join(_table(["config"], [(c.name, summaries[c.name][OVERALL]) for c in run.configs])))
    print()
    if len(run.configs) > 1:
        print("\n".join(_comparison_table(run)))
    else:
        name = run.configs[0].name
        print("\n".join(_table(["type"], list(summaries[name].items()))))


__all__ = ["failure_category", "failure_reason", "format_value", "print_summary", "render_markdown", "results_document", "write_charts", "write_report"]
