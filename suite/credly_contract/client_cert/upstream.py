"""What the integration talks to: a fresh, seeded emulator (``emulated``), or a recording reverse proxy on
loopback in front of the configured live target (``live``, e.g. staging). Both are served with the
recorder around them and hand the integration the same five CREDLY_* variables. Both serve HTTPS by
default (real Credly is HTTPS only) with a certificate authority made for the run, which the
integration is told to trust (``LoopbackTLS.environment()``); ``scheme="http"`` serves plain HTTP.
"""

from __future__ import annotations

import httpx
from starlette.types import Receive, Scope, Send

from credly_contract.client_cert.exchanges import TOKEN
from credly_contract.client_cert.injections import TOKEN_EXPIRED
from credly_contract.client_cert.middleware import Recorder
from credly_contract.config import ENVIRONMENT, Target
from credly_contract.emulator.app import API_PREFIX, TOKEN_PATH, credly_error
from credly_contract.emulator.server import EmulatorServer, LoopbackServer, LoopbackTLS
from credly_contract.http_client import GATEWAY_STATUSES
from credly_contract.transport import httpx_async_client

# This many 502/503/504 in a row from the live target (not the injected 503) mean it is down.
TARGET_DOWN_AFTER = 3
# With the bootstrap application, 121 applications: three pages at the documented default of 50.
SEEDED_APPLICATIONS = 120
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

    def environment(self) -> dict[str, str]:
        """The variables the integration is run with: the five CREDLY_* settings and, over HTTPS,
        where the run's certificate authority is."""
        values = {
            "api_base_url": self.origin + API_PREFIX,
            "token_url": self.origin + TOKEN_PATH,
            "organization_id": self.organization_id,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        trust = self.tls.environment() if self.tls is not None else {}
        return {ENVIRONMENT[key]: value for key, value in values.items()} | trust

    def public(self) -> dict[str, str]:
        """The certificate's target: what the integration was pointed at (never credentials)."""
        return {
            "kind": self.kind,  # emulated or live, as certificate.schema.json names target kinds
            "api_base_url": self.origin + API_PREFIX,
            "token_url": self.origin + TOKEN_PATH,
            "organization_id": self.organization_id,
            "scheme": self.scheme,
        }

    def known_secrets(self) -> list[str]:
        return [self.client_secret]

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
        self.trust = target.trust()  # the same CAs and proxies as the suite's own clients
        recorder.upstream = self
        self.server = LoopbackServer(
            recorder.wrap(self.forward), name="recording proxy", tls=self.tls
        )

    def kill_token(self, token: str, injection: str) -> None:
        self._dead.add(token)
        if injection == TOKEN_EXPIRED:  # every token issued so far reaches its expires_in
            for exchange in list(self.recorder.exchanges):
                body = exchange.response_json() if exchange.kind == TOKEN else None
                if isinstance(body, dict) and isinstance(body.get("access_token"), str):
                    self._dead.add(body["access_token"])

    def is_dead(self, token: str) -> bool:
        return token in self._dead

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
        query = scope.get("query_string", b"")
        if query:
            url += "?" + query.decode("latin-1")
        body = (await receive()).get("body", b"")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _REQUEST_HEADERS_DROPPED]
        try:
            client = httpx_async_client(url, self.trust, timeout=self.timeout)
            async with client:
                response = await client.request(scope["method"], url, headers=headers, content=body)
        except httpx.TransportError as error:
            self.target_down.append(
                f"{scope['method']} {url} got no answer: {type(error).__name__}: {error}"
            )
            await credly_error(502, "The live target could not be reached.")(scope, receive, send)
            return
        self._count_gateway_errors(scope["method"], url, response.status_code)
        content = response.content
        mine = self.origin + API_PREFIX
        for theirs, ours in (
            (self.target.api_base_url, mine),
            (_json_escaped(self.target.api_base_url), _json_escaped(mine)),
        ):
            content = content.replace(theirs.encode(), ours.encode())
        out = [
            (k, v) for k, v in response.headers.raw if k.lower() not in _RESPONSE_HEADERS_DROPPED
        ]
        out.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": response.status_code, "headers": out})
        await send({"type": "http.response.body", "body": content})

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


def _json_escaped(url: str) -> str:
    return url.replace("/", "\\/")
