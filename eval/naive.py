"""The baseline to beat: the common LangChain recipe, scored by the same harness as heluo.

What it does, on purpose and nothing more:
- RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50) over the RAW files (decoded, not
  parsed: no items, no sections, no dates; TOC lines and page numbers stay in the chunks);
- dense-only top-5 with the same embedder as heluo (content-hash cached), stored in its own Chroma
  collection "naive_baseline" under HELUO_HOME/naive through the project's one Chroma module;
- the same generators: the extractive picker over the top chunks (as many as heluo's extractive
  generator takes), or the same LLM prompt with the 5 chunks as numbered sources;
- no refusal logic beyond the LLM saying the refusal sentence, no citation repair. rag.verify still
  runs on the answer, only to measure its faithfulness the way heluo's is measured.

Each raw chunk is wrapped in an Item (title = the chunk's first line, section "") so that the
extractive picker, the prompt and the verifier take it unchanged, and the answer is the same Answer
record heluo returns.

Gold matching for chunks (`chunk_holds_gold`): a chunk from the gold file holds a gold item when its
normalised text contains the normalised quote, or its first half, or its last half. A 500-character
window cuts an item anywhere, so a quote split across two chunks leaves a prefix in one and a suffix
in the other; either half is a verbatim run of at least half the quote, which no unrelated chunk
contains by chance. Both chunks of a split quote count as that gold item.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from eval.dataset import GoldItem
from eval.metrics import normalize
from ingest.decode import read_document
from ingest.embedder import CachedEmbedder, load_embedder
from ingest.index import discover
from ingest.records import Chunk, Item, content_hash
from ingest.store import VectorStore
from rag.extractive import best_sentences, extractive_answer
from rag.prompting import ANSWER_PROMPT, REFUSAL, format_sources
from rag.records import Answer, Citation, Hit
from rag.settings import Settings
from rag.verify import CITATION_RE, normalize_citations, parse_citations, verify_answer

CHUNK_SIZE = 500
CHUNK_OVERLAP = 50
TOP_K = 5
# heluo's extractive generator quotes its top 3 sources (rag.service); the baseline gets the same.
EXTRACTIVE_SOURCES = 3
COLLECTION = "naive_baseline"
_TITLE_CHARS = 60
_REFUSAL_CORE = REFUSAL.rstrip("。")


@dataclass(frozen=True)
class NaiveChunk:
    """One 500-character window of a raw file, wrapped as an Item for the shared generators."""

    item: Item

    @property
    def chunk_id(self) -> str:
        return self.item.item_id


def split_raw_text(text: str, file: str) -> list[NaiveChunk]:
    """The recipe's chunks of one decoded file, with ids from file, position and content."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True)
    stem = file.rsplit(".", 1)[0]
    chunks = []
    for ordinal, document in enumerate(splitter.create_documents([text])):
        body = document.page_content
        start = document.metadata["start_index"]
        line_start = text.count("\n", 0, max(start, 0)) + 1
        item = Item(
            item_id=f"naive:{stem}#{ordinal:04d}-{content_hash(body, length=10)}",
            file=file,
            kind="generic",
            position=ordinal,
            section="",
            title=chunk_title(body),
            text=body,
            line_start=line_start,
            line_end=line_start + body.count("\n"),
        )
        chunks.append(NaiveChunk(item))
    return chunks


def chunk_title(text: str) -> str:
    """The chunk's first non-blank line, shortened: the only 'title' a raw window has."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first[:_TITLE_CHARS]


def chunk_holds_gold(file: str, text: str, gold: GoldItem) -> bool:
    """Whether a raw chunk stands for a gold item (see the module doc for why halves count)."""
    if file != gold.file:
        return False
    quote, chunk = normalize(gold.quote), normalize(text)
    if not quote:
        return False
    half = math.ceil(len(quote) / 2)
    return quote in chunk or quote[:half] in chunk or quote[-half:] in chunk


def gold_chunk_ids(gold: Sequence[GoldItem], chunks: Sequence[NaiveChunk]) -> list[frozenset[str]]:
    """For each gold item, the ids of every chunk that holds it (the naive side of resolve_gold_ids)."""
    return [
        frozenset(c.chunk_id for c in chunks if chunk_holds_gold(c.item.file, c.item.text, entry)) for entry in gold
    ]


def says_refusal(text: str) -> bool:
    """The LLM answered with the refusal sentence the shared prompt asks for (markers ignored)."""
    core = CITATION_RE.sub("", text or "").strip()
    return not core or core.startswith(_REFUSAL_CORE)


class NaiveBaseline:
    """Build once (`build`), then `ask` like heluo's Assistant; chat models may be shared with it."""

    def __init__(self, settings: Settings, embedder: CachedEmbedder | None = None, chat_models: dict | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._chat_models = chat_models if chat_models is not None else {}

    @cached_property
    def embedder(self) -> CachedEmbedder:
        return self._embedder or load_embedder(self.settings.embedder, self.settings.cache_dir, self.settings.embed_batch)

    @cached_property
    def store(self) -> VectorStore:
        return VectorStore(self.settings.home / "naive", COLLECTION, self.embedder.name, self.settings.chroma_url)

    @cached_property
    def chunks(self) -> list[NaiveChunk]:
        files, _folders = discover([Path(self.settings.corpus)])
        if not files:
            raise ValueError(f"{self.settings.corpus}: 没有可读的 .txt/.md 文档；set HELUO_CORPUS to the corpus folder")
        return [chunk for path in files for chunk in split_raw_text(read_document(path)[0], path.name)]

    @cached_property
    def _by_id(self) -> dict[str, NaiveChunk]:
        return {c.chunk_id: c for c in self.chunks}

    def build(self) -> int:
        """Make the collection hold exactly the current chunks; returns how many were added."""
        present = self.store.ids()
        missing = [c for c in self.chunks if c.chunk_id not in present]
        stale = sorted(present - set(self._by_id))
        if stale:
            self.store.delete(stale)
        if missing:
            vectors = self.embedder.embed_passages([c.item.text for c in missing])
            records = [Chunk(c.chunk_id, c.chunk_id, c.item.file, c.item.position, c.item.text, 0) for c in missing]
            self.store.upsert(records, vectors, {c.chunk_id: c.item for c in missing}, {})
        return len(missing)

    def retrieve(self, question: str, k: int = TOP_K) -> list[Hit]:
        matches = self.store.search(self.embedder.embed_query(question), k)
        if not matches and self.chunks:
            raise ValueError("基线索引为空：先调用 NaiveBaseline.build() (the naive collection is empty)")
        return [
            Hit(self._by_id[m.chunk_id].item, m.similarity, self._by_id[m.chunk_id].item.text, dense_rank=rank)
            for rank, m in enumerate(matches, start=1)
            if m.chunk_id in self._by_id
        ]

    def ask(self, question: str, llm: str = "extractive") -> Answer:
        started = time.perf_counter()
        hits = self.retrieve(question)
        retrieve_ms = _ms(started)
        if llm == "extractive":
            sources = [(n, hit.item) for n, hit in enumerate(hits[:EXTRACTIVE_SOURCES], start=1)]
            text = extractive_answer(question, sources)
        else:
            sources = [(n, hit.item) for n, hit in enumerate(hits, start=1)]
            text = self._generate(llm, question, sources)
        answer = self._answer(question, text, sources, llm)
        answer.retrieved = hits
        answer.timings_ms = {"retrieve": retrieve_ms, "generate": _ms(started) - retrieve_ms, "total": _ms(started)}
        return answer

    def _generate(self, llm: str, question: str, sources: list[tuple[int, Item]]) -> str:
        from langchain_core.output_parsers import StrOutputParser

        chain = ANSWER_PROMPT | self._chat_model(llm) | StrOutputParser()
        packed = [(n, item, item.text) for n, item in sources]
        return chain.invoke({"sources": format_sources(packed), "question": question})

    def _chat_model(self, name: str):
        if name not in self._chat_models:
            from rag.llms import get_chat_model

            self._chat_models[name] = get_chat_model(name, self.settings)
        return self._chat_models[name]

    def _answer(self, question: str, text: str, sources: list[tuple[int, Item]], llm: str) -> Answer:
        return baseline_answer(question, text, sources, llm)


def baseline_answer(question: str, text: str, sources: Sequence[tuple[int, Item]], llm: str) -> Answer:
    """A baseline's Answer: refused only when the text is the refusal sentence; citations as written,
    verification run only to measure faithfulness (its repaired text is not used)."""
    if says_refusal(text):
        return Answer(question, text.strip() or REFUSAL, True, llm)
    verification = verify_answer(text, list(sources))
    return Answer(
        question,
        text,
        False,
        llm,
        citations=own_citations(question, text, sources, verification.citations),
        checks=verification.checks,
        fidelity=verification.fidelity,
    )


def own_citations(
    question: str, text: str, sources: Sequence[tuple[int, Item]], measured: Sequence[Citation]
) -> list[Citation]:
    """The citations the generator itself wrote (no repair); quotes from the verifier where it kept them."""
    by_n = dict(sources)
    text = normalize_citations(text, frozenset(by_n))
    quotes = {c.n: c.quote for c in measured}
    citations = []
    for n in parse_citations(text):
        quote = quotes.get(n) or next(iter(best_sentences(question, by_n[n], 1)), "")
        citations.append(Citation(n, by_n[n], quote))
    return citations


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


__all__ = [
    "baseline_answer",
    "CHUNK_OVERLAP",
    "CHUNK_SIZE",
    "COLLECTION",
    "NaiveBaseline",
    "NaiveChunk",
    "TOP_K",
    "chunk_holds_gold",
    "chunk_title",
    "gold_chunk_ids",
    "own_citations",
    "says_refusal",
    "split_raw_text",
]
