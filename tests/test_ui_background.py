"""The background answer stream the web handlers poll: a stop closes the source stream (which is
what stops an LLM), errors reach the consumer, and a slow first piece never blocks the consumer."""

from __future__ import annotations

import threading
import time

import pytest

from ui.background import BackgroundStream


class Source:
    """A generator that records how it ended; `gate` holds back its second piece."""

    def __init__(self, pieces=("a", "b", "c"), fail_at: int | None = None) -> None:
        self.pieces, self.fail_at = pieces, fail_at
        self.gate = threading.Event()
        self.closed = threading.Event()
        self.finished = False

    def __call__(self):
        try:
            for index, piece in enumerate(self.pieces):
                if index == 1:
                    self.gate.wait(5)
                if index == self.fail_at:
                    raise ValueError("问题不能为空")
                yield piece
            self.finished = True
        finally:
            self.closed.set()


def test_pieces_in_order_then_the_end():
    source = Source()
    source.gate.set()
    assert [p for p in BackgroundStream(source).poll(0.05) if p is not None] == ["a", "b", "c"]
    assert source.finished and source.closed.is_set()


def test_the_consumer_gets_heartbeats_while_the_source_thinks_and_closing_stops_the_source():
    source = Source()
    stream = BackgroundStream(source)
    polled = stream.poll(0.05)
    assert next(polled) == "a"
    started = time.perf_counter()
    assert next(polled) is None  # the source is stuck before "b": the consumer is not
    assert time.perf_counter() - started < 1
    stream.close()
    source.gate.set()  # the source hands over its next piece and is closed right there
    assert stream.wait_closed(2) and source.closed.is_set() and not source.finished


def test_an_error_in_the_source_reaches_the_consumer():
    source = Source(fail_at=0)
    with pytest.raises(ValueError, match="问题不能为空"):
        list(BackgroundStream(source).poll(0.05))
    assert source.closed.is_set()
