"""HTTP hardening for the web app: security headers on every response, login throttling.

An ASGI middleware on Gradio's FastAPI app (`ui.web.serve` passes it through `app_kwargs`):
- Content-Security-Policy: images, scripts, styles, fonts, frames and connections only from the
  page's own origin (plus data:/blob: images, which Gradio draws itself). Whatever slips through
  rendering, a remote `<img>` or script is not loaded. Gradio needs its inline scripts and styles,
  and 'unsafe-eval' (it compiles event handlers' `js=` strings with `new Function`; measured: the
  page stays blank without it).
- Login throttling (when HELUO_AUTH is set): after each failed login, the same client's next
  attempt waits longer (1 s, 2 s, 4 s … up to 30 s; a success resets it), and a client may not
  have two attempts in flight, so waiting cannot be side-stepped by sending attempts in parallel.
  Clients are told apart by their address (behind a reverse proxy, that is the proxy's).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "frame-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    )
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
_LOGIN_PATHS = ("/login", "/login/")
_BUSY_MESSAGE = "上一次登录尝试尚未完成，请稍候再试。"


@dataclass
class _Attempts:
    failures: int = 0
    retry_at: float = 0.0
    busy: bool = False
    seen: float = 0.0


class LoginThrottle:
    """Per-client delay before a login attempt, doubling with each consecutive failure."""

    def __init__(self, base_seconds: float = 1.0, max_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic,
                 forget_after: float = 3600.0, max_clients: int = 10_000) -> None:
        self.base_seconds = base_seconds
        self.max_seconds = max_seconds
        self.clock = clock
        self.forget_after = forget_after
        self.max_clients = max_clients
        self._clients: dict[str, _Attempts] = {}

    def wait(self, client: str) -> float:
        """Seconds this client must wait before its next attempt is checked (0 when none)."""
        attempts = self._clients.get(client)
        return max(0.0, attempts.retry_at - self.clock()) if attempts else 0.0

    def record(self, client: str, succeeded: bool) -> None:
        if succeeded:
            self._clients.pop(client, None)
            return
        self._forget_idle()
        attempts = self._clients.setdefault(client, _Attempts())
        attempts.failures += 1
        now = self.clock()
        attempts.retry_at = now + min(self.max_seconds, self.base_seconds * 2 ** (attempts.failures - 1))
        attempts.seen = now

    def begin(self, client: str) -> bool:
        """Mark an attempt in flight; False if the client already has one."""
        attempts = self._clients.setdefault(client, _Attempts(seen=self.clock()))
        if attempts.busy:
            return False
        attempts.busy = True
        return True

    def end(self, client: str) -> None:
        attempts = self._clients.get(client)
        if attempts is not None:
            attempts.busy = False
            if not attempts.failures:
                self._clients.pop(client, None)

    def _forget_idle(self) -> None:
        if len(self._clients) < self.max_clients:
            return
        cutoff = self.clock() - self.forget_after
        for client in [c for c, a in self._clients.items() if not a.busy and a.seen < cutoff]:
            del self._clients[client]


class GuardMiddleware:
    """Adds SECURITY_HEADERS to every HTTP response; throttles POST /login when given a throttle."""

    def __init__(self, app, throttle: LoginThrottle | None = None) -> None:
        self.app = app
        self.throttle = throttle

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status: list[int] = []

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        if self.throttle is None or scope["method"] != "POST" or scope["path"] not in _LOGIN_PATHS:
            await self.app(scope, receive, send_with_headers)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        if not self.throttle.begin(client):
            await _reply(send_with_headers, 429, _BUSY_MESSAGE)
            return
        try:
            await asyncio.sleep(self.throttle.wait(client))
            await self.app(scope, receive, send_with_headers)
            if status:
                self.throttle.record(client, succeeded=status[0] < 400)
        finally:
            self.throttle.end(client)


async def _reply(send, code: int, message: str) -> None:
    body = json.dumps({"detail": message}, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": code,
                "headers": [(b"content-type", b"application/json; charset=utf-8"), (b"retry-after", b"1")]})
    await send({"type": "http.response.body", "body": body})


def guard_middleware(throttle_logins: bool) -> Middleware:
    """The middleware entry for FastAPI's `middleware=[…]` (Gradio's `launch(app_kwargs=…)`)."""
    return Middleware(GuardMiddleware, throttle=LoginThrottle() if throttle_logins else None)
