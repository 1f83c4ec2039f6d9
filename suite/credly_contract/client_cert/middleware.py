"""An ASGI middleware that records every exchange of the integration under certification and applies the
run's injections. It wraps the emulator's app (``--upstream emulated``) or the forwarding proxy
(``--upstream live``) alike; what differs between the two is the ``Upstream`` it is given.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credly_contract.client_cert.exchanges import API, CLEAN, INJECTED, TOKEN, Observed
from credly_contract.client_cert.injections import (
    RATE_LIMITED,
    RETRY_AFTER_SECONDS,
    TOKEN_LOSSES,
    UNAVAILABLE,
    Injector,
)
from credly_contract.emulator import oauth
from credly_contract.emulator.app import TOKEN_PATH, credly_error
from credly_contract.scrub import basic_credentials, register


class Upstream(Protocol):
    """Where the recorder's requests go, and how a token is made to stop working there."""

    def kill_token(self, token: str, injection: str) -> None: ...

    def is_dead(self, token: str) -> bool: ...


class Recorder:
    """Records exchanges (raw, for the judges) and shapes API calls with the injections."""

    def __init__(self, injector: Injector) -> None:
        self.injector = injector
        self.upstream: Upstream | None = None
        self.app: ASGIApp | None = None
        self.exchanges: list[Observed] = []
        self.origin = ""
        self.phase = INJECTED  # CLEAN while the integration's run without injections goes on
        self._zero = time.monotonic()
        self._lock = threading.Lock()

    def wrap(self, app: ASGIApp) -> Recorder:
        self.app = app
        return self

    def now(self) -> float:
        return time.monotonic() - self._zero

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "Recorder.wrap(app) first"
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        with self._lock:
            index = len(self.exchanges)
            observed = Observed(
                index=index,
                kind=TOKEN if scope["path"] == TOKEN_PATH else API,
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1"),
                headers=_headers(scope["headers"]),
                body=body,
                started=self.now(),
                origin=self.origin,
                phase=self.phase,
            )
            self.exchanges.append(observed)
        if observed.kind == TOKEN:  # HTTP Basic credentials are masked even where printed bare
            scheme, _, value = observed.headers.get("authorization", "").partition(" ")
            if scheme.lower() == "basic":
                register(value.strip(), "CREDENTIAL")
        app = (self._shape(observed) if observed.kind == API else None) or self.app
        messages: list[Message] = []

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            messages.append(message)

        await app(scope, replay, capture)
        chunks = []
        for message in messages:
            if message["type"] == "http.response.start":
                observed.status = message["status"]
                observed.response_headers = _headers(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
        observed.response_body = b"".join(chunks)
        # Learn what was issued before the integration sees it, so its echoed output is scrubbed.
        _learn_secrets(observed)
        # Stamped before the answer leaves: whatever the client does in reaction starts later.
        observed.finished = self.now()
        for message in messages:
            await send(message)

    def _shape(self, observed: Observed) -> ASGIApp | None:
        """A synthesized answer for an injected API call, or None to serve it."""
        if observed.phase == CLEAN:
            return None
        injection = self.injector.next_api_call(observed)
        if injection is not None and injection.name == RATE_LIMITED:
            return credly_error(
                429,
                "Rate limit exceeded; retry later.",
                {"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        if injection is not None and injection.name == UNAVAILABLE:
            return credly_error(503, "The service is temporarily unavailable.")
        token = observed.bearer
        if injection is not None and injection.name in TOKEN_LOSSES and token:
            assert self.upstream is not None
            self.upstream.kill_token(token, injection.name)
        if token and self.upstream is not None and self.upstream.is_dead(token):
            error = oauth.BearerError(
                401, "The access token is invalid, expired or revoked.", "invalid_token"
            )
            return credly_error(401, error.message, oauth.bearer_error_headers(error, ()))
        return None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def _learn_secrets(observed: Observed) -> None:
    body = observed.response_json()
    if not isinstance(body, dict):
        return
    if observed.kind == TOKEN:
        register(body.get("access_token"), "ACCESS_TOKEN")
    data = body.get("data")
    if isinstance(data, dict):
        register(data.get("secret"), "CLIENT_SECRET")
        uid, secret = data.get("uid"), data.get("secret")
        if isinstance(uid, str) and isinstance(secret, str) and uid and secret:
            for value in basic_credentials(uid, secret):  # as HTTP Basic would carry them
                register(value, "CREDENTIAL")
