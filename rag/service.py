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
from rag.evidence import evidence_score, figure_terms, states_figure
from rag.extractive import extractive_answer
from rag.prompting import ANSWER_PROMPT, REFUSAL, format_sources, pack_sources
from rag.query import Catalog, parse_query
from rag.records import Answer, Hit, Query
from rag.retrieve import Retriever
from rag.settings import Settings, get_settings
from rag.verify import verify_answer

MIN_EVIDENCE = 0.5
FIGURE_MARGIN = 0.1
# An LLM answer with fewer supported sentences than this is replaced by the extractive one: on the
# eval set, 18 of 84 answers of the bundled 1.5B model fell below it.
MIN_LLM_FIDELITY = 0.5
# "2022年洛阳市政府工作报告" names a report by the year it was delivered and the government giving it.
_NAMED_REPORT = re.compile(r"(\d{4})年的?((?:洛阳)?[\u4e00-\u9fff]{0,4}?[市区县])?(?:人民)?政府工作报告")
_LIST_K = 10
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


class Assistant:
    def __init__(self, settings: Settings | None = None, chat_models: dict | None = None) -> None:
        self.settings = settings or get_settings()
        self.index = Index(self.settings)
        self.retriever = Retriever(self.index, self.settings.candidates, self.settings.reranker)
        self._chat_models = chat_models if chat_models is not None else {}
        self._documents_cache: tuple[int, list[Document]] | None = None

    # -- what the corpus covers ----------------------------------------------------------------
    @property
    def _documents(self) -> list[Document]:
        """The indexed documents, re-read only when the catalog's version moved (any process's write)."""
        version = self.index.catalog.version()
        cached = self._documents_cache
        if cached is None or cached[0] != version:
            self._documents_cache = cached = (version, self.index.catalog.documents())
        return cached[1]

    @property
    def catalog(self) -> Catalog:
        documents = self._documents
        return Catalog(
            bulletin_months=tuple(sorted(d.period for d in documents if d.kind == "bulletin" and d.period)),
            report_periods=tuple(sorted(d.period for d in documents if d.kind == "report" and d.period)),
        )

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
        self._documents_cache = None
        self.retriever.refresh()

    # -- questions -----------------------------------------------------------------------------
    def ask(self, question: str, history: Sequence[tuple[str, str]] = (), llm: str | None = None, month: str | None = None, k: int | None = None) -> Answer:
        return _final(self.ask_stream(question, history, llm, month, k))

    def ask_stream(
        self, question: str, history: Sequence[tuple[str, str]] = (), llm: str | None = None, month: str | None = None, k: int | None = None
    ) -> Iterator[Event]:
        started = time.perf_counter()
        question = self._validate(question)
        if not self.catalog.bulletin_months and not self.catalog.report_periods:
            raise ValueError("索引为空：请先运行 `heluo ingest` 导入文档 (the index is empty: run `heluo ingest` first)")
        name = self._resolve(llm)
        query = self._understand(question, history, name)
        if month:
            query = _restrict_to_month(query, month)
        uncovered = self._uncovered_period(query) or self._missing_report(question)
        if uncovered:
            yield from self._emit(Answer(question, uncovered, True, name, query=query, notices=list(query.notes)), started)
            return
        if query.intent == "month_summary" and len(query.months) == 1:
            yield from self.summarize_stream(query.months[0], llm, question=question, started=started)
            return
        k = max(k or self.settings.k, _LIST_K if query.intent == "list" else 0)
        retrieval_notices: list[str] = []
        hits = self.retriever.retrieve(query, k, retrieval_notices)
        if retrieval_notices:
            query = replace(query, notes=query.notes + tuple(retrieval_notices))
        retrieve_ms = _ms(started)
        supported = self._supported(query, hits)
        if not supported:
            refusal = Answer(question, REFUSAL, True, name, retrieved=hits, query=query, notices=list(query.notes))
            yield from self._emit(refusal, started, retrieve_ms)
            return
        answer = yield from self._generate(query, supported, name)
        answer.retrieved = hits
        answer.timings_ms = {"retrieve": retrieve_ms, "generate": _ms(started) - retrieve_ms, "total": _ms(started)}
        yield Done(answer)

    def _supported(self, query: Query, hits: list[Hit]) -> list[Hit]:
        """The hits that answer the question; none means refuse (decided before any LLM runs)."""
        dated = bool(query.date_from or query.date_to)
        titles = self._document_titles
        weights = self.retriever.term_weights
        scores = {h.item.item_id: evidence_score(query.text, h.item, dated, weights, titles.get(h.item.file, "")) for h in hits}
        supported = [hit for hit in hits if scores[hit.item.item_id] >= MIN_EVIDENCE]
        heads = figure_terms(query.text)
        best = max(scores.values(), default=0.0)
        # The figure asked for must stand in an item about the topic itself, not in one that merely
        # shares the question's common words (a "总投资" of another project).
        on_topic = [hit for hit in supported if scores[hit.item.item_id] >= best - FIGURE_MARGIN]
        if heads and not any(states_figure(hit.item, heads) for hit in on_topic):
            return []
        return supported

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
        text = extractive_answer(query.text, sources, query.intent, [part.text for part in query.sub_questions])
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
        parts = query.sub_questions or (query,)
        asked = [m for part in parts for m in part.months]
        if not asked:
            return None
        missing = [m for m in dict.fromkeys(asked) if m not in self.catalog.bulletin_months]
        if len(missing) < len(set(asked)):
            return None  # at least part of the period is covered: answer that part
        labels = "、".join(month_label(m) for m in missing)
        return f"语料中没有{labels}的资料，无法回答。现有月报：{self._months_text()}。"

    @property
    def _document_titles(self) -> dict[str, str]:
        return {d.file: d.title for d in self._documents}

    @property
    def _reports(self) -> list[tuple[str, str]]:
        """(delivery year, title) of every indexed work report."""
        return [(d.period[:4], d.title) for d in self._documents if d.kind == "report"]

    def _missing_report(self, question: str) -> str | None:
        """A question about "2022年洛阳市政府工作报告" when the corpus has no such report is refused as such."""
        for match in _NAMED_REPORT.finditer(normalize_spaces(question)):
            year, government = match.group(1), (match.group(2) or "").replace("的", "")
            named = f"{government}政府工作报告" if government else "政府工作报告"
            if not any(y == year and named in title for y, title in self._reports):
                available = "、".join(f"{title}" for _, title in self._reports) or "无"
                return f"语料中没有{year}年的{government}政府工作报告，无法回答。现有政府工作报告：{available}。"
        return None

    def _months_text(self) -> str:
        return "、".join(month_label(m) for m in self.catalog.bulletin_months) or "无"

    def _emit(self, answer: Answer, started: float, retrieve_ms: float = 0.0) -> Iterator[Event]:
        """Send an answer made without a generator (a refusal) as one piece."""
        answer.timings_ms = {"retrieve": retrieve_ms, "generate": 0.0, "total": _ms(started)}
        yield Delta(answer.text)
        yield Done(answer)


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
