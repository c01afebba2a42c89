"""A recording fake HTTP server: routes in a dict, every request kept, unknown paths fail the test."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    """What a route answers: status, JSON-able body or raw bytes, headers."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_event: threading.Event | None = None


Route = Callable[[Recorded], Reply]


class FakeServer:
    """ThreadingHTTPServer on 127.0.0.1:0. Register routes as `server.route("POST", "/path", fn)`.

    A route function may be replaced mid-test to simulate 500s, 429s or token expiry, and
    `lose_answers` makes calls take effect while their answers never arrive (a read timeout or a
    reset on the way back, the case that platform-side idempotency is for).
    """

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.requests: list[Recorded] = []
        self.unknown: list[Recorded] = []
        self._lost: list[list[Any]] = []  # [method, path, when, times left]
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, a keep-alive client waits
            # for its delayed ACK (~40 ms) before the body arrives.
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                rec = Recorded(
                    self.command, parts.path, parse_qs(parts.query), dict(self.headers), body
                )
                with fake._lock:
                    fake.requests.append(rec)
                    route = fake.routes.get((self.command, parts.path))
                if route is None:
                    with fake._lock:
                        fake.unknown.append(rec)
                    reply = Reply(404, {"error": "no such route in fake"})
                else:
                    reply = route(rec)
                if fake._take_loss(rec):
                    # Done, but the answer never arrives: the client sees the connection close,
                    # as after a read timeout or a reset on the way back.
                    self.close_connection = True
                    return
                if reply.delay_event is not None:
                    reply.delay_event.wait(10)
                payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                content_type = reply.headers.get("Content-Type", "application/json")
                self.send_header("Content-Type", content_type)
                for k, v in reply.headers.items():
                    if k != "Content-Type":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # A short poll interval: shutdown() waits for the next poll (0.5 s by default).
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:54321"""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, method: str, path: str, fn: Route) -> None:
        """Register or replace a route."""
        with self._lock:
            self.routes[(method, path)] = fn

    def lose_answers(
        self,
        method: str,
        path: str,
        times: int = 1,
        when: Callable[[Recorded], bool] | None = None,
    ) -> None:
        """The next `times` calls on `path` (that `when` accepts) take effect, but their
        answers are lost: the platform acted, the bot cannot know it."""
        with self._lock:
            self._lost.append([method, path, when, times])

    def _take_loss(self, rec: Recorded) -> bool:
        with self._lock:
            for loss in self._lost:
                method, path, when, left = loss
                mine = left and (method, path) == (rec.method, rec.path)
                if mine and (when is None or when(rec)):
                    loss[3] -= 1
                    return True
            return False

    def calls(self, path: str, method: str | None = None) -> list[Recorded]:
        """Requests received on `path`."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.path == path and (method is None or r.method == method)
            ]

    def start(self) -> FakeServer:
        """Start serving in a daemon thread."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Shut down; a test that hit an unknown path fails here."""
        self.httpd.shutdown()
        self.httpd.server_close()
        assert not self.unknown, (
            f"fake got unknown paths: {[(r.method, r.path) for r in self.unknown]}"
        )
