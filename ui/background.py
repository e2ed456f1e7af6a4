"""Consume a blocking iterator (an answer stream) in a thread, so the web handler never blocks on it.

Gradio stops a generation (stop button, closed tab) by closing the handler's generator, which it
can only do while the handler is suspended at a `yield`. A local LLM may take many seconds before
its first word; a handler blocked inside `next(answer_stream)` all that time could not be stopped,
and its queue slot would stay taken. With the stream in a thread, the handler polls and yields a
heartbeat (None) every `poll_seconds`; when it is closed it tells the thread, which closes the
answer stream (stopping the LLM) as soon as that stream hands over its next piece.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_ITEM, _ERROR, _END = "item", "error", "end"


class BackgroundStream(Generic[T]):
    def __init__(self, start: Callable[[], Iterator[T]], name: str = "heluo-answer") -> None:
        self._pieces: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(start,), name=name, daemon=True)
        self._thread.start()

    def _run(self, start: Callable[[], Iterator[T]]) -> None:
        try:
            stream = start()
            try:
                for piece in stream:
                    if self._stop.is_set():
                        break
                    self._pieces.put((_ITEM, piece))
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
        except BaseException as error:  # handed to the consumer, which reports it
            self._pieces.put((_ERROR, error))
        else:
            self._pieces.put((_END, None))
        finally:
            self._closed.set()

    def poll(self, poll_seconds: float = 0.25) -> Iterator[T | None]:
        """The stream's pieces in order, and None whenever `poll_seconds` pass without one."""
        while True:
            try:
                kind, value = self._pieces.get(timeout=poll_seconds)
            except queue.Empty:
                yield None
                continue
            if kind == _ERROR:
                raise value
            if kind == _END:
                return
            yield value

    def close(self) -> None:
        """Stop consuming: the stream is closed when it yields next (at once if it already ended)."""
        self._stop.set()

    def wait_closed(self, timeout: float | None = None) -> bool:
        """True once the stream has been closed (for tests and orderly shutdown)."""
        return self._closed.wait(timeout)
