"""A tiny HTTP proxy on 127.0.0.1 in front of an emulator, with switches that make the target
misbehave the way staging sometimes does: 429 with Retry-After, 503 bursts, dropped connections,
answers lost after the target acted, slow deletes, a token endpoint that refuses a scope. It counts what it saw, so a test can prove
what the suite sent (and that it sent nothing at all).

    with FaultProxy(emulator.origin) as proxy:
        proxy.throttle_at = {30, 60}          # these request numbers answer 429 once
        proxy.outage(after=80, length=6)      # requests 81..86 answer 503
        ... point CREDLY_API_BASE_URL at proxy.api_base_url ...

Every exchange it forwards passes ``proxy.rewrite`` (None: untouched), which may change the request
on its way in and the response on its way out; tests/response_rewrites.py builds its rewrites on it.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
    "host",
}


@dataclass
class Wire:
    """One exchange as the proxy forwards it: the request (rewritable before it is sent upstream)
    and, once upstream answered, the response (rewritable before the client sees it)."""

    method: str
    path: str  # path and query, as the client sent them
    request_headers: dict[str, str]
    request_body: bytes
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    # The proxy's client to the target, for a rewrite that makes the target do more than it was asked.
    upstream: httpx.Client | None = field(default=None, repr=False, compare=False)


class Rewrite:
    """Changes exchanges on the wire. ``memory`` lives as long as the proxy, for rewrites that must
    stay consistent across exchanges (a value shown in one answer and sent back in a later request)."""

    def __init__(self) -> None:
        self.memory: dict[str, Any] = {}

    def request(self, wire: Wire) -> None:
        """Change ``wire``'s request before it goes upstream."""

    def response(self, wire: Wire) -> None:
        """Change ``wire``'s response before the client sees it."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up mid-answer (Ctrl-C, timeouts) are what the tests provoke


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.requests: list[tuple[str, str]] = []
        self.throttle_at: set[int] = set()
        self.retry_after = "1"
        self.throttled = 0
        self.outage_from: int | None = None
        self.outage_until: int | None = None  # None: the outage never ends
        self.outage_mode = "503"
        self.hold_deletes = 0.0
        self.delete_held = threading.Event()
        self.refused_scopes: set[str] = set()
        self.rewrite: Rewrite | None = None
        self.lost_at: set[int] = set()  # these request numbers lose their answer
        self.lose_next_of: tuple[str, str] | None = None  # (method, part of the path), once
        self.loss_rate = 0.0
        self._losses = random.Random(0)
        self.lost: list[tuple[str, str]] = []  # the requests whose answer was lost
        self._lock = threading.Lock()
        self._http = httpx.Client(base_url=self.upstream, timeout=30)
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base_url(self) -> str:
        return self.origin + "/v1"

    @property
    def token_url(self) -> str:
        return self.origin + "/oauth/token"

    def outage(self, after: int, length: int | None = None, mode: str = "503") -> None:
        """Requests after the ``after``-th fail (503, or ``mode="close"``: dropped unanswered)."""
        self.outage_from = after
        self.outage_until = None if length is None else after + length
        self.outage_mode = mode

    def heal(self) -> None:
        self.outage_from = None

    def lose_answers(self, rate: float, seed: int = 0) -> None:
        """Lose this share of answers, drawn at random (reproducibly, from ``seed``): the request
        reaches the target, which acts on it, and the connection is closed instead of answering,
        as a load balancer that drops connections does."""
        self.loss_rate = rate
        self._losses = random.Random(seed)

    def lose_next(self, method: str, path_part: str) -> None:
        """Lose the answer to the next ``method`` request whose path holds ``path_part``."""
        self.lose_next_of = (method, path_part)

    def lose_nth(self, *numbers: int) -> None:
        """Lose the answers to these requests (numbered from 1, as ``requests`` counts them)."""
        self.lost_at |= set(numbers)

    def api_methods(self) -> list[str]:
        """The methods of every API request seen (token requests left out)."""
        return [method for method, path in self.requests if path.startswith("/v1/")]

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes: with Nagle's algorithm on, the body waits for the
            # client's delayed ACK, 40 ms per keep-alive answer (14 s over a quick certification).
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy._lock:
                    proxy.requests.append((self.command, self.path))
                    number = len(proxy.requests)
                    in_outage = (
                        proxy.outage_from is not None
                        and number > proxy.outage_from
                        and (proxy.outage_until is None or number <= proxy.outage_until)
                    )
                    throttle = number in proxy.throttle_at
                    if throttle:
                        proxy.throttled += 1
                if in_outage and proxy.outage_mode == "close":
                    self.close_connection = True
                    return
                if in_outage:
                    return self._answer(503, {"Content-Type": "text/plain"}, b"Service Unavailable")
                if throttle:
                    headers = {"Retry-After": proxy.retry_after, "Content-Type": "application/json"}
                    return self._answer(429, headers, b'{"error": "too many requests"}')
                if self.command == "DELETE" and proxy.hold_deletes:
                    proxy.delete_held.set()
                    time.sleep(proxy.hold_deletes)
                    return self._answer(503, {"Content-Type": "text/plain"}, b"held")
                if self.path.startswith("/oauth/token") and proxy.refused_scopes:
                    scopes = set(dict(parse_qsl(body.decode())).get("scope", "").split())
                    if scopes & proxy.refused_scopes:
                        error = b'{"error": "invalid_scope", "error_description": "not granted"}'
                        return self._answer(400, {"Content-Type": "application/json"}, error)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers["Host"] = self.headers.get("Host", "")
                wire = Wire(self.command, self.path, headers, body, upstream=proxy._http)
                rewrite = proxy.rewrite
                if rewrite is not None:
                    rewrite.request(wire)
                response = proxy._http.request(
                    wire.method, wire.path, headers=wire.request_headers, content=wire.request_body
                )
                wire.status = response.status_code
                wire.headers = {
                    k: v for k, v in response.headers.items() if k.lower() not in HOP_BY_HOP
                }
                wire.body = response.content
                if rewrite is not None:
                    rewrite.response(wire)
                with proxy._lock:
                    chosen = proxy.lose_next_of
                    lose_this = (
                        chosen is not None and self.command == chosen[0] and chosen[1] in self.path
                    )
                    if lose_this:
                        proxy.lose_next_of = None
                    lose = (
                        lose_this
                        or number in proxy.lost_at
                        or (proxy.loss_rate > 0 and proxy._losses.random() < proxy.loss_rate)
                    )
                    if lose:
                        proxy.lost.append((self.command, self.path))
                if lose:
                    self.close_connection = True  # the target acted; its answer never leaves
                    return
                self._answer(wire.status, wire.headers, wire.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

        return Handler
