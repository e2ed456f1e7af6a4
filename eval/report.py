"""Write evaluation runs for people: report.md (sets side by side, tables, failures), results.json, PNG charts.

Rendering only: every number comes from eval.harness (score_answer / aggregate) or eval.outside
(score_outside), nothing is recomputed here beyond grouping scores (by type, provenance, kind).
A sealed run (the test set) shows its figures but not its questions: its per-question results go to
`<out>/sealed/<set>.json`, which is not committed, so nobody tunes on test failures.
Charts use English labels because no CJK font is installed on a typical server.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from eval.harness import K, OVERALL, Aggregate, EvalRun, QuestionRun, QuestionScore, aggregate, is_failure
from rag.serialize import answer_to_dict

# (Aggregate field, column header) in the order the tables show them.
QA_COLUMNS = (
    ("questions", "n"),
    ("hit_at_k", f"hit@{K}"),
    ("recall_at_k", f"recall@{K}"),
    ("mrr", f"MRR@{K}"),
    ("key_fact_recall", "key facts"),
    ("gold_completeness", "complete (gold)"),
    ("answer_completeness", "complete (own)"),
    ("citation_precision", "cite P"),
    ("gold_citation_precision", "cite P gold"),
    ("citation_recall", "cite R"),
    ("faithfulness", "faithful"),
    ("refusal_accuracy", "refusal acc"),
    ("false_refusal_rate", "false refusal"),
    ("summary_coverage", "summary cov"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
    ("errors", "errors"),
)
OUTSIDE_COLUMNS = (
    ("questions", "n"),
    ("hit_at_1", "hit@1"),
    ("hit_at_k", f"hit@{K}"),
    ("recall_at_k", f"recall@{K}"),
    ("mrr", f"MRR@{K}"),
    ("answer_accuracy", "answer acc"),
    ("key_fact_recall", "answer (canonical)"),
    ("false_refusal_rate", "false refusal"),
    ("refusal_accuracy", "refusal acc"),
    ("faithfulness", "faithful"),
    ("answer_completeness", "complete (own)"),
    ("latency_p50_ms", "p50 ms"),
    ("errors", "errors"),
)
# The side-by-side tables of our sets show these, each for every set.
SIDE_BY_SIDE = (
    ("hit_at_k", f"hit@{K}"),
    ("recall_at_k", f"recall@{K}"),
    ("key_fact_recall", "key facts"),
    ("gold_completeness", "complete (gold)"),
    ("faithfulness", "faithful"),
    ("refusal_accuracy", "refusal acc"),
    ("false_refusal_rate", "false refusal"),
)
PER_TYPE = (("key_fact_recall", "key facts"), ("hit_at_k", f"hit@{K}"), ("false_refusal_rate", "false refusal"))
CHARTS = (
    ("key_fact_recall", "key-fact recall", "chart_key_fact_recall.png"),
    ("hit_at_k", f"hit@{K}", "chart_hit_at_5.png"),
    ("faithfulness", "faithfulness (supported sentences)", "chart_faithfulness.png"),
)
REFUSAL_CHART = "chart_refusal.png"
OUTSIDE_CHART = "chart_outside.png"
FAILURES_SHOWN = 60
_ANSWER_CHARS = 600

METRIC_NOTES = f"""- **hit@{K} / recall@{K} / MRR@{K}**: gold items among the first {K} retrieved units (heluo: parsed items;
  naive: raw 500-character chunks holding the gold quote or half of it). Not applicable (—) to heluo's
  month digests, which read every item of the month instead of a top-{K}.
- **key facts**: share of the question's key facts found in the answer, both in the verifier's canonical
  form (第十三次 ≡ 第13次, full-width digits and spaces folded; no synonyms).
- **complete (gold)**: questions whose gold is every matching item of a period (lists): share of those items
  the answer cites. **complete (own)**: the answer's own `Answer.completeness` (share of the retrieved
  answering items it cites), when the generator measures it.
- **cite P / cite P gold / cite R**: cited units that are gold or that a verified-supported sentence cites /
  cited units that are gold / gold items cited (answerable questions only).
- **faithful**: share of answer sentences the verifier (rag.verify) found supported by what they cite.
- **refusal acc**: unanswerable questions refused; **false refusal**: answerable questions refused.
- **summary cov**: month summaries only: gold item titles among the cited titles or named in the answer.
- Outside sets (CRUD-RAG rules): **answer acc**: the answer string, whitespace removed, is in the answer;
  a gold file counts as retrieved when a retrieved text shares a run of min(len, 24) characters with it.
- Means are over the questions where a metric applies; — means it applied to none."""


def write_report(runs: Sequence[EvalRun], out: Path, set_paths: Sequence[Path] | None = None) -> list[Path]:
    """report.md, results.json, the charts and the sealed sets' details under `out`; returns the written paths."""
    runs = list(runs)
    out.mkdir(parents=True, exist_ok=True)
    charts = write_charts(runs, out)
    report = out / "report.md"
    report.write_text(render_markdown(runs, set_paths, [path.name for path in charts]), encoding="utf-8")
    results = out / "results.json"
    results.write_text(json.dumps(results_document(runs, set_paths), ensure_ascii=False, indent=1), encoding="utf-8")
    written = [report, results, *charts]
    for run in runs:
        if run.sealed:
            path = out / "sealed" / f"{_slug(run.name)}.json"
            path.parent.mkdir(exist_ok=True)
            path.write_text(json.dumps(_run_document(run, with_questions=True), ensure_ascii=False, indent=1), encoding="utf-8")
            written.append(path)
    return written


# -- Markdown -------------------------------------------------------------------------------------


def render_markdown(runs: Sequence[EvalRun], set_paths: Sequence[Path] | None = None, charts: Sequence[str] | None = None) -> str:
    runs = list(runs)
    qa = [run for run in runs if run.kind == "qa"]
    outside = [run for run in runs if run.kind == "outside"]
    names = list(dict.fromkeys(config.name for run in runs for config in run.configs))
    sets = ", ".join(f"`{run.name}` ({len({r.question.id for r in run.runs})} questions)" for run in runs)
    lines = [
        "# 河洛问答评测报告 (heluo evaluation)",
        "",
        f"{datetime.now():%Y-%m-%d %H:%M} · sets: {sets} · configurations: " + ", ".join(f"`{n}`" for n in names),
        "",
    ]
    if set_paths:
        lines += ["Set files: " + ", ".join(f"`{path}`" for path in set_paths), ""]
    if qa:
        lines += _qa_sections(qa)
    for run in outside:
        lines += _outside_section(run)
    lines += ["## Metrics", "", METRIC_NOTES, ""]
    for run in runs:
        columns = QA_COLUMNS if run.kind == "qa" else OUTSIDE_COLUMNS
        for config in run.configs:
            rows = list(run.summaries()[config.name].items())
            lines += [f"## `{run.name}` · `{config.name}` by {'question type' if run.kind == 'qa' else 'set'}", "", *_table(["type"], rows, columns), ""]
    for chart in charts or []:
        lines += [f"![{chart}]({chart})", ""]
    for run in runs:
        if run.sealed:
            lines += [f"## Failures of `{run.name}`", "", f"Sealed: per-question results are in `sealed/{_slug(run.name)}.json`, not in this report.", ""]
            continue
        for config in run.configs:
            lines += _failures(run, config.name)
    return "\n".join(lines).rstrip() + "\n"


def _qa_sections(runs: list[EvalRun]) -> list[str]:
    names = list(dict.fromkeys(config.name for run in runs for config in run.configs))
    label = " | ".join(run.name for run in runs)
    lines = [f"## Our sets side by side ({label})", ""]
    header = ["config", *(f"n {run.name}" for run in runs), *(f"{title}<br>{run.name}" for _f, title in SIDE_BY_SIDE for run in runs)]
    lines += _header(header)
    for name in names:
        cells = [name, *(str(_overall(run, name).questions) if _overall(run, name) else "—" for run in runs)]
        for field, _title in SIDE_BY_SIDE:
            cells += [_cell(_overall(run, name), field) for run in runs]
        lines.append(_row(cells))
    lines.append("")
    for field, title in PER_TYPE:
        lines += [f"### {title} per question type ({label})", "", *_grouped_table(runs, "type", lambda q: q.type, field), ""]
    lines += [f"### refusal accuracy per unanswerable kind ({label})", "",
              *_grouped_table(runs, "kind", lambda q: q.unanswerable_kind or "(untagged)", "refusal_accuracy", answerable=False), ""]
    for field, title in (("key_fact_recall", "key facts"), ("false_refusal_rate", "false refusal"), ("refusal_accuracy", "refusal acc")):
        lines += [f"### {title} per provenance ({label})", "", *_grouped_table(runs, "provenance", lambda q: q.provenance or "(none)", field), ""]
    return lines


def _grouped_table(runs: list[EvalRun], label: str, key: Callable, field: str, answerable: bool | None = None) -> list[str]:
    """Rows: the groups `key` makes of the questions; columns: every configuration on every set."""
    columns = [(run, config.name) for config_name in dict.fromkeys(c.name for run in runs for c in run.configs)
               for run in runs for config in run.configs if config.name == config_name]
    groups = list(dict.fromkeys(key(r.question) for run in runs for r in run.runs
                                if answerable is None or r.question.answerable == answerable))
    lines = _header([label, *(f"{name}<br>{run.name}" for run, name in columns)])
    for group in groups:
        cells = [group]
        for run, name in columns:
            scores = [r.score for r in run.for_config(name) if key(r.question) == group
                      and (answerable is None or r.question.answerable == answerable)]
            cells.append(_cell(aggregate(scores), field) + f" ({len(scores)})" if scores else "—")
        lines.append(_row(cells))
    return lines


def _outside_section(run: EvalRun) -> list[str]:
    names = [config.name for config in run.configs]
    summaries = run.summaries()
    lines = [f"## Outside set `{run.name}`", ""]
    if run.note:
        lines += [run.note, ""]
    lines += _table(["config"], [(name, summaries[name][OVERALL]) for name in names], OUTSIDE_COLUMNS)
    lines.append("")
    fields = (("hit_at_1", "hit@1"), ("hit_at_k", f"hit@{K}"), ("answer_accuracy", "answer acc"), ("false_refusal_rate", "false refusal"), ("refusal_accuracy", "refusal acc"))
    shown = [(f, t) for f, t in fields if any(getattr(summaries[n][OVERALL], f) is not None for n in names)]
    sets = [t for t in summaries[names[0]] if t != OVERALL]
    lines += [f"### `{run.name}` per set", "", *_header(["set", *(f"{title}<br>{name}" for _f, title in shown for name in names)])]
    for set_name in sets:
        cells = [set_name] + [_cell(summaries[name].get(set_name), field) for field, _t in shown for name in names]
        lines.append(_row(cells))
    return lines + [""]


def _overall(run: EvalRun, config_name: str) -> Aggregate | None:
    scores = [r.score for r in run.for_config(config_name)]
    return aggregate(scores) if scores else None


def _table(label: list[str], rows: list[tuple[str, Aggregate]], columns=QA_COLUMNS) -> list[str]:
    lines = _header([*label, *(title for _field, title in columns)])
    for name, agg in rows:
        lines.append(_row([name, *(format_value(field, getattr(agg, field)) for field, _title in columns)]))
    return lines


def _header(cells: list[str]) -> list[str]:
    return [_row(cells), "|" + "---|" * len(cells)]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _cell(agg: Aggregate | None, field: str) -> str:
    return format_value(field, getattr(agg, field)) if agg else "—"


def _failures(run: EvalRun, name: str) -> list[str]:
    runs = run.for_config(name)
    failed = [r for r in runs if is_failure(r.score)]
    lines = [f"## Failures of `{name}` on `{run.name}` ({len(failed)} of {len(runs)})", ""]
    if not failed:
        return lines + ["None.", ""]
    categories = Counter(failure_category(r) for r in failed)
    lines += [
        "Answerable questions with key-fact recall below 0.5 or a false refusal; unanswerable ones answered; errors.",
        "",
        "By cause: " + ", ".join(f"{category} {count}" for category, count in categories.most_common()),
        "",
    ]
    if len(failed) > FAILURES_SHOWN:
        lines += [f"The first {FAILURES_SHOWN} are shown; results.json has all.", ""]
    for r in failed[:FAILURES_SHOWN]:
        score, question = r.score, r.question
        tags = f" · {question.provenance}" if question.provenance else ""
        kind = f" · {question.unanswerable_kind}" if question.unanswerable_kind else ""
        lines.append(f"### {question.id} · {question.type}{tags}{kind} · {failure_reason(r)}")
        lines.append("")
        lines.append(f"- **问题** {question.question}")
        if question.answerable:
            lines.append(f"- **关键事实** {'、'.join(question.key_facts)}")
            lines.append(f"- **参考答案** {question.reference_answer}")
        retrieved = "; ".join(f"{hit.item.title[:30]} ({hit.item.file[:12]})" for hit in r.answer.retrieved[:K])
        lines.append(f"- **检索到** {retrieved or '—'}")
        lines.append("")
        text = r.answer.text.strip() or score.error or "(空)"
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


def results_document(runs: Sequence[EvalRun], set_paths: Sequence[Path] | None = None) -> dict:
    return {
        "created": datetime.now().isoformat(timespec="seconds"),
        "set_files": [str(path) for path in set_paths or []],
        "sets": [_run_document(run, with_questions=not run.sealed) for run in runs],
    }


def _run_document(run: EvalRun, with_questions: bool) -> dict:
    document = {
        "name": run.name,
        "kind": run.kind,
        "sealed": run.sealed,
        "note": run.note,
        "configs": [config.name for config in run.configs],
        "summary": {name: {t: asdict(a) for t, a in by_type.items()} for name, by_type in run.summaries().items()},
        "by_provenance": _grouped_summary(run, lambda r: r.question.provenance or "(none)"),
        "by_kind": _grouped_summary(run, lambda r: r.question.unanswerable_kind, answerable=False),
    }
    if with_questions:
        document["results"] = [_result(r) for r in run.runs]
    return document


def _grouped_summary(run: EvalRun, key: Callable[[QuestionRun], str], answerable: bool | None = None) -> dict:
    out: dict[str, dict] = {}
    for config in run.configs:
        groups: dict[str, list[QuestionScore]] = {}
        for r in run.for_config(config.name):
            if answerable is None or r.question.answerable == answerable:
                groups.setdefault(key(r), []).append(r.score)
        out[config.name] = {group: asdict(aggregate(scores)) for group, scores in groups.items() if group}
    return out


def _result(r: QuestionRun) -> dict:
    return {
        "config": r.config,
        "id": r.question.id,
        "type": r.question.type,
        "provenance": r.question.provenance,
        "unanswerable_kind": r.question.unanswerable_kind,
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


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name).strip("-") or "set"


# -- charts ---------------------------------------------------------------------------------------


def write_charts(runs: Sequence[EvalRun], out: Path) -> list[Path]:
    """Per metric, grouped bars of question types x (configuration, set) for our sets; refusals; the
    outside sets' retrieval and answer accuracy per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    qa = [run for run in runs if run.kind == "qa"]
    written = []
    if qa:
        series_keys = [(run, config.name) for run in qa for config in run.configs]
        summaries = {id(run): run.summaries() for run in qa}
        for field, title, filename in CHARTS:
            types = list(dict.fromkeys(t for run in qa for by_type in summaries[id(run)].values() for t in by_type))
            types = [t for t in types if any(_value(summaries[id(run)][name].get(t), field, None) is not None for run, name in series_keys)]
            series = {f"{name} {run.name}": [_value(summaries[id(run)][name].get(t), field) for t in types] for run, name in series_keys}
            written.append(_grouped_bars(plt, out / filename, title, types, series))
        refusal_series = {
            "refusal accuracy (unanswerable)": [_value(summaries[id(run)][name][OVERALL], "refusal_accuracy") for run, name in series_keys],
            "false refusal rate (answerable)": [_value(summaries[id(run)][name][OVERALL], "false_refusal_rate") for run, name in series_keys],
        }
        written.append(_grouped_bars(plt, out / REFUSAL_CHART, "refusals", [f"{n} {r.name}" for r, n in series_keys], refusal_series))
    outside = [run for run in runs if run.kind == "outside"]
    if outside:
        keys = [(run, config.name) for run in outside for config in run.configs]
        fields = (("hit_at_1", "hit@1"), ("hit_at_k", f"hit@{K}"), ("answer_accuracy", "answer accuracy"), ("refusal_accuracy", "refusal accuracy"))
        series = {title: [_value(run.summaries()[name][OVERALL], field) for run, name in keys] for field, title in fields}
        written.append(_grouped_bars(plt, out / OUTSIDE_CHART, "outside sets", [f"{n} {r.name[:24]}" for r, n in keys], series))
    return written


def _grouped_bars(plt, path: Path, title: str, groups: list[str], series: dict[str, list[float]]) -> Path:
    figure, axes = plt.subplots(figsize=(max(6.0, 1.2 * len(groups) * max(1, len(series)) / 2 + 3), 4.2))
    width = 0.8 / max(1, len(series))
    for index, (label, values) in enumerate(series.items()):
        positions = [g + (index - (len(series) - 1) / 2) * width for g in range(len(groups))]
        bars = axes.bar(positions, values, width, label=label)
        axes.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=6, padding=1)
    axes.set_xticks(range(len(groups)), groups, rotation=20, ha="right")
    axes.set_ylim(0, 1.1)
    axes.set_ylabel(title)
    axes.set_title(title)
    axes.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=min(4, max(1, len(series))), frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _value(agg: Aggregate | None, field: str, missing: float | None = 0.0) -> float | None:
    value = getattr(agg, field) if agg else None
    return float(value) if value is not None else missing


# -- stdout ---------------------------------------------------------------------------------------


def print_summary(runs: Sequence[EvalRun]) -> None:
    """The side-by-side table of our sets and each outside set's overall table, as plain Markdown."""
    runs = list(runs)
    qa = [run for run in runs if run.kind == "qa"]
    if qa:
        print("\n".join(_qa_sections(qa)[: 4 + len({c.name for r in qa for c in r.configs})]))
        print()
        print("\n".join(_grouped_table(qa, "type", lambda q: q.type, "key_fact_recall")))
        print()
    for run in runs:
        if run.kind == "outside":
            print("\n".join(_outside_section(run)))


__all__ = [
    "failure_category",
    "failure_reason",
    "format_value",
    "print_summary",
    "render_markdown",
    "results_document",
    "write_charts",
    "write_report",
]
