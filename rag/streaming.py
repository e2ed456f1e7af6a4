"""LLM text shown only once checked: pieces are held until a sentence is complete, then verified.

A streamed sentence is complete when its end punctuation is followed by something other than its
citation markers (which a model writes after or before the 。), or when its line ends. Each
complete stretch goes through the answer's `Verifier`, so an invented figure reaches the reader
without a citation and marked, never as a cited fact. A sentence the model already said is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.records import Citation
from rag.verify import CITATION_RE, SENTENCE_END, Verifier

_SENTENCE_END_RE = re.compile(
    rf"{SENTENCE_END}+[”’」』)）]*(?:[ \t\u3000]*[\[［【][0-9０-９,，、\s]*[\]］】])*"
)
# What may still follow a sentence end and belong to it: spaces, or the start of a marker.
_STILL_OPEN = " \t\u3000[［【"
_LINE_PREFIX_RE = re.compile(r"^\s*(?:[-*•·]\s*|\d{1,2}[.、)）]\s*)?")
_MIN_REPEAT_CHARS = 6  # "是的。" may come twice; a repeated sentence is longer


@dataclass(frozen=True)
class CheckedPiece:
    """Verified answer text ready to show, and the citations of the sentences it carries."""

    text: str
    citations: tuple[Citation, ...]


def complete_length(text: str) -> int:
    """Length of the longest prefix of `text` made of complete sentences and lines."""
    complete = text.rfind("\n") + 1
    for match in _SENTENCE_END_RE.finditer(text, complete):
        end = match.end()
        if end < len(text) and text[end] not in _STILL_OPEN:
            complete = end
    return complete


class SentenceStream:
    """Feed raw model text; get verified pieces back as sentences complete."""

    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier
        self.repeats = 0  # sentences dropped because the model had said them already
        self.shown = 0  # checked pieces shown
        self._pending = ""
        self._seen: set[str] = set()
        self._shown: list[str] = []

    @property
    def text(self) -> str:
        """The verified text shown so far."""
        return "".join(self._shown)

    def feed(self, piece: str) -> CheckedPiece | None:
        self._pending += piece
        length = complete_length(self._pending)
        if not length:
            return None
        ready, self._pending = self._pending[:length], self._pending[length:]
        return self._check(ready)

    def finish(self, complete: bool) -> CheckedPiece | None:
        """The rest of the text: checked when the model ended by itself, dropped when it was cut off mid-sentence."""
        rest, self._pending = self._pending, ""
        return self._check(rest) if complete and rest.strip() else None

    def _check(self, text: str) -> CheckedPiece | None:
        key = _LINE_PREFIX_RE.sub("", CITATION_RE.sub("", text)).strip()
        if len(key) >= _MIN_REPEAT_CHARS and key in self._seen:
            self.repeats += 1
            return None
        self._seen.add(key)
        checked = self.verifier.add(text)
        self._shown.append(checked.text)
        self.shown += bool(checked.checks)
        return CheckedPiece(checked.text, tuple(checked.citations))
