"""What the integration talks to: a fresh, seeded emulator (``emulated``), or a recording reverse proxy on
loopback in front of the configured live target (``live``, e.g. staging). Both are served with the
recorder around them and hand the integration the same five CREDLY_* variables. Both serve HTTPS by
default (real Credly is HTTPS only) with a certificate authority made for the run, which the
integration is told to trust (``LoopbackTLS.environment()``); ``scheme="http"`` serves plain HTTP.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from starlette.types import Receive, Scope, Send

from credly_contract.client_cert import contract
from credly_contract.client_cert.exchanges import TOKEN
from credly_contract.client_cert.injections import TOKEN_EXPIRED
from credly_contract.client_cert.middleware import Recorder
from credly_contract.config import Target
from credly_contract.emulator.app import API_PREFIX, TOKEN_PATH, credly_error
from credly_contract.emulator.server import EmulatorServer, LoopbackServer, LoopbackTLS
from credly_contract.http_client import DROPPED, GATEWAY_STATUSES, repeatable
from credly_contract.transport import httpx_async_client

# This many 502/503/504 in a row from the live target (not the injected 503) mean it is down.
TARGET_DOWN_AFTER = 3
# With the bootstrap application, 121 applications: three pages at the documented default of 50.
SEEDED_APPLICATIONS = 120
# The live upstream's smaller_pages: a list is served in at most this many pages, so that a correct
# client walks several pages in any organization with 2 or more applications (staging's may hold
# fewer than the documented default page of 50).
SMALLER_PAGES = 3
SMALLER_PAGES_INJECTION = "smaller_pages"
# Hop-by-hop and length headers are the proxy's own business, not the integration's.
_REQUEST_HEADERS_DROPPED = {b"host", b"content-length", b"connection", b"accept-encoding"}
_RESPONSE_HEADERS_DROPPED = {
    b"content-length",
    b"content-encoding",
    b"transfer-encoding",
    b"connection",
}


class _Base:
    kind = ""
    recorder: Recorder
    organization_id = client_id = client_secret = ""

    server: LoopbackServer

    def __init__(self, scheme: str) -> None:
        self.tls = LoopbackTLS() if scheme == "https" else None
        # Why the live target gave no usable answer (no HTTP answer, or repeated gateway errors):
        # the run is then an error (exit 3), not a verdict on the integration.
        self.target_down: list[str] = []

    @property
    def origin(self) -> str:
        return self.server.origin

    @property
    def scheme(self) -> str:
        return self.server.scheme

    def pointed_at(self) -> Target:
        """What the integration is pointed at: this proxy, with the run's bootstrap application."""
        return Target(
            # emulated or live, as certificate.schema.json names target kinds
            kind=self.kind,
            api_base_url=self.origin + API_PREFIX,
            token_url=self.origin + TOKEN_PATH,
            organization_id=self.organization_id,
            client_id=self.client_id,
            client_secret=self.client_secret,
        )

    def environment(self) -> dict[str, str]:
        """The variables the integration is run with: the five CREDLY_* settings and, over HTTPS,
        where the run's certificate authority is."""
        trust = self.tls.environment() if self.tls is not None else {}
        return self.pointed_at().environment() | trust

    def public(self) -> dict[str, str | None]:
        """The certificate's target: what the integration was pointed at (never credentials)."""
        return self.pointed_at().public() | {"scheme": self.scheme}

    def known_secrets(self) -> list[str]:
        return [self.client_secret]

    def injections(self) -> list[dict[str, object]]:
        """What the upstream itself shapes, named in the certificate beside the injector's."""
        return []

    def is_dead(self, token: str) -> bool:
        return False

    def __enter__(self) -> _Base:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.recorder.origin = self.origin
        self.server.start()

    def stop(self) -> None:
        self.server.stop()
        if self.tls is not None:
            self.tls.close()


class EmulatedUpstream(_Base):
    """A fresh emulator with one organization holding more applications than fit on one page."""

    kind = "emulated"
    server: EmulatorServer

    def __init__(
        self,
        recorder: Recorder,
        seed_applications: int = SEEDED_APPLICATIONS,
        scheme: str = "https",
    ) -> None:
        super().__init__(scheme)
        self.recorder = recorder
        self.server = EmulatorServer(
            seed_applications=seed_applications, middleware=recorder.wrap, tls=self.tls
        )
        recorder.upstream = self
        bootstrap = self.server.bootstrap
        self.organization_id = bootstrap.organization_id
        self.client_id, self.client_secret = bootstrap.client_id, bootstrap.client_secret

    def kill_token(self, token: str, injection: str) -> None:
        store = self.server.store
        if injection == TOKEN_EXPIRED:
            store.clock.advance(store.token_lifetime)  # every token reaches its expires_in
        elif token in store.tokens:
            store.tokens[token].revoked = True

    def known_secrets(self) -> list[str]:
        return self.server.issued_secrets()


class LiveUpstream(_Base):
    """A recording reverse proxy on 127.0.0.1 in front of a live target. It forwards /oauth/token to the
    target's token URL and /v1/... to its API, rewrites the target's API URL in answers (next_page_url)
    to its own, and synthesizes what it cannot make the target do: 429, 503 and lost tokens (a token
    the proxy declared dead answers 401 invalid_token from the proxy)."""

    kind = "live"
    transport = "recording proxy"

    def __init__(
        self, recorder: Recorder, target: Target, timeout: float = 10.0, scheme: str = "https"
    ) -> None:
        super().__init__(scheme)
        self.recorder = recorder
        self.target = target
        self.timeout = timeout
        self.organization_id = target.organization_id
        self.client_id, self.client_secret = target.client_id, target.client_secret
        self._dead: set[str] = set()
        self._gateway_streak = 0
        # list path -> the page size the proxy asks the target for (None: too few to page)
        self._page_size: dict[str, int | None] = {}
        self._smaller_pages_at: int | None = None  # the first exchange it shaped
        self.trust = target.trust()  # the same CAs and proxies as the suite's own clients
        self._client: httpx.AsyncClient | None = None  # while the proxy serves
        recorder.upstream = self
        self.server = LoopbackServer(
            recorder.wrap(self.forward),
            name="recording proxy",
            tls=self.tls,
            lifespan=self._connected,
        )

    @asynccontextmanager
    async def _connected(self) -> AsyncIterator[None]:
        """One client to the target while the proxy serves, made and closed on the proxy's event
        loop: the proxied requests share its kept-alive connections (one TLS handshake for many
        requests, not one each)."""
        urls = [self.target.token_url, self.target.api_base_url]
        async with httpx_async_client(urls, self.trust, timeout=self.timeout) as client:
            self._client = client
            try:
                yield
            finally:
                self._client = None

    def kill_token(self, token: str, injection: str) -> None:
        self._dead.add(token)
        if injection == TOKEN_EXPIRED:  # every token issued so far reaches its expires_in
            for exchange in list(self.recorder.exchanges):
                body = exchange.response_json() if exchange.kind == TOKEN else None
                if isinstance(body, dict) and isinstance(body.get("access_token"), str):
                    self._dead.add(body["access_token"])

    def is_dead(self, token: str) -> bool:
        return token in self._dead

    def public(self) -> dict[str, Any]:
        """The live API and token URL that were certified; the loopback proxy the integration
        talked to is the transport."""
        return super().public() | {
            "api_base_url": self.target.api_base_url,
            "token_url": self.target.token_url,
            "transport": {
                "kind": self.transport,
                "api_base_url": self.origin + API_PREFIX,
                "token_url": self.origin + TOKEN_PATH,
            },
        }

    def injections(self) -> list[dict[str, object]]:
        return [
            {
                "name": SMALLER_PAGES_INJECTION,
                "description": f"the proxy asks the live target for smaller pages than the client "
                f"asked for (at most {SMALLER_PAGES} pages a list) and rewrites next_page_url, so a "
                "correct client walks several pages in any organization with 2 or more applications",
                "switched_off_by": None,
                "fired_at_exchange": self._smaller_pages_at,
            }
        ]

    async def _smaller_pages(
        self, client: httpx.AsyncClient, path: str, query: str, headers: list[Any]
    ) -> str:
        """The query a paginated list is forwarded with: the client's, with ``per`` lowered so the
        list spans at most SMALLER_PAGES pages. The size is learnt once per list from a one-item
        probe's metadata.total_count, sent with the client's own headers to the same target."""
        found = contract.match("GET", path[len(API_PREFIX) :])
        if found is None or not found[0].paginated:
            return query
        if path not in self._page_size:
            probe = self.target.api_base_url + path[len(API_PREFIX) :] + "?page=1&per=1"
            answer = await self._send(client, "GET", probe, headers=headers)
            if answer.status_code != 200:  # the client's own call will get the same answer
                return query
            metadata = answer.json().get("metadata")
            total = metadata.get("total_count") if isinstance(metadata, dict) else None
            self._page_size[path] = (
                max(1, math.ceil(total / SMALLER_PAGES))
                if isinstance(total, int) and total >= 2
                else None
            )
        size = self._page_size[path]
        params = parse_qsl(query, keep_blank_values=True)
        asked = next((v for k, v in reversed(params) if k == "per"), "")
        if size is None or (asked.isdigit() and int(asked) <= size):
            return query
        if self._smaller_pages_at is None:
            self._smaller_pages_at = next(
                (e.index for e in reversed(self.recorder.exchanges) if e.path == path), None
            )
        return urlencode([(k, v) for k, v in params if k != "per"] + [("per", str(size))])

    async def forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if path == TOKEN_PATH:
            url = self.target.token_url
        elif path.startswith(API_PREFIX + "/"):
            url = self.target.api_base_url + path[len(API_PREFIX) :]
        else:
            await credly_error(404, f"No route matches {scope['method']} {path}")(
                scope, receive, send
            )
            return
        query = scope.get("query_string", b"").decode("latin-1")
        body = (await receive()).get("body", b"")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _REQUEST_HEADERS_DROPPED]
        client = self._client
        assert client is not None, "the proxy forwards only while it serves"
        try:
            if scope["method"] == "GET" and path != TOKEN_PATH:
                query = await self._smaller_pages(client, path, query, headers)
            if query:
                url += "?" + query
            response = await self._send(client, scope["method"], url, headers=headers, content=body)
        except httpx.TransportError as error:
            self.target_down.append(
                f"{scope['method']} {url} got no answer: {type(error).__name__}: {error}"
            )
            await credly_error(502, "The live target could not be reached.")(scope, receive, send)
            return
        self._count_gateway_errors(scope["method"], url, response.status_code)
        content = response.content
        mine = self.origin + API_PREFIX
        # The target's links lead back through this proxy, also those it wrote downgraded to plain
        # http (a TLS terminator's): the integration's token then reaches only the proxy on
        # loopback, which forwards it to the configured https origin, never across the network
        # in the clear (RFC 6750 §5.3).
        for theirs in dict.fromkeys(
            [self.target.api_base_url, _downgraded(self.target.api_base_url)]
        ):
            for spelling, ours in ((theirs, mine), (_json_escaped(theirs), _json_escaped(mine))):
                content = content.replace(spelling.encode(), ours.encode())
        out = [
            (k, v) for k, v in response.headers.raw if k.lower() not in _RESPONSE_HEADERS_DROPPED
        ]
        out.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": response.status_code, "headers": out})
        await send({"type": "http.response.body", "body": content})

    async def _send(
        self, client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
    ) -> httpx.Response:
        """The target's answer, asked once more when the connection closed under a request that may
        be repeated (as ApiClient does): a kept-alive connection the target closed as it went out."""
        try:
            return await client.request(method, url, **kwargs)
        except DROPPED:
            if not repeatable(method, url, self.target):
                raise
            return await client.request(method, url, **kwargs)

    def _count_gateway_errors(self, method: str, url: str, status: int) -> None:
        if status not in GATEWAY_STATUSES:
            self._gateway_streak = 0
            return
        self._gateway_streak += 1
        if self._gateway_streak == TARGET_DOWN_AFTER:
            self.target_down.append(
                f"{method} {url} answered {status}, after {TARGET_DOWN_AFTER - 1} more 502/503/504 "
                "in a row: the target is down or overloaded"
            )


def _downgraded(url: str) -> str:
    """``url`` as an application behind a TLS terminator writes it: plain http, no port."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return url
    return parts._replace(scheme="http", netloc=parts.hostname or "").geturl()


def _json_escaped(url: str) -> str:
    return url.replace("/", "\\/")
