"""The corpus as the generators see it: parsed items with their document, and quote checks.

Items come from `ingest.parse.parse_path`, the parser the index uses, so a gold item a generator
takes from here is one the harness can resolve. A quote is kept only when it is verbatim in the
source file up to whitespace (the PDF-derived report breaks lines every ~30 characters and the
bulletins space out digits, so "verbatim" cannot include the line breaks).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ingest.decode import read_document
from ingest.parse import parse_path
from ingest.textutil import split_sentences

_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class CorpusItem:
    """One parsed item with what a question writer needs of its document."""

    file: str
    kind: str  # "bulletin" | "report" | "generic"
    period: str  # the document's period: "2023-07", "2021-02-07"
    doc_title: str
    position: int
    section: str
    title: str
    text: str
    date: str | None
    date_end: str | None

    @property
    def key(self) -> str:
        """Stable across runs and parser-independent enough to key generated data: file + title + text hash."""
        return f"{self.file}|{self.position}|{stable_hash(self.title + self.text)[:10]}"


@dataclass(frozen=True)
class Corpus:
    items: tuple[CorpusItem, ...]
    texts: dict[str, str]  # file name -> decoded file text

    def in_file(self, file: str, quote: str) -> bool:
        return squash(quote) in self._squashed(file)

    def _squashed(self, file: str) -> str:
        return _squash_cached(self.texts.get(file, ""))

    def items_of(self, file: str) -> list[CorpusItem]:
        return [item for item in self.items if item.file == file]

    def holders(self, file: str, quote: str) -> list[CorpusItem]:
        """Items of `file` whose text holds the quote (whitespace-insensitive)."""
        key = squash(quote)
        return [item for item in self.items_of(file) if key in squash(item.text)]


def load_corpus(folder: Path) -> Corpus:
    items: list[CorpusItem] = []
    texts: dict[str, str] = {}
    for path in sorted(Path(folder).glob("*.txt")):
        texts[path.name] = read_document(path)[0]
        parsed = parse_path(path)
        meta = parsed.meta
        for position, p in enumerate(parsed.items):
            items.append(
                CorpusItem(path.name, meta.kind, meta.period, meta.title, position, p.section, p.title, p.text, p.date, p.date_end)
            )
    return Corpus(tuple(items), texts)


def squash(text: str) -> str:
    """Whitespace removed: the form in which a quote must be found in its file."""
    return _WHITESPACE.sub("", text)


@lru_cache(maxsize=16)
def _squash_cached(text: str) -> str:
    return squash(text)


def stable_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sentences(text: str) -> list[str]:
    """The item's sentences without their end mark (a quote that stops before 。 reads better in a question)."""
    return [s.rstrip("。；;！!？?") for s in split_sentences(text) if s.strip("。；;！!？? ")]


def windows(text: str, limit: int = 320) -> list[str]:
    """Sentence-aligned passages of at most `limit` characters (one long sentence stays whole)."""
    passages: list[str] = []
    current = ""
    for sentence in split_sentences(text):
        if current and len(current) + len(sentence) > limit:
            passages.append(current)
            current = ""
        current += sentence
    if current:
        passages.append(current)
    return passages


def month_label(period: str) -> str:
    """'2023-07' -> '2023年7月'; a report's delivery date -> its year."""
    year, _, rest = period.partition("-")
    month = rest[:2]
    return f"{year}年{int(month)}月" if month else f"{year}年"


def day_label(iso: str) -> str:
    """'2023-07-06' -> '7月6日'."""
    _year, month, day = iso.split("-")
    return f"{int(month)}月{int(day)}日"


__all__ = ["Corpus", "CorpusItem", "day_label", "load_corpus", "month_label", "sentences", "squash", "stable_hash", "windows"]
