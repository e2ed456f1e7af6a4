"""Bounds on a stream of LLM text: a token budget, a time budget, and a guard against output that repeats itself.

A small model asked for a month overview can loop ("重要会议、重要会议、…") until it runs out of
tokens, minutes later. Whatever the backend, its pieces pass through `BoundedStream`, which stops
at the first budget reached and says why (`stop_reason`), so the caller keeps what was said before
and tells the user. Waiting for a piece that never comes is bounded by the backends themselves
(the local model's queue wait, the HTTP client's read timeout): a blocking read cannot be
interrupted from here.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from ingest.tokens import count_tokens

StopReason = Literal["", "tokens", "time", "repetition"]

# The Chinese words for why a generation was cut short, shown in notices.
STOP_WORDS: dict[str, str] = {"tokens": "达到长度上限", "time": "达到时间上限", "repetition": "出现重复内容"}

# Backends count tokens with their own tokenizer (Qwen's packs Chinese tighter than cl100k_base);
# this stream's count is a safety net for servers that ignore max_tokens, so it allows slack.
_TOKEN_SLACK = 2.0


@dataclass(frozen=True)
class Budget:
    """What one generation may spend: output tokens, wall-clock seconds, and seconds until its first text."""

    tokens: int
    seconds: float
    first_text_seconds: float


class RepetitionGuard:
    """Detects text that repeats itself: a periodic tail, or one long phrase said again and again.

    - periodic tail: the last `3 * period` characters (at least `min_run_chars`) repeat a unit of
      1-`max_period` characters ("重要会议、重要会议、重要会议、", "。。。。。。。。。。。。");
    - phrase: a run of `phrase_chars` characters occurring `max_phrase_repeats` times anywhere.
    A list of distinct items shares short phrases ("江凌到", "县调研") but not 16 characters thrice.
    """

    def __init__(self, max_period: int = 40, min_run_chars: int = 12, phrase_chars: int = 16, max_phrase_repeats: int = 3) -> None:
        self.max_period = max_period
        self.min_run_chars = min_run_chars
        self.phrase_chars = phrase_chars
        self.max_phrase_repeats = max_phrase_repeats
        self._text = ""
        self._phrases: Counter[str] = Counter()

    def feed(self, piece: str) -> bool:
        """Add a piece of output; True when the output now repeats itself."""
        start = len(self._text)
        self._text += piece
        repeated = False
        for end in range(max(start + 1, self.phrase_chars), len(self._text) + 1):
            phrase = self._text[end - self.phrase_chars : end]
            if phrase.strip():
                self._phrases[phrase] += 1
                repeated = repeated or self._phrases[phrase] >= self.max_phrase_repeats
        return repeated or self._periodic_tail()

    def _periodic_tail(self) -> bool:
        text = self._text.rstrip()
        for period in range(1, self.max_period + 1):
            span = max(3 * period, self.min_run_chars)
            if span > len(text):
                break
            tail = text[-span:]
            if tail[period:] == tail[:-period] and tail[:period].strip():
                return True
        return False


class BoundedStream:
    """The text of a chat model's stream until it ends or a budget is reached; `stop_reason` says which.

    Empty pieces come through too: a backend sends them while it reads the prompt, so whoever
    iterates gets the chance to stop before the first word.
    `chunks` are message chunks (or strings); a chunk whose metadata says the backend stopped at
    its own token limit (`finish_reason` "length") counts as reaching the token budget. Closing
    this iterator (or leaving it early) closes the source, so an HTTP response or a local
    generation stops with it.
    """

    def __init__(self, chunks: Iterable[Any], budget: Budget, clock: Callable[[], float] = time.monotonic) -> None:
        self._chunks = chunks
        self._budget = budget
        self._clock = clock
        self.stop_reason: StopReason = ""
        self.guard = RepetitionGuard()

    def __iter__(self) -> Iterator[str]:
        deadline = self._clock() + self._budget.seconds
        token_limit = self._budget.tokens * _TOKEN_SLACK
        tokens = 0
        try:
            for chunk in self._chunks:
                piece = _text(chunk)
                repeated = False
                if piece:
                    tokens += count_tokens(piece)
                    repeated = self.guard.feed(piece)
                yield piece  # even empty: the consumer may stop while the model is still reading
                if repeated:
                    self.stop_reason = "repetition"
                elif tokens >= token_limit or _finish_reason(chunk) == "length":
                    self.stop_reason = "tokens"
                elif self._clock() >= deadline:
                    self.stop_reason = "time"
                if self.stop_reason:
                    return
        finally:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()


def _text(chunk: Any) -> str:
    content = chunk if isinstance(chunk, str) else getattr(chunk, "content", "")
    if isinstance(content, str):
        return content
    return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in content if isinstance(part, (str, dict)))


def _finish_reason(chunk: Any) -> str | None:
    metadata = getattr(chunk, "response_metadata", None) or {}
    return metadata.get("finish_reason")
