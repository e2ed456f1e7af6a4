"""The assistant: one place that turns a question into a verified, cited Answer.

The CLI, the web UI and the evaluation harness all call `Assistant.ask_stream` / `ask` /
`summarize`, and render the structured Answer it returns.
"""

from __future__ import annotations

import calendar
import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from ingest.index import Index
from ingest.records import Document, Item
from ingest.textutil import normalize_spaces
from ingest.untrusted import without_flagged
from rag.bounded import STOP_WORDS, BoundedStream, Budget, StopReason
from rag.digest import LLM_OVERVIEW_HEADING, build_digest, month_label, outline_for_overview, render_digest
from rag.evidence import Evidence, QuestionTerms, assess, question_parts, read_question
from rag.extractive import candidate_sentences, extractive_answer
from rag.prompting import ANSWER_PROMPT, LEAD_PROMPT, REFUSAL, SUMMARY_OVERVIEW_PROMPT, fit_sources, format_sources, pack_sources
from rag.query import Catalog, parse_query
from rag.records import Answer, Citation, Hit, Query
from rag.retrieve import Retriever
from rag.settings import Settings, get_settings
from rag.streaming import SentenceStream
from rag.verify import Verification, Verifier

log = logging.getLogger(__name__)

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
    r"(?P<before>(?:洛阳)?[\u4e00-\u9fff]{0,4}?[市区县]|洛阳)?(?P<year>\d{4})年的?(?P<after>(?:洛阳)?[\u4e00-\u9fff]{0,4}?[市区县])?(?:人民)?政府工作报告"
)
_LIST_K = 10
# Candidates retrieved for the evidence stage to rerank (per part of a multi-part question).
_EVIDENCE_POOL = 20
_ISO_MONTH = re.compile(r"^\d{4}-\d{2}")
_EXTRACTIVE_SOURCES = 3
# The overview reads this many of the month's key items: what the 1.5B model sums up in time
# (~350 prompt tokens, ~70-120 written; with 12 titles and section headings it wrote lists to the token limit).
_OVERVIEW_ITEMS = 8
# The overview and a lead are asked for 3 and 1 sentences; a small model writes on: stop it there.
_OVERVIEW_SENTENCES = 3
_LEAD_SENTENCES = 2
# A model that says the same sentence this often is looping: stop it.
_MAX_REPEATED_SENTENCES = 2


@dataclass(frozen=True)
class Delta:
    """A piece of streamed answer text, already verified sentence by sentence.

    citations: the verified citations of the sentence(s) this piece carries, so a UI can link their
    [n] at once (the final answer's citations may add quotes from later sentences). An empty text
    is a heartbeat while the local model reads its prompt: the moment to close the stream if the
    user has gone.
    """

    text: str
    citations: tuple[Citation, ...] = ()


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


@dataclass(frozen=True)
class _Written:
    """What an LLM wrote (verified, as shown), how it ended, and what went wrong ("" if nothing)."""

    text: str
    stop_reason: StopReason
    failure: str


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
        from rag.llms import chat_backend

        self.retriever.warm_up()
        if chat_backend(self._resolve(None), self.settings) == "local":
            try:
                getattr(self._chat_model("local"), "load", lambda: None)()
            except Exception as error:  # each answer will fall back and say so; the server starts anyway
                log.warning("本地模型加载失败，回答将改用抽取式：%s", error)

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
        # Evidence is the second ranking stage: items that answer come first, best evidence first.
        answering = {hit.item.item_id for hit in supported}
        ordered = supported + [h for h in candidates if h.item.item_id not in answering]
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
        A part asking for a figure is answered by none of its items when none on its topic states one
        where the asked thing is said. The parts are the query's sub-questions, or else the whole
        question and its clauses ("栾卢高速是几号通车的？洛阳境内有多长？"), each with its own names.
        """
        if query.sub_questions:
            # The parts of "2022年全市和2021年涧西区…" share the words of the whole question: a name of
            # one part is no requirement on the other.
            parts = [replace(self._question_terms(part.text), names=()) for part in query.sub_questions]
        else:
            parts = [self._question_terms(text) for text in question_parts(query.text)]
        dated = bool(query.date_from or query.date_to)
        scores: dict[str, float] = {}
        for terms in parts:
            for item_id, score in self._answering(terms, hits, dated).items():
                scores[item_id] = max(score, scores.get(item_id, 0.0))
        # The better an item's evidence, the earlier it comes (ties keep the retrieval order).
        return sorted((hit for hit in hits if hit.item.item_id in scores), key=lambda hit: -scores[hit.item.item_id])

    def _answering(self, terms: QuestionTerms, hits: list[Hit], dated: bool) -> dict[str, float]:
        """The hits that answer one part of the question, by id, with their evidence score."""
        found: dict[str, Evidence] = {}
        for hit in hits:
            evidence = self._evidence(terms, hit.item, dated)
            if evidence.usable and evidence.score >= MIN_EVIDENCE:
                found[hit.item.item_id] = evidence
        if terms.asks_figure and found:
            top = max(evidence.score for evidence in found.values())
            if not any(evidence.figure for evidence in found.values() if evidence.score >= top - FIGURE_MARGIN):
                return {}
        return {item_id: evidence.score for item_id, evidence in found.items()}

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

    # -- generation ----------------------------------------------------------------------------
    def _generate(self, query: Query, hits: list[Hit], name: str) -> Iterator[Event]:
        """Stream the answer from the hits that answer the question; return it verified.

        extractive: the sources' own sentences. hybrid: those at once, then an LLM's one-sentence
        lead after them. local/openai: the LLM's answer, except for list questions, where the LLM
        writes the lead and the extractive list of every item found follows. Any LLM failure falls
        back to the extractive answer with a notice.
        """
        notices = list(query.notes)
        if name == "extractive":
            answer = yield from self._extractive(query, hits, notices)
        elif name == "hybrid" or query.intent == "list":
            answer = yield from self._led(query, hits, name, notices, lead_first=name != "hybrid")
        else:
            answer = yield from self._llm_answer(query, hits, name, notices)
        answer.completeness = _completeness(answer, [hit.item for hit in hits])
        return answer

    def _extractive(self, query: Query, hits: list[Hit], notices: list[str]) -> Iterator[Event]:
        sources, text = self._extractive_text(query, hits)
        verifier = self._verifier(sources)
        yield _delta(verifier.add(text))
        return self._answer(query, verifier.result(), "extractive", notices)

    def _extractive_text(self, query: Query, hits: list[Hit]) -> tuple[list[tuple[int, Item]], str]:
        # An item all of whose text ingest flagged as instructions has nothing to quote.
        hits = [hit for hit in hits if without_flagged(hit.item.text, hit.item.flagged).strip()]
        chosen = hits if query.intent == "list" else hits[: max(_EXTRACTIVE_SOURCES, len(query.sub_questions) * 2)]
        sources = [(n, hit.item) for n, hit in enumerate(chosen, start=1)]
        return sources, extractive_answer(query.text, sources, query.intent, [part.text for part in query.sub_questions] or question_parts(query.text), self.retriever.term_weights)

    def _llm_answer(self, query: Query, hits: list[Hit], name: str, notices: list[str]) -> Iterator[Event]:
        from rag.llms import chat_backend

        local = chat_backend(name, self.settings) == "local"
        packed = pack_sources(hits, self.settings.local_context_tokens if local else self.settings.context_tokens)
        verifier = self._verifier([(n, item) for n, item, _ in packed])
        prompt = ANSWER_PROMPT.invoke({"sources": format_sources(packed), "question": query.text})
        written = yield from self._write(name, prompt, verifier, self._budget("answer"))
        if written.failure:
            return (yield from self._fall_back(query, hits, notices, f"{self._llm_label(name)}{written.failure}，已改用抽取式回答"))
        answer = self._answer(query, verifier.result(), name, notices)
        # An answer that repeats a source's injected instructions shows the model obeyed them.
        obeyed = any(check.echoes_flagged for check in answer.checks)
        if not answer.refused and answer.fidelity >= MIN_LLM_FIDELITY and not obeyed:
            if written.stop_reason:
                notices.append(f"{self._llm_label(name)}{STOP_WORDS[written.stop_reason]}，回答到此为止")
            return answer
        # Retrieval found items that answer the question, so a small model's refusal, or an answer
        # most of whose sentences the sources do not support, is not the last word: show what the
        # sources say, and say why.
        reason = "未能作答" if answer.refused else f"的回答多数句子无法核实（忠实度 {answer.fidelity:.2f}）"
        if obeyed:
            reason = "的回答复述了资料中疑似注入的指令"
        return (yield from self._fall_back(query, hits, notices, f"{self._llm_label(name)}{reason}，以下为资料原文摘录"))

    def _led(self, query: Query, hits: list[Hit], name: str, notices: list[str], lead_first: bool) -> Iterator[Event]:
        """The extractive answer with an LLM's one-sentence lead: before it, or (hybrid) after it, so it shows at once.

        The lead is written from the sentences the extractive answer quotes. A lead that fails,
        or that its sources do not support, is left out with a notice: the quotes stand alone.
        """
        from rag.llms import chat_backend

        sources, text = self._extractive_text(query, hits)
        excerpts = _quoted_by_source(text)
        # A month's list may quote 30 items: the lead reads those that fit the prompt budget.
        budget = self.settings.local_context_tokens if chat_backend(name, self.settings) == "local" else self.settings.context_tokens
        packed = fit_sources([(n, item, excerpts[n]) for n, item in sources if n in excerpts], budget)
        prompt = LEAD_PROMPT.invoke({"sources": format_sources(packed), "question": query.text})
        verifier = self._verifier(sources)
        if not lead_first:
            yield _delta(verifier.add(text))
        mark = verifier.mark()
        if not lead_first:
            yield _delta(verifier.add("\n\n概括：\n"))
        before = len(verifier.checks)
        written = yield from self._write(name, prompt, verifier, self._budget("lead"), max_sentences=_LEAD_SENTENCES)
        lead = verifier.checks[before:]
        problem = written.failure or ("没有给出概括" if not lead else "" if all(c.supported for c in lead) else "的概括无法核实")
        if problem:
            verifier.rollback(mark)
            notices.append(f"{self._llm_label(name)}{problem}，只给出资料原文摘录")
        if lead_first:
            if problem and written.text:
                yield Delta("\n\n")  # after what was shown of the lead the final answer leaves out
            yield _delta(verifier.add(text if problem else "\n\n" + text))
        return self._answer(query, verifier.result(), "extractive" if problem else name, notices)

    def _fall_back(self, query: Query, hits: list[Hit], notices: list[str], notice: str) -> Iterator[Event]:
        notices.append(notice)
        yield Delta(f"\n\n[{notice}]\n\n")
        return (yield from self._extractive(query, hits, notices))

    def _write(self, name: str, prompt, verifier: Verifier, budget: Budget, max_sentences: int | None = None) -> Iterator[Event]:
        """Stream an LLM's text within a budget, each sentence shown once verified; never raises for the LLM's failures.

        max_sentences: the model is stopped, as if it had ended, once it has written this many.
        Closing the event stream closes the model's stream (an HTTP response, or llama.cpp's
        generation, which stops at its next token or prompt batch).
        """
        from rag.llms import EmptyAnswer, chat_backend, describe_failure

        sentences = SentenceStream(verifier)
        bounded: BoundedStream | None = None
        pieces: Iterator[str] | None = None
        yield Delta("")  # the model is starting (the first time, loading): a consumer may close the stream here
        try:
            model = self._chat_model(chat_backend(name, self.settings))
            bounded = BoundedStream(_limited(model, budget).stream(prompt), budget)
            pieces = iter(bounded)
            for piece in pieces:
                checked = sentences.feed(piece)
                if checked is not None:
                    yield _delta(checked)
                elif not piece:
                    yield Delta("")  # the model is reading the prompt: a consumer may close the stream here
                if sentences.repeats >= _MAX_REPEATED_SENTENCES or (max_sentences and sentences.shown >= max_sentences):
                    break
            stop: StopReason = bounded.stop_reason or ("repetition" if sentences.repeats >= _MAX_REPEATED_SENTENCES else "")
            enough = bool(max_sentences and sentences.shown >= max_sentences)
            rest = sentences.finish(complete=not stop and not enough)
            if rest is not None:
                yield _delta(rest)
            if not sentences.text.strip():
                if stop:  # cut off before its first complete sentence
                    return _Written("", stop, STOP_WORDS[stop])
                raise EmptyAnswer("the model wrote nothing")
        except Exception as error:  # whatever the model or its server did, the answer goes on without it
            log.info("LLM %s failed", name, exc_info=True)
            return _Written(sentences.text, "", describe_failure(error))
        finally:
            if pieces is not None:
                pieces.close()
        return _Written(sentences.text, stop, "")

    def _budget(self, kind: str) -> Budget:
        s = self.settings
        tokens, seconds = {
            "answer": (s.max_answer_tokens, s.answer_seconds),
            "lead": (s.lead_tokens, s.answer_seconds),
            "overview": (s.overview_tokens, s.overview_seconds),
        }[kind]
        return Budget(tokens, seconds, s.first_token_timeout)

    def _llm_label(self, name: str) -> str:
        from rag.llms import chat_backend, llm_label

        return llm_label(chat_backend(name, self.settings))

    def _verifier(self, sources: Sequence[tuple[int, Item]]) -> Verifier:
        return Verifier(sources, documents={file: d.title for file, d in self._documents_by_file.items()})

    def _answer(self, query: Query, verification: Verification, name: str, notices: list[str]) -> Answer:
        text = verification.text
        if not text.strip() or text.strip().rstrip("。.") == REFUSAL.rstrip("。"):
            return Answer(query.original, REFUSAL, True, name, query=query, notices=notices)
        return Answer(
            query.original,
            text,
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
        from rag.llms import chat_backend

        if history and chat_backend(name, self.settings) == "openai":
            from rag.query import rewrite_with_llm

            try:
                standalone = rewrite_with_llm(question, history, self._chat_model("openai"))
            except Exception:  # any LLM failure: the rules below rewrite the follow-up instead
                log.info("rewriting the follow-up with the LLM failed", exc_info=True)
            else:
                query = parse_query(standalone, self.catalog)
                note = f"结合上文，问题理解为：“{standalone}”。" if standalone != question else ""
                return replace(query, original=question, notes=query.notes + ((note,) if note else ()))
        return parse_query(question, self.catalog, history)

    # -- month summaries -----------------------------------------------------------------------
    def summarize(self, month: str, llm: str | None = None) -> Answer:
        return _final(self.summarize_stream(month, llm))

    def summarize_stream(self, month: str, llm: str | None = None, question: str | None = None, started: float | None = None) -> Iterator[Event]:
        """The month's digest at once (no LLM needed), then, with an LLM, a short verified overview.

        The overview never sinks the summary: if it fails, repeats itself or cannot be verified, the
        digest is the answer, with a notice.
        """
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
        verifier = self._verifier([(n, bullet.item) for n, bullet in numbered])
        retrieve_ms = _ms(started)
        yield _delta(verifier.add(digest_text))
        notices: list[str] = []
        answered_by = "extractive"
        if name != "extractive":
            mark = verifier.mark()
            yield _delta(verifier.add(f"\n{LLM_OVERVIEW_HEADING}\n"))
            outline = outline_for_overview(digest, numbered, _OVERVIEW_ITEMS)
            prompt = SUMMARY_OVERVIEW_PROMPT.format(label=label, count=outline.count("\n") + 1, outline=outline)
            overview_from = len(verifier.checks)
            written = yield from self._write(name, prompt, verifier, self._budget("overview"), max_sentences=_OVERVIEW_SENTENCES)
            overview_checks = verifier.checks[overview_from:]
            supported = sum(check.supported for check in overview_checks)
            if written.failure or not supported:
                verifier.rollback(mark)
                why = written.failure or "的概述无法核实"
                notices.append(f"{self._llm_label(name)}{why}，只给出摘要")
            else:
                answered_by = name
                if written.stop_reason:
                    notices.append(f"概述{STOP_WORDS[written.stop_reason]}，到此为止")
        query = Query(text=question, original=question, intent="month_summary", months=(month,), period_label=label)
        answer = self._answer(query, verifier.result(), answered_by, notices)
        answer.completeness = _completeness(answer, items)
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


def _delta(checked: Verification) -> Delta:
    return Delta(checked.text, tuple(checked.citations))


def _limited(model, budget: Budget):
    """The model with the budget's token limit (and, for the local model, its time limit) bound to each call."""
    limits: dict = {"max_tokens": budget.tokens}
    if hasattr(model, "time_limit"):  # the endpoint's client has its timeouts already
        limits.update(time_limit=budget.seconds, first_token_timeout=budget.first_text_seconds)
    return model.bind(**limits)


def _quoted_by_source(text: str) -> dict[int, str]:
    """Source number -> what an extractive answer quotes from it (its lines, markers and bullets removed)."""
    from rag.verify import CITATION_RE, parse_citations

    quoted: dict[int, list[str]] = {}
    for line in text.splitlines():
        for n in parse_citations(line):
            quoted.setdefault(n, []).append(CITATION_RE.sub("", line).lstrip("-• ").strip())
    return {n: "".join(lines) for n, lines in quoted.items()}


def _completeness(answer: Answer, answering: Sequence[Item]) -> float | None:
    """Share of the items that answer the question which the answer cites (None for a refusal)."""
    wanted = {item.item_id for item in answering}
    if answer.refused or not wanted:
        return None
    cited = {citation.item.item_id for citation in answer.citations}
    return len(wanted & cited) / len(wanted)


def _names_report(government: str, title: str) -> bool:
    """Whether a report's title is the named government's: a district or county by its own name
    ("洛阳涧西区" is "洛阳市涧西区"'s), a city by its whole name ("洛阳市", not its districts')."""
    if not government:
        return "政府工作报告" in title
    names = [government[-n:] for n in (3, 4) if government[-1] in "区县" and len(government) >= n] or [government]
    if government[-1] not in "市区县":  # "洛阳2021年政府工作报告": a city named without 市
        names.append(f"{government}市")
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
