"""Outside question sets: a folder holding `corpus/` and `questions.jsonl`, such as the CRUD-RAG sample.

    questions.jsonl: {"qid": "1doc:…:0", "set": "1doc", "question": "…", "answer": "…", "gold_files": ["news-00854.txt"]}

Every question is answerable from its gold files. Scoring follows the set's README (CRUD-RAG's rules):
- answer accuracy: the answer string, whitespace removed, is a substring of the answer;
- a gold file is found when a retrieved text and the file share a run of min(len, 24) characters
  (whitespace removed); hit@1 / hit@5 / recall@5 over the gold files, per `set` (1doc/2docs/3docs);
- a refusal is a false refusal.

The folder's corpus gets its own index under HELUO_HOME/sets/<name>-<hash of its path>/ (the
embedding cache is the shared, content-hash keyed one), so a second run with an unchanged corpus only
re-reads it. The refusal variant (`without_gold`) asks the same questions over the corpus without any
question's gold files, in its own index: every answer must then be a refusal ("passages on the topic,
none answers", on documents nobody tuned for). Questions whose answer string still occurs in a
remaining file are left out of it and counted.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from eval import metrics
from eval.dataset import EvalQuestion, GoldItem
from eval.harness import Config, EvalRun, QuestionScore, System, question_score, run_eval
from rag.records import Answer
from rag.settings import Settings

QUESTIONS = "questions.jsonl"
CORPUS = "corpus"
K = 5
_FIELDS = ("qid", "set", "question", "answer", "gold_files")
_SUFFIXES = (".txt", ".md")


@dataclass(frozen=True)
class OutsideQuestion:
    qid: str
    set: str
    question: str
    answer: str
    gold_files: tuple[str, ...]


@dataclass(frozen=True)
class OutsideSet:
    folder: Path
    questions: tuple[OutsideQuestion, ...]

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def corpus(self) -> Path:
        return self.folder / CORPUS

    def gold_files(self) -> set[str]:
        return {file for q in self.questions for file in q.gold_files}


def is_outside_set(path: Path | str) -> bool:
    path = Path(path)
    return path.is_dir() and (path / CORPUS).is_dir() and (path / QUESTIONS).is_file()


def load_outside_set(folder: Path | str) -> OutsideSet:
    """Read and validate questions.jsonl; the first problem raises ValueError naming the file and line."""
    folder = Path(folder)
    if not is_outside_set(folder):
        raise ValueError(f"{folder}: 不是外部问题集；a folder set holds {CORPUS}/ and {QUESTIONS}")
    path = folder / QUESTIONS
    corpus_files = {p.name for p in (folder / CORPUS).iterdir() if p.suffix in _SUFFIXES}
    questions: list[OutsideQuestion] = []
    seen: set[str] = set()
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            question = _parse(json.loads(line), corpus_files)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{line_no}: 不是合法的 JSON ({error.msg}); write one JSON object per line") from error
        except ValueError as error:
            raise ValueError(f"{path}:{line_no}: {error}") from error
        if question.qid in seen:
            raise ValueError(f"{path}:{line_no}: qid {question.qid!r} 重复; give every question its own qid")
        seen.add(question.qid)
        questions.append(question)
    if not questions:
        raise ValueError(f"{path}: 问题集为空; add at least one question")
    return OutsideSet(folder, tuple(questions))


def _parse(record, corpus_files: set[str]) -> OutsideQuestion:
    if not isinstance(record, dict):
        raise ValueError("each line must be a JSON object")
    missing = [name for name in _FIELDS if name not in record]
    if missing:
        raise ValueError(f"缺少字段 missing fields {missing}; every line needs {list(_FIELDS)}")
    for name in ("qid", "set", "question", "answer"):
        if not isinstance(record[name], str) or not record[name].strip():
            raise ValueError(f"field {name!r} must be a non-empty string, got {record[name]!r}")
    gold = record["gold_files"]
    if not isinstance(gold, list) or not gold or not all(isinstance(g, str) and g for g in gold):
        raise ValueError(f"{record['qid']}: gold_files must be a non-empty list of file names, got {gold!r}")
    unknown = sorted(set(gold) - corpus_files)
    if unknown:
        raise ValueError(f"{record['qid']}: gold files {unknown} are not in {CORPUS}/")
    return OutsideQuestion(record["qid"], record["set"], record["question"], record["answer"], tuple(gold))


def as_eval_question(question: OutsideQuestion, answerable: bool = True) -> EvalQuestion:
    """The harness's record: the set as type, the answer string as the one key fact, one gold per file."""
    gold = tuple(GoldItem(file, file, question.answer) for file in question.gold_files) if answerable else ()
    return EvalQuestion(
        id=question.qid,
        type=question.set,
        question=question.question,
        period="",
        reference_answer=question.answer,
        key_facts=(question.answer,) if answerable else (),
        gold=gold,
        answerable=answerable,
    )


def read_texts(corpus: Path) -> dict[str, str]:
    from ingest.decode import read_document

    return {p.name: read_document(p)[0] for p in sorted(corpus.iterdir()) if p.suffix in _SUFFIXES}


# -- scoring (pure) ---------------------------------------------------------------------------------


def found_ranks(retrieved_texts: Sequence[str], gold_files: Sequence[str], texts: Mapping[str, str]) -> list[int | None]:
    """For each gold file, the 1-based rank of the first retrieved text from it (shared 24-character run)."""
    ranks: list[int | None] = []
    for file in gold_files:
        rank = next((r for r, text in enumerate(retrieved_texts, start=1) if metrics.shares_run(text, texts[file])), None)
        ranks.append(rank)
    return ranks


def score_outside(question: EvalQuestion, answer: Answer, texts: Mapping[str, str], error: str = "") -> QuestionScore:
    answered = not answer.refused and not error
    values: dict[str, float | None] = {}
    if question.answerable:
        files = [g.file for g in question.gold]
        ranks = found_ranks([hit.item.text for hit in answer.retrieved[:K]], files, texts)
        found = [rank for rank in ranks if rank is not None]
        values["hit_at_1"] = 1.0 if 1 in found else 0.0
        values["hit_at_k"] = 1.0 if found else 0.0
        values["recall_at_k"] = len(found) / len(files)
        values["reciprocal_rank"] = 1.0 / min(found) if found else 0.0
        text = answer.text if answered else ""
        values["answer_accuracy"] = 1.0 if metrics.answer_contains(text, question.reference_answer) else 0.0
        values["key_fact_recall"] = metrics.key_fact_recall(text, question.key_facts)
    return question_score(question, answer, error, values)


# -- running ----------------------------------------------------------------------------------------


def set_home(settings: Settings, folder: Path, variant: str = "") -> Path:
    """Where a folder set's own index lives: one per folder path (and variant)."""
    key = hashlib.sha256(str(folder.resolve()).encode("utf-8")).hexdigest()[:8]
    return settings.home / "sets" / f"{folder.name}-{key}{'-' + variant if variant else ''}"


def set_settings(settings: Settings, corpus: Path, home: Path) -> Settings:
    """The same settings over another corpus and index; the embedding cache stays the shared one."""
    return settings.model_copy(update={"home": home, "corpus": corpus, "cache": settings.cache_dir})


def corpus_without(source: Path, target: Path, left_out: set[str]) -> Path:
    """Make `target` hold the files of `source` except `left_out` (copied only when changed)."""
    target.mkdir(parents=True, exist_ok=True)
    wanted = {p.name: p for p in source.iterdir() if p.suffix in _SUFFIXES and p.name not in left_out}
    for stale in [p for p in target.iterdir() if p.name not in wanted]:
        stale.unlink()
    for name, path in wanted.items():
        copy = target / name
        if not copy.exists() or copy.read_bytes() != path.read_bytes():
            shutil.copyfile(path, copy)
    return target


def refusal_questions(outside: OutsideSet, remaining: Mapping[str, str]) -> tuple[list[OutsideQuestion], int]:
    """The questions still unanswerable once the gold files are gone: (kept, left out because a
    remaining file also holds the answer string)."""
    squashed = [metrics.normalize(text) for text in remaining.values()]
    kept = [q for q in outside.questions if not any(metrics.normalize(q.answer) in text for text in squashed)]
    return kept, len(outside.questions) - len(kept)


def build_systems(settings: Settings, wanted: set[str], texts: Mapping[str, str], progress: Callable[[str], None] | None = None) -> dict[str, System]:
    """The systems over a folder's corpus (settings already point at it): heluo (ingested into its own
    home), the naive recipe, and BM25 over whole articles."""
    scorer = lambda question, answer, error: score_outside(question, answer, texts, error)  # noqa: E731
    systems: dict[str, System] = {}
    embedder = None
    if "heluo" in wanted:
        from ingest.index import ingest
        from rag.service import Assistant

        if progress:
            progress(f"ingest {settings.corpus}")
        report = ingest([settings.corpus], settings)
        if report.failed:
            raise ValueError(f"{settings.corpus}: {len(report.failed)} 个文件无法索引: {report.failed[:3]}")
        assistant = Assistant(settings)
        embedder = assistant.index.embedder
        systems["heluo"] = System(lambda question, llm: assistant.ask(question, llm=llm), scorer)
    if "naive" in wanted:
        from eval.naive import NaiveBaseline

        baseline = NaiveBaseline(settings, embedder=embedder)
        baseline.build()
        systems["naive"] = System(baseline.ask, scorer)
    if "bm25" in wanted:
        from eval.bm25_articles import ArticleBm25

        systems["bm25"] = System(ArticleBm25(texts).ask, scorer)
    return systems


def with_baseline(configs: Sequence[Config]) -> list[Config]:
    """A folder set always runs its own baseline, BM25 over whole articles, first."""
    return [Config("bm25", "extractive"), *(c for c in configs if c.system != "bm25")]


def run_outside(
    settings: Settings,
    outside: OutsideSet,
    configs: Sequence[Config],
    limit: int | None = None,
    progress: Callable[[str], None] | None = None,
    without_gold: bool = False,
) -> list[EvalRun]:
    """The set over its own corpus, and with `without_gold` the refusal variant; one EvalRun each."""
    configs = with_baseline(configs)
    wanted = {c.system for c in configs}
    home = set_home(settings, outside.folder)
    texts = read_texts(outside.corpus)
    systems = build_systems(set_settings(settings, outside.corpus, home), wanted, texts, progress)
    questions = [as_eval_question(q) for q in outside.questions[:limit]]
    runs = [run_eval(settings, questions, configs, progress, systems=systems, name=outside.name, kind="outside")]
    if without_gold:
        variant_home = set_home(settings, outside.folder, "without-gold")
        corpus = corpus_without(outside.corpus, variant_home / CORPUS, outside.gold_files())
        remaining = read_texts(corpus)
        kept, left_out = refusal_questions(outside, remaining)
        systems = build_systems(set_settings(settings, corpus, variant_home / "home"), wanted, remaining, progress)
        refusals = [as_eval_question(q, answerable=False) for q in kept[:limit]]
        run = run_eval(settings, refusals, configs, progress, systems=systems, name=f"{outside.name} without gold files", kind="outside")
        note = (f"{len(remaining)} articles: the corpus without the {len(outside.gold_files())} gold files; every answer must be a refusal. "
                f"{left_out} questions left out because a remaining article also holds their answer string.")
        runs.append(replace(run, note=note))
    return runs


__all__ = [
    "OutsideQuestion",
    "OutsideSet",
    "as_eval_question",
    "corpus_without",
    "found_ranks",
    "is_outside_set",
    "load_outside_set",
    "refusal_questions",
    "run_outside",
    "score_outside",
    "set_home",
]
