"""Questions written by the bundled local LLM (Qwen2.5-Coder-1.5B), one per passage, checked automatically.

Two steps, so the slow one runs once and its output is data:
1. `run` (slow: 15-100 s a prompt on 2 shared cores): for one factual sentence of each bulletin item
   and two of each report paragraph, in a hash order so that any prefix is a fair sample, ask the model
   for a question and a short answer; append the raw output to a JSONL file (resumable: sentences
   already there are skipped). Sentences, not whole items, keep the prompt short enough to run here.
2. `accept` (instant, pure): keep a raw output only when the answer is a short phrase found verbatim in
   the sentence, the quote (the sentence) is verbatim in the item and in the file and points at that
   item only, the question names its item (a distinctive word of the title), does not give the answer
   away, does not lean on a context the reader lacks ("本文", "该活动"), and reads as a question.
   Everything else is dropped with its reason.

    nice -n 10 .venv/bin/python -m eval.generate.llm_questions --out eval/generate/llm_raw.jsonl [--limit N]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from eval.generate.corpus import Corpus, CorpusItem, day_label, load_corpus, month_label, sentences, squash, stable_hash

SYSTEM = "你是记者，根据政府文件里的一句话出一道问答题。只输出 JSON，不要解释。"
# One worked example (made up, not from the corpus) teaches the format and a question that names its event.
PROMPT = """请就句子提一个具体问题：答案是句子里的一个短语（数字、日期、人名或名称，15字以内）；问题要写明是哪件事，但不能包含答案。
示例——
标题：洛阳市新建5座城市书房
日期：3月2日
句子：3月2日，洛阳市在老城区新建5座城市书房，总面积1200平方米
输出：{{"question": "2023年3月洛阳在老城区新建了几座城市书房？", "answer": "5座"}}
现在——
标题：{title}
日期：{date}
句子：{passage}
输出："""
PROMPT_VERSION = 2
MAX_TOKENS = 80
MIN_ITEM_CHARS = 60
MIN_SENTENCE_CHARS = 16
MAX_SENTENCE_CHARS = 160
# A report paragraph gets this many of its sentences asked about, a bulletin item one.
REPORT_PASSAGES = 2
ANSWER_MAX_CHARS = 20
# Phrasings that only make sense next to the passage (the reader of a shared index lacks it).
_CONTEXT_BOUND = re.compile(r"本文|文中|原文|这句|这段|该段|上文|以上|此次活动|该活动|该会议|该项目|这条|本条")
_QUESTION_END = re.compile(r"[？?]$")
_JSON_OBJECT = re.compile(r"\{.*?\}", re.S)
# A sentence worth a question states something checkable: a figure, a quoted name, a person's title.
_FACTFUL = re.compile(r"\d|“[^”]{2,}”|《[^》]{2,}》|书记|市长|局长|主任|董事长|总裁|院长")


@dataclass(frozen=True)
class Passage:
    key: str
    item: CorpusItem
    text: str


def passages(corpus: Corpus) -> list[Passage]:
    """One factual sentence of every bulletin item (long enough to ask about) and up to two of each
    report paragraph, in the order of a hash of their key, so that any prefix of the run is spread
    over the corpus."""
    chosen: list[Passage] = []
    for item in corpus.items:
        if len(item.text) < MIN_ITEM_CHARS or item.section.endswith("名词解释"):
            continue
        candidates = [
            (index, sentence) for index, sentence in enumerate(sentences(item.text))
            if MIN_SENTENCE_CHARS <= len(sentence) <= MAX_SENTENCE_CHARS and _FACTFUL.search(sentence)
        ]
        wanted = REPORT_PASSAGES if item.kind == "report" else 1
        ranked = sorted(candidates, key=lambda pair: stable_hash(f"{item.key}#{pair[0]}"))[:wanted]
        for index, sentence in sorted(ranked):
            chosen.append(Passage(f"{item.key}#{index}", item, sentence))
    return sorted(chosen, key=lambda p: stable_hash(p.key))


def prompt_for(passage: Passage) -> str:
    item = passage.item
    date = day_label(item.date) if item.date else (month_label(item.period) if item.kind == "bulletin" else "—")
    return PROMPT.format(title=item.title, date=date, passage=passage.text)


def run(corpus: Corpus, out: Path, settings=None, limit: int | None = None, log=print) -> int:
    """Ask the local model about every passage not yet in `out`; returns how many were asked."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from rag.llm_local import make_local_chat
    from rag.settings import Settings

    settings = settings or Settings()
    done = {record["key"] for record in read_raw(out)}
    todo = [p for p in passages(corpus) if p.key not in done][:limit]
    if not todo:
        return 0
    chat = make_local_chat(settings).model_copy(update={"max_tokens": MAX_TOKENS, "temperature": 0.0})
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as sink:
        for n, passage in enumerate(todo, start=1):
            started = time.perf_counter()
            reply = chat.invoke([SystemMessage(SYSTEM), HumanMessage(prompt_for(passage))])
            record = {
                "key": passage.key,
                "file": passage.item.file,
                "title": passage.item.title,
                "passage": passage.text,
                "output": str(reply.content),
                "prompt_version": PROMPT_VERSION,
                "seconds": round(time.perf_counter() - started, 1),
            }
            sink.write(json.dumps(record, ensure_ascii=False) + "\n")
            sink.flush()
            log(f"[{n}/{len(todo)}] {record['seconds']} s {passage.item.title[:30]}")
    return len(todo)


def read_raw(path: Path) -> list[dict]:
    """The raw outputs of the current prompt (older prompts' outputs stay in the file, unused)."""
    if not path.is_file():
        return []
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in records if r.get("prompt_version") == PROMPT_VERSION]


@dataclass(frozen=True)
class Verdict:
    key: str
    question: dict | None  # an eval-set record without id/provenance, or None when rejected
    reason: str  # why it was rejected ("" when accepted)


def accept(raw: dict, corpus: Corpus) -> Verdict:
    """Check one raw model output against its passage, item and file (see the module doc)."""
    key = raw["key"]
    item = next((i for i in corpus.items_of(raw["file"]) if key.startswith(i.key)), None)
    if item is None:
        return Verdict(key, None, "item no longer in the corpus")
    fields = _parse_output(raw["output"])
    if fields is None:
        return Verdict(key, None, "output is not the JSON asked for")
    question, answer, quote = (fields.get(name, "").strip() for name in ("question", "answer", "quote"))
    if not question or not answer:
        return Verdict(key, None, "question or answer missing")
    problem = _question_problem(question, answer) or _names_no_item(question, item, raw["passage"])
    if problem:
        return Verdict(key, None, problem)
    if len(squash(answer)) > ANSWER_MAX_CHARS:
        return Verdict(key, None, "answer too long to be a key fact")
    if len(squash(answer)) < 2:
        return Verdict(key, None, "answer too short to be a key fact")
    if _foreign_dates(question, item):
        return Verdict(key, None, "question names a year or month its item does not")
    passage = raw["passage"]
    if squash(answer) not in squash(passage):
        return Verdict(key, None, "answer not in the passage")
    quote = _checked_quote(quote, answer, passage, item, corpus)
    if not quote:
        return Verdict(key, None, "no verbatim quote holds the answer")
    question = _with_period(question, item)
    record = {
        "type": _question_type(item, answer),
        "question": question,
        "period": item.period if item.kind == "bulletin" else item.period,
        "reference_answer": quote + "。",
        "key_facts": [answer],
        "gold": [{"file": item.file, "title": item.title, "quote": quote}],
        "answerable": True,
    }
    return Verdict(key, record, "")


def accepted(raws: Iterable[dict], corpus: Corpus) -> tuple[list[dict], dict[str, int]]:
    """The accepted records (one per passage, first output wins) and the count of each rejection reason."""
    records, reasons = [], {}
    seen_questions: set[str] = set()
    for raw in raws:
        verdict = accept(raw, corpus)
        if verdict.question is None:
            reasons[verdict.reason] = reasons.get(verdict.reason, 0) + 1
            continue
        if squash(verdict.question["question"]) in seen_questions:
            reasons["duplicate question"] = reasons.get("duplicate question", 0) + 1
            continue
        seen_questions.add(squash(verdict.question["question"]))
        records.append({"source_key": verdict.key, **verdict.question})
    return records, reasons


def _parse_output(text: str) -> dict | None:
    for match in _JSON_OBJECT.finditer(text):
        try:
            value = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            return value
    return None


def _question_problem(question: str, answer: str) -> str:
    if not _QUESTION_END.search(question):
        return "not a question"
    if not 8 <= len(question) <= 80:
        return "question too short or too long"
    if _CONTEXT_BOUND.search(question):
        return "question leans on the passage as context"
    if squash(answer) in squash(question):
        return "question gives the answer away"
    if _shared_run(squash(answer), squash(question)) * 2 >= len(squash(answer)):
        return "answer repeats the question"
    return ""


def _foreign_dates(question: str, item: CorpusItem) -> bool:
    """The model sometimes puts the wrong year or month in a question, which makes it unanswerable:
    every year and month it names must be the document's own or appear in the item."""
    text = squash(item.text)
    years = set(re.findall(r"(\d{4})\s*年", question))
    months = {int(m) for m in re.findall(r"(?<!\d)(\d{1,2})\s*月", question)}
    own_year, own_month = item.period[:4], int(item.period[5:7]) if len(item.period) >= 7 else None
    foreign_year = any(y != own_year and f"{y}年" not in text for y in years)
    foreign_month = any(m != own_month and f"{m}月" not in text for m in months)
    return foreign_year or foreign_month


def _shared_run(a: str, b: str) -> int:
    """Length of the longest run of characters a and b share."""
    import difflib

    match = difflib.SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
    return match.size


# Title words too common to tell one item from another.
_GENERIC_WORDS = frozenset("洛阳 洛阳市 我市 全市 召开 举行 会议 工作 调研 开展 推进 研究 来洛 在洛 获得 成功 活动".split())


def _names_no_item(question: str, item: CorpusItem, passage: str) -> str:
    """A question must name its item: share a distinctive word of a bulletin item's title, or a word
    of at least three characters of a report sentence (report "titles" are truncated first sentences)."""
    from ingest.textutil import words

    if item.kind == "report":
        distinctive = [w for w in words(passage) if len(w) >= 3 and w not in _GENERIC_WORDS]
    else:
        distinctive = [w for w in words(item.title) if len(w) >= 2 and w not in _GENERIC_WORDS]
    if any(w in question for w in distinctive):
        return ""
    return "question does not name its item"


def _checked_quote(quote: str, answer: str, passage: str, item: CorpusItem, corpus: Corpus) -> str:
    """The model's quote when it is verbatim and holds the answer, else the item's sentence that does."""
    candidates = [quote.rstrip("。；;")] if quote else []
    candidates += [s for s in sentences(passage) if squash(answer) in squash(s)]
    for candidate in candidates:
        if (
            len(squash(candidate)) >= 8
            and squash(answer) in squash(candidate)
            and squash(candidate) in squash(item.text)
            and corpus.in_file(item.file, candidate)
            and len(corpus.holders(item.file, candidate)) == 1
        ):
            return candidate
    return ""


def _with_period(question: str, item: CorpusItem) -> str:
    """A question that does not say where it comes from gets it in front (the model often omits it): a
    bulletin question without a year or month its month, a report question without 报告 its report."""
    if item.kind == "report":
        return question if "报告" in question else f"{report_label(item)}中，{question}"
    if re.search(r"\d{4}\s*年|\d{1,2}\s*月", question):
        return question
    return f"{month_label(item.period)}，{question}"


def report_label(item: CorpusItem) -> str:
    """'洛阳市涧西区政府工作报告（2022年4月23日，王烨）' -> '洛阳市涧西区2022年政府工作报告'."""
    name = item.doc_title.split("（", 1)[0]
    year = item.period[:4]
    return name.replace("政府工作报告", f"{year}年政府工作报告") if year else name


def _question_type(item: CorpusItem, answer: str) -> str:
    if item.kind == "report":
        return "report"
    if re.fullmatch(r"\d{1,2}月\d{1,2}日(至\d{1,2}日)?", squash(answer)):
        return "temporal"
    return "numeric" if re.search(r"\d", answer) else "factoid"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    parser.add_argument("--out", type=Path, default=Path("eval/generate/llm_raw.jsonl"))
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    corpus = load_corpus(args.corpus)
    asked = run(corpus, args.out, limit=args.limit, log=lambda line: print(line, file=sys.stderr, flush=True))
    records, reasons = accepted(read_raw(args.out), corpus)
    print(f"asked {asked}; {len(records)} accepted; rejected: {reasons}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
