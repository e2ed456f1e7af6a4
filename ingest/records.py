"""Typed records that flow between the ingest stages: Document -> Item -> Chunk."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

# bulletin and report have their own parsers; the others are told apart by ingest.generic.
DocumentKind = Literal["bulletin", "report", "notice", "news", "generic"]


@dataclass(frozen=True)
class ParsedItem:
    """One source item as a parser finds it, before it gets its stable id.

    section: the section path joined with "/" (e.g. "时政/领导活动"), spaced headings normalised.
    date / date_end: ISO dates ("2023-02-09"); date_end only for ranges like 2月9日至10日.
    line_start / line_end: 1-based, inclusive line span of the item's body in the source file.
    """

    section: str
    title: str
    text: str
    line_start: int
    line_end: int
    date: str | None = None
    date_end: str | None = None


@dataclass(frozen=True)
class DocumentMeta:
    """What a parser infers about the whole document, with the evidence for it."""

    kind: DocumentKind
    title: str
    period: str  # "2023-07" for a bulletin; the delivery date "2021-02-07" for a report; the own date of others; "" if unknown
    evidence: str = ""  # why: the text or rule the period was inferred from


@dataclass(frozen=True)
class ParsedDocument:
    meta: DocumentMeta
    items: list[ParsedItem]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Item:
    """A source item a person can cite: stable id, where it sits, and its full text."""

    item_id: str
    file: str
    kind: DocumentKind
    position: int
    section: str
    title: str
    text: str
    line_start: int
    line_end: int
    date: str | None = None
    date_end: str | None = None
    # Sentences of text (or the title) that address the model or the reader instead of reporting
    # (ingest.untrusted): shown, never used as evidence. Stored as JSON text in the catalog.
    flagged: tuple[str, ...] = ()
    page: int | None = None  # first page of the item in a paged source (PDF, scan); None otherwise
    page_end: int | None = None

    @property
    def month(self) -> str | None:
        return self.date[:7] if self.date else None


@dataclass(frozen=True)
class Document:
    file: str
    kind: DocumentKind
    title: str
    period: str
    evidence: str
    sha256: str
    items: int
    pages: int = 0  # pages of a paged source (PDF, scan), 0 otherwise
    format: str = ""  # how it was read: "text/utf-8", "pdf", "pdf+ocr", "docx", "html", "image+ocr"
    supersedes: str = ""  # JSON list of {"file", "sha256"}: earlier versions this revision replaced


@dataclass(frozen=True)
class Chunk:
    """A piece of one item's text (never crossing items), headed by "section > title (date)"."""

    chunk_id: str
    item_id: str
    file: str
    ordinal: int
    text: str
    tokens: int


def content_hash(*parts: str, length: int = 12) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:length]


ITEM_HASH_CHARS = 10  # the content hash that ends an item id: equal for identical items (revisions use it)


def make_item_id(file: str, position: int, title: str, text: str) -> str:
    """Stable across re-ingests: the same file, position and content give the same id."""
    stem = file.rsplit(".", 1)[0]
    return f"{stem}#{position:04d}-{content_hash(title, text, length=ITEM_HASH_CHARS)}"
