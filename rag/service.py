"""The assistant: one place that turns a question into a verified, cited Answer.

The CLI, the web UI and the evaluation harness all call `Assistant.ask_stream` / `ask` /
`summarize`, and render the structured Answer it returns.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from ingest.index import Index
from ingest.records import Document, Item
from ingest.textutil import normalize_spaces
from ingest.untrusted import without_flagged
from rag.digest import build_digest, month_label, outline_for_overview, render_digest
from rag.evidence import Evidence, QuestionTerms, assess, read_question
from rag.extractive import candidate_sentences, extractive_answer
from rag.prompting import ANSWER_PROMPT, REFUSAL, format_sources, pack_sources
from rag.query import Catalog, parse_query
from rag.records import Answer, Hit, Query
from rag.retrieve import Retriever
from rag.settings import Settings, get_settings
from rag.verify import verify_answer

# An item answers when its best window covers this weighted share of the question's terms.
MIN_EVIDENCE = 0.5
# The figure asked for must stand in an item about the topic itself (within this margin of the best
# item's coverage), not in one that merely shares the question's common words.
FIGURE_MARGIN = 0.1
# A list question over a period cites every item of the period covering this share of the terms and
# at least this share of what the best item covers, at most _MAX_LISTED of them.
MIN_LIST_EVIDENCE = 0.5
LIST_RELATIVE = 0.6
_MAX_LISTED = 30
# An LLM answer with fewer supported sentences than this is replaced by the extractive one: on the
# eval set, 18 of 84 answers of the bundled 1.5B model fell below it.
MIN_LLM_FIDELITY = 0.5
# "2022年洛阳市政府工作报告", "洛阳市涧西区2022年政府工作报告": a report named by the year it was
# delivered and the government giving it (written before or after the year).
_NAMED_REPORT = re.compile(
    r"(?P<before>(?:洛阳)?[\u4e00-\u9fff]{0,4}?[市区县])?(?P<year>\d{4})年的?(?P<after>(?:洛阳)?[\u4e00-\u9fff]{0,4}?[市区县])?(?:人民)?政府工作报告"
)
_LIST_K = 10
# Candidates retrieved for the evidence stage to rerank (per part of a multi-part question).
_EVIDENCE_POOL = 20
_ISO_MONTH = re.compile(r"^\d{4}-\d{2}")
_EXTRACTIVE_SOURCES = 3

SUMMARY_OVERVIEW_PROMPT = """下面是{label}洛阳政务信息的分栏目标题，每条前面的 [编号] 是资料编号。
请用3到5句话写一段概述，突出本月最重要的工作。每句话末尾用 [1]、[2] 这样的编号标注依据，只能使用这些标题中的内容，数字和日期必须与标题一致。

{digest}

概述："""


@dataclass(frozen=True)
class Delta:
    """A piece of streamed answer text."""

    text: str


@dataclass(frozen=True)
class Done:
    """The final, verified answer (its text may differ from the streamed one: citations repaired)."""

    answer: Answer


Event = Delta | Done


@dataclass(frozen=True)
class _Corpus:
    """The catalog's documents and what they cover, as of one catalog version."""

    version: int
    documents: list[Document]
    by_file: dict[str, Document]
    catalog: Catalog


class Assistant:
    def __init__(self, settings: Settings | None = None, chat_models: dict | None = None) -> None:
        self.settings = settings or get_settings()
        self.index = Index(self.settings)
        self.retriever = Retriever(self.index, self.settings.candidates, self.settings.reranker)
        self._chat_models = chat_models if chat_models is not None else {}
        self._corpus_cache: _Corpus | None = None

    # -- what the corpus covers ----------------------------------------------------------------
    def _corpus(self) -> _Corpus:
        """The indexed documents and what they cover, re-read only when the catalog's version moved
        (any process's write)."""
        version = self.index.catalog.version()
        cached = self._corpus_cache
        if cached is None or cached.version != version:
            documents = self.index.catalog.documents()
            other = {d.file for d in documents if d.kind not in ("bulletin", "report")}
            dated = {d.period[:7] for d in documents if d.file in other and _ISO_MONTH.match(d.period or "")}
            dated |= self.index.catalog.item_months(other)
            catalog = Catalog(
                bulletin_months=tuple(sorted(d.period for d in documents if d.kind == "bulletin" and d.period)),
                report_periods=tuple(sorted(d.period for d in documents if d.kind == "report" and d.period)),
                dated_months=tuple(sorted(dated)),
            )
            self._corpus_cache = cached = _Corpus(version, documents, {d.file: d for d in documents}, catalog)
        return cached

    @property
    def _documents(self) -> list[Document]:
        return self._corpus().documents

    @property
    def _documents_by_file(self) -> dict[str, Document]:
        return self._corpus().by_file

    @property
    def catalog(self) -> Catalog:
        """What the corpus covers: bulletin months, report dates, and the months of every other dated
        document and dated item (a notice, a news article)."""
        return self._corpus().catalog

    def warm_up(self) -> None:
        """Load what the first question would otherwise wait for: the index maps, and the local LLM."""
        self.retriever.warm_up()
        if self._resolve(None) == "local":
            model = self._chat_model("local")
            getattr(model, "load", lambda: None)()

    def months(self) -> list[str]:
        return list(self.catalog.bulletin_months)

    def refresh(self) -> None:
        """Catch up with the index now (after an upload or a delete); every question also checks its version."""
        self._corpus_cache = None
        self.retriever.refresh()

    # -- questions -----------------------------------------------------------------------------
    def ask(self, question: str, history: Sequence[tuple[str, str]] = (), llm: str | None = None, month: str | None = None, k: int | None = None) -> Answer:
        return _final(self.ask_stream(question, history, llm, month, k))

    def ask_stream(
        self, question: str, history: Sequence[tuple[str, str]] = (), llm: str | None = None, month: str | None = None, k: int | None = None
    ) -> Iterator[Event]:
        started = time.perf_counter()
        question = self._validate(question)
        if not self._documents:
            raise ValueError("索引为空：请先运行 `heluo ingest` 导入文档 (the index is empty: run `heluo ingest` first)")
        name = self._resolve(llm)
        query = self._understand(question, history, name)
        if month:
            query = _restrict_to_month(query, month)
        uncovered = self._uncovered_period(query) or self._missing_report(query.text)
        if uncovered:
            yield from self._emit(Answer(question, uncovered, True, name, query=query, notices=list(query.notes)), started)
            return
        if query.intent == "month_summary" and len(query.months) == 1:
            if query.months[0] in self.catalog.bulletin_months:
                yield from self.summarize_stream(query.months[0], llm, question=question, started=started)
                return
            query = replace(query, intent="list")  # a month of other dated documents: list what it holds
        k = max(k or self.settings.k, _LIST_K if query.intent == "list" else 0)
        retrieval_notices: list[str] = []
        candidates = self.retriever.retrieve(query, max(k, _EVIDENCE_POOL), retrieval_notices)
        if retrieval_notices:
            query = replace(query, notes=query.notes + tuple(retrieval_notices))
        supported = self._supported(query, candidates)
        # Evidence is the second ranking stage: items that answer come first, in retrieval order.
        answering = {hit.item.item_id for hit in supported}
        ordered = [h for h in candidates if h.item.item_id in answering] + [h for h in candidates if h.item.item_id not in answering]
        hits = _in_rank_order(ordered[: k * max(1, len(query.sub_questions))])
        retrieve_ms = _ms(started)
        listed = self._listed(query, hits) if query.intent == "list" and supported and query.date_from and query.date_to and not query.sub_questions else []
        if listed:
            supported = listed
        elif query.intent == "list":
            # "李俊升在哪些医院工作过": the list stands in the sentences of one item, not one line per item.
            query = replace(query, intent="answer")
        if not supported:
            refusal = Answer(question, REFUSAL, True, name, retrieved=hits, query=query, notices=list(query.notes))
            yield from self._emit(refusal, started, retrieve_ms)
            return
        answer = yield from self._generate(query, supported, name)
        answer.retrieved = hits
        answer.timings_ms = {"retrieve": retrieve_ms, "generate": _ms(started) - retrieve_ms, "total": _ms(started)}
        yield Done(answer)

    def _supported(self, query: Query, hits: list[Hit]) -> list[Hit]:
        """The hits that answer the question; none means refuse (decided before any LLM runs).

        A hit answers when, for the question or one of its parts, no name, number or year it asks
        about is missing from the item and its best window covers MIN_EVIDENCE of the weighted terms.
        A question asking for a figure is refused when no such item states one where the asked thing
        is said.
        """
        parts = [self._question_terms(part.text) for part in query.sub_questions] or [self._question_terms(query.text)]
        if query.sub_questions:
            # The parts of "2022年全市和2021年涧西区…" share the words of the whole question: a name of
            # one part is no requirement on the other.
            parts = [replace(terms, names=()) for terms in parts]
        dated = bool(query.date_from or query.date_to)
        best: dict[str, Evidence] = {}
        for terms in parts:
            for hit in hits:
                evidence = self._evidence(terms, hit.item, dated)
                if not evidence.usable:
                    continue
                held = best.get(hit.item.item_id)
                if held is None or evidence.score > held.score:
                    best[hit.item.item_id] = evidence
        supported = [hit for hit in hits if hit.item.item_id in best and best[hit.item.item_id].score >= MIN_EVIDENCE]
        if any(terms.asks_figure for terms in parts) and supported:
            top = max(best[hit.item.item_id].score for hit in supported)
            on_topic = [hit for hit in supported if best[hit.item.item_id].score >= top - FIGURE_MARGIN]
            if not any(best[hit.item.item_id].figure for hit in on_topic):
                return []
        return supported

    def _listed(self, query: Query, hits: list[Hit]) -> list[Hit]:
        """Every item of the query's period that answers a list question, best first: a month holds
        more matching items than any top-k ("12月有哪些荣誉")."""
        terms = self._question_terms(query.text)
        rank = {hit.item.item_id: n for n, hit in enumerate(hits)}
        scored = []
        for item in self.retriever.items_in_period(query.date_from, query.date_to):
            evidence = self._evidence(terms, item, dated=True)
            if evidence.usable:
                scored.append((evidence.score, item))
        if not scored:
            return []
        top = max(score for score, _ in scored)
        cut = max(MIN_LIST_EVIDENCE, top * LIST_RELATIVE) if terms.terms else 0.0
        kept = sorted((pair for pair in scored if pair[0] >= cut), key=lambda p: (-p[0], rank.get(p[1].item_id, len(rank)), p[1].date or ""))
        by_id = {hit.item.item_id: hit for hit in hits}
        return [by_id.get(item.item_id) or Hit(item, score, item.text) for score, item in kept[:_MAX_LISTED]]

    def _question_terms(self, text: str) -> QuestionTerms:
        return read_question(text, self.retriever.term_weights)

    def _evidence(self, terms: QuestionTerms, item: Item, dated: bool) -> Evidence:
        return assess(terms, item, candidate_sentences(item), self._documents_by_file.get(item.file), dated)

    def _generate(self, query: Query, hits: list[Hit], name: str) -> Iterator[Event]:
        notices = list(query.notes)
        if name != "extractive":
            packed = pack_sources(hits, self.settings.context_tokens)
            try:
                text = ""
                prompt = ANSWER_PROMPT.invoke({"sources": format_sources(packed), "question": query.text})
                for piece in self._stream_chat(name, prompt):
                    text += piece
                    yield Delta(piece)
            except Exception as error:  # the server went away mid-answer, or was never there
                from rag.llms import is_connection_error

                if not is_connection_error(error):
                    raise
                notices.append(f"LLM（{name}）无法连接，已改用抽取式回答：{type(error).__name__}")
                yield Delta("\n\n[LLM 无法连接，改用抽取式回答]\n\n")
            else:
                answer = self._verified(query, text, [(n, item) for n, item, _ in packed], name, notices)
                # An answer that repeats a source's injected instructions shows the model obeyed them.
                obeyed = any(check.echoes_flagged for check in answer.checks)
                if not answer.refused and answer.fidelity >= MIN_LLM_FIDELITY and not obeyed:
                    return answer
                # Retrieval found items that answer the question, so a small model's refusal, or an
                # answer most of whose sentences the sources do not support, is not the last word:
                # show what the sources say, and say why.
                reason = "未能作答" if answer.refused else f"的回答多数句子无法核实（忠实度 {answer.fidelity:.2f}）"
                if obeyed:
                    reason = "的回答复述了资料中疑似注入的指令"
                notices.append(f"LLM（{name}）{reason}，以下为资料原文摘录")
                yield Delta(f"\n\n[LLM {reason}，以下为资料原文摘录]\n\n")
        # An item all of whose text ingest flagged as instructions has nothing to quote.
        hits = [hit for hit in hits if without_flagged(hit.item.text, hit.item.flagged).strip()]
        sources = [(n, hit.item) for n, hit in enumerate(hits[: max(_EXTRACTIVE_SOURCES, len(query.sub_questions) * 2)], start=1)]
        if query.intent == "list":
            sources = [(n, hit.item) for n, hit in enumerate(hits, start=1)]
        text = extractive_answer(query.text, sources, query.intent, [part.text for part in query.sub_questions], self.retriever.term_weights)
        yield Delta(text)
        return self._verified(query, text, sources, "extractive", notices)

    def _verified(self, query: Query, text: str, sources: list[tuple[int, Item]], name: str, notices: list[str]) -> Answer:
        refused = not text.strip() or text.strip().rstrip("。.") == REFUSAL.rstrip("。")
        if refused:
            return Answer(query.original, REFUSAL, True, name, query=query, notices=notices)
        verification = verify_answer(text, sources)
        return Answer(
            query.original,
            verification.text,
            False,
            name,
            citations=verification.citations,
            checks=verification.checks,
            fidelity=verification.fidelity,
            notices=notices,
            query=query,
        )

    def _understand(self, question: str, history: Sequence[tuple[str, str]], name: str) -> Query:
        """Rules rewrite follow-ups; a configured remote LLM rewrites them better (the local one is too slow)."""
        if history and name == "openai":
            from rag.llms import is_connection_error
            from rag.query import rewrite_with_llm

            try:
                standalone = rewrite_with_llm(question, history, self._chat_model(name))
            except Exception as error:
                if not is_connection_error(error):
                    raise
            else:
                query = parse_query(standalone, self.catalog)
                note = f"结合上文，问题理解为：“{standalone}”。" if standalone != question else ""
                return replace(query, original=question, notes=query.notes + ((note,) if note else ()))
        return parse_query(question, self.catalog, history)

    # -- month summaries -----------------------------------------------------------------------
    def summarize(self, month: str, llm: str | None = None) -> Answer:
        return _final(self.summarize_stream(month, llm))

    def summarize_stream(self, month: str, llm: str | None = None, question: str | None = None, started: float | None = None) -> Iterator[Event]:
        started = started or time.perf_counter()
        name = self._resolve(llm)
        label = month_label(_check_month(month))
        question = question or f"总结{label}洛阳的重要工作"
        if month not in self.catalog.bulletin_months:
            text = f"语料中没有{label}的资料。现有月报：{self._months_text()}。"
            yield from self._emit(Answer(question, text, True, name), started)
            return
        items = [item for d in self._documents if d.kind == "bulletin" and d.period == month for item in self.index.catalog.items(d.file)]
        digest = build_digest(month, items)
        digest_text, numbered = render_digest(digest)
        retrieve_ms = _ms(started)
        yield Delta(digest_text)
        sources = [(n, bullet.item) for n, bullet in numbered]
        text, notices = digest_text, []
        if name != "extractive":
            overview = ""
            try:
                yield Delta("\n### 概述\n")
                for piece in self._stream_chat(name, SUMMARY_OVERVIEW_PROMPT.format(label=label, digest=outline_for_overview(digest, numbered, self.settings.context_tokens))):
                    overview += piece
                    yield Delta(piece)
                text = f"{digest_text}\n### 概述\n{overview.strip()}\n"
            except Exception as error:
                from rag.llms import is_connection_error

                if not is_connection_error(error):
                    raise
                notices.append(f"LLM（{name}）无法连接，只给出摘要：{type(error).__name__}")
        query = Query(text=question, original=question, intent="month_summary", months=(month,), period_label=label)
        answer = self._verified(query, text, sources, name, notices)
        answer.timings_ms = {"retrieve": retrieve_ms, "generate": _ms(started) - retrieve_ms, "total": _ms(started)}
        yield Done(answer)

    # -- helpers -------------------------------------------------------------------------------
    def _validate(self, question: str) -> str:
        question = (question or "").strip()
        if not question:
            raise ValueError("问题不能为空，请输入一个问题 (empty question)")
        if len(question) > self.settings.max_question_chars:
            raise ValueError(f"问题太长（{len(question)} 字），请控制在 {self.settings.max_question_chars} 字以内")
        return question

    def _resolve(self, requested: str | None) -> str:
        from rag.llms import resolve_llm_name

        return resolve_llm_name(requested or self.settings.llm, self.settings)

    def _chat_model(self, name: str):
        if name not in self._chat_models:
            from rag.llms import get_chat_model

            self._chat_models[name] = get_chat_model(name, self.settings)
        return self._chat_models[name]

    def _stream_chat(self, name: str, prompt) -> Iterator[str]:
        """Stream text from the named chat model for a prompt (a string or a rendered PromptValue)."""
        from langchain_core.output_parsers import StrOutputParser

        yield from (self._chat_model(name) | StrOutputParser()).stream(prompt)

    def _uncovered_period(self, query: Query) -> str | None:
        """A question naming months (or days) none of which any document covers is refused as such;
        a whole year mentioned besides ("2022年2月…2023年将…") does not rescue it."""
        parts = query.sub_questions or (query,)
        asked = list(dict.fromkeys(m for part in (query, *parts) for m in part.asked_months))
        if not asked:
            return None
        covered = set(self.catalog.covered_months)
        if any(month in covered for month in asked):
            return None  # at least part of the period is covered: answer that part
        labels = "、".join(month_label(m) for m in asked)
        return f"语料中没有{labels}的资料，无法回答。{self._covered_months_text()}。"

    @property
    def _reports(self) -> list[tuple[str, str]]:
        """(delivery year, title) of every indexed work report."""
        return [(d.period[:4], d.title) for d in self._documents if d.kind == "report"]

    def _missing_report(self, question: str) -> str | None:
        """A question about "2022年洛阳市政府工作报告" when the corpus has no such report is refused as such."""
        for match in _NAMED_REPORT.finditer(normalize_spaces(question)):
            year = match.group("year")
            government = (match.group("after") or match.group("before") or "").replace("的", "")
            if not any(y == year and _names_report(government, title) for y, title in self._reports):
                available = "、".join(f"{title}" for _, title in self._reports) or "无"
                return f"语料中没有{year}年的{government}政府工作报告，无法回答。现有政府工作报告：{available}。"
        return None

    def _months_text(self) -> str:
        return "、".join(month_label(m) for m in self.catalog.bulletin_months) or "无"

    def _covered_months_text(self) -> str:
        if self.catalog.covered_months == self.catalog.bulletin_months:
            return f"现有月报：{self._months_text()}"
        return "现有资料的月份：" + ("、".join(month_label(m) for m in self.catalog.covered_months) or "无")

    def _emit(self, answer: Answer, started: float, retrieve_ms: float = 0.0) -> Iterator[Event]:
        """Send an answer made without a generator (a refusal) as one piece."""
        answer.timings_ms = {"retrieve": retrieve_ms, "generate": 0.0, "total": _ms(started)}
        yield Delta(answer.text)
        yield Done(answer)


def _names_report(government: str, title: str) -> bool:
    """Whether a report's title is the named government's: a district or county by its own name
    ("洛阳涧西区" is "洛阳市涧西区"'s), a city by its whole name ("洛阳市", not its districts')."""
    if not government:
        return "政府工作报告" in title
    names = [government[-n:] for n in (3, 4) if government[-1] in "区县" and len(government) >= n] or [government]
    return any(f"{name}政府工作报告" in title or f"{name}人民政府工作报告" in title for name in names)


def _in_rank_order(hits: Sequence[Hit]) -> list[Hit]:
    """Hits whose scores follow their order once evidence has moved answering items up: a hit scores at
    least as much as any hit it now ranks above (callers read `score` as the rank order)."""
    floor = float("-inf")
    lifted = []
    for hit in reversed(hits):
        floor = max(floor, hit.score)
        lifted.append(hit if hit.score == floor else replace(hit, score=floor))
    return lifted[::-1]


def _final(events: Iterator[Event]) -> Answer:
    for event in events:
        if isinstance(event, Done):
            return event.answer
    raise RuntimeError("the answer stream ended without a final answer")


def _check_month(month: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month or ""):
        raise ValueError(f"月份格式应为 YYYY-MM，例如 2023-07（got {month!r}）")
    return month


def _restrict_to_month(query: Query, month: str) -> Query:
    year, mon = map(int, _check_month(month).split("-"))
    last = calendar.monthrange(year, mon)[1]
    return replace(
        query,
        date_from=f"{month}-01",
        date_to=f"{month}-{last:02d}",
        months=(month,),
        period_label=month_label(month),
        sub_questions=(),
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
