"""A real OpenAI-compatible HTTP server for tests, misbehaving on request: each request takes the next
behaviour from a script (the last one repeats).

Behaviours: "ok" (a streamed answer), "500", "invalid_json" (an SSE event that is not JSON),
"broken_sse" (a few pieces, then the connection drops mid-event), "hang" (headers never come),
"endless" (pieces forever, slowly; records when the client went away).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER_PIECES = ["2020年，", "洛阳市地区生产总值", "达到5128.4亿元", "[1]。"]


class FakeOpenAI(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: list[str], answer: list[str] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = list(script)
        self.answer = answer or ANSWER_PIECES
        self.requests: list[dict] = []
        self.client_gone = threading.Event()  # an "endless" stream found its client gone
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/v1"

    def next_behaviour(self) -> str:
        with self._lock:
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    server: FakeOpenAI

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        behaviour = self.server.next_behaviour()
        if behaviour == "500":
            self._send(500, b'{"error": {"message": "internal error", "type": "server_error"}}', "application/json")
        elif behaviour == "hang":
            self.server.stopping.wait(60)
        else:
            self._stream(behaviour)

    def _stream(self, behaviour: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            if behaviour == "invalid_json":
                self.wfile.write(b"data: {not json at all\n\n")
                self.wfile.flush()
                return
            pieces = self.server.answer
            if behaviour == "endless":
                pieces = (f"本月第{n}次会议召开。" for n in range(1, 100_000))
            for number, piece in enumerate(pieces):
                if self.server.stopping.is_set():
                    return
                self._event({"content": piece})
                if behaviour == "broken_sse" and number == 1:
                    self.wfile.write(b'data: {"id": "x", "choices": [{"delta": {"content": "\xe5')
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                if behaviour == "endless":
                    time.sleep(0.05)
            self._event({}, finish="stop")
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.server.client_gone.set()

    def _event(self, delta: dict, finish: str | None = None) -> None:
        payload = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "fake",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        self.wfile.write(b"data: " + json.dumps(payload, ensure_ascii=False).encode("utf-8") + b"\n\n")
        self.wfile.flush()

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass
