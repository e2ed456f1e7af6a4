"""Split items into chunks: never across items, each headed by "section > title (date)", within a token budget."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ingest.records import Chunk, Item, content_hash
from ingest.textutil import split_sentences
from ingest.tokens import count_tokens


@dataclass(frozen=True)
class _Piece:
    text: str
    tokens: int


def chunk_header(item: Item) -> str:
    when = item.date or ""
    if item.date and item.date_end:
        when = f"{item.date}至{item.date_end}"
    path = " > ".join(part for part in (item.section, item.title) if part)
    return f"{path}（{when}）" if when else path


def chunk_item(
    item: Item,
    max_tokens: int = 320,
    overlap_tokens: int = 40,
    counter: Callable[[str], int] = count_tokens,
) -> list[Chunk]:
    """Chunks of one item. Long items are split at Chinese sentence ends with a small overlap."""
    if max_tokens < 64:
        raise ValueError("chunk_tokens must be at least 64 (HELUO_CHUNK_TOKENS)")
    header = chunk_header(item)
    budget = max(32, max_tokens - counter(header) - 1)
    pieces = _split(item.text, budget, counter)
    bodies = _merge(pieces, budget, overlap_tokens)
    return [_make_chunk(item, ordinal, header, body, counter) for ordinal, body in enumerate(bodies)]


def _split(text: str, budget: int, counter: Callable[[str], int]) -> list[_Piece]:
    """Sentences, with any sentence longer than the budget cut at commas, then hard-cut."""
    pieces = []
    for sentence in split_sentences(text):
        tokens = counter(sentence)
        if tokens <= budget:
            pieces.append(_Piece(sentence, tokens))
        else:
            pieces.extend(_cut_long(sentence, budget, counter))
    return pieces


def _cut_long(sentence: str, budget: int, counter: Callable[[str], int]) -> list[_Piece]:
    out, current = [], ""
    for part in _clauses(sentence):
        candidate = current + part
        if current and counter(candidate) > budget:
            out.append(current)
            current = part
        else:
            current = candidate
        while counter(current) > budget:  # a clause with no comma longer than the budget
            cut = max(1, len(current) * budget // counter(current))
            out.append(current[:cut])
            current = current[cut:]
    if current:
        out.append(current)
    return [_Piece(text, counter(text)) for text in out]


def _clauses(sentence: str) -> list[str]:
    parts, start = [], 0
    for index, ch in enumerate(sentence):
        if ch in "，、,：:":
            parts.append(sentence[start : index + 1])
            start = index + 1
    if start < len(sentence):
        parts.append(sentence[start:])
    return parts


def _merge(pieces: list[_Piece], budget: int, overlap_tokens: int) -> list[str]:
    """Greedy packing; each new chunk starts with the previous chunk's last sentences up to the overlap."""
    chunks: list[list[_Piece]] = []
    current: list[_Piece] = []
    used = 0
    for piece in pieces:
        if current and used + piece.tokens > budget:
            chunks.append(current)
            current = _overlap_tail(current, overlap_tokens, budget - piece.tokens)
            used = sum(p.tokens for p in current)
        current.append(piece)
        used += piece.tokens
    if current:
        chunks.append(current)
    return ["".join(p.text for p in chunk) for chunk in chunks]


def _overlap_tail(previous: list[_Piece], overlap_tokens: int, room: int) -> list[_Piece]:
    tail: list[_Piece] = []
    used = 0
    for piece in reversed(previous):
        if used + piece.tokens > min(overlap_tokens, room):
            break
        tail.insert(0, piece)
        used += piece.tokens
    return tail


def _make_chunk(item: Item, ordinal: int, header: str, body: str, counter: Callable[[str], int]) -> Chunk:
    text = f"{header}\n{body}"
    chunk_id = f"{item.item_id}/{ordinal}-{content_hash(text, length=8)}"
    return Chunk(chunk_id=chunk_id, item_id=item.item_id, file=item.file, ordinal=ordinal, text=text, tokens=counter(text))
