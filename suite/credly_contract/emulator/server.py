"""Serves ASGI apps as real HTTP servers (uvicorn) on loopback, in a background thread: the emulator
(`credly-contract emulate`, `certify --target emulated`, the project's own tests) and certify-client's
recording proxy alike, over plain HTTP or over HTTPS with a throwaway certificate authority
(``LoopbackTLS``).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from credly_contract.emulator.app import API_PREFIX, TOKEN_PATH, create_app
from credly_contract.emulator.faults import FAULTS, Faults
from credly_contract.emulator.store import Clock, Organization, Store


@dataclass(frozen=True)
class Bootstrap:
    """The organization and the all-scopes application whose credentials a client starts from."""

    organization_id: str
    client_id: str
    client_secret: str


def with_latency(app: ASGIApp, seconds: float) -> ASGIApp:
    """The ASGI app, answering every HTTP request ``seconds`` later, as a distant server would; the
    wait does not block the event loop, so concurrent requests wait side by side."""

    async def delayed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await asyncio.sleep(seconds)
        await app(scope, receive, send)

    return delayed


class LoopbackTLS:
    """A certificate authority made for one run (trustme) and the server certificate it issued for
    127.0.0.1 and localhost. Both private keys stay in this process's memory; only the CA's public
    certificate is written, into a temp folder of the run that ``close()`` removes.

    ``environment()`` is what an integration needs to trust it: the variables OpenSSL (and so
    Python's ssl, Ruby, Go), requests, curl and Node read, and ``CREDLY_CA_BUNDLE`` for integrations
    that take a CA file explicitly. Each names this CA alone: under certification the integration
    talks only to the emulator or the recording proxy, and a bundle of public roots beside it made
    every urllib request ~0.2 s slower (Python loads the whole file for each new connection), enough
    to hide a hot retry loop from CLIENT-BACKOFF.
    """

    def __init__(self) -> None:
        # Imported here: trustme loads cryptography, which plain-HTTP runs need not pay for.
        import trustme

        self._ca = trustme.CA(organization_name="credly-contract throwaway CA")
        self._server_cert = self._ca.issue_cert("127.0.0.1", "localhost")
        self.folder = Path(tempfile.mkdtemp(prefix="credly-contract-ca-"))
        self.ca_file = self.folder / "ca.pem"
        self.ca_file.write_bytes(self._ca.cert_pem.bytes())

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server_cert.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this CA only (the project's own tests)."""
        context = ssl.create_default_context()
        self._ca.configure_trust(context)
        return context

    def environment(self) -> dict[str, str]:
        ca = str(self.ca_file)
        names = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
        return dict.fromkeys(names, ca) | {"CREDLY_CA_BUNDLE": ca}

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Lifespan = Callable[[], AbstractAsyncContextManager[object]]


class _Uvicorn(uvicorn.Server):
    """uvicorn's server, serving inside ``lifespan`` entered on its own event loop. (The ASGI
    lifespan protocol would not do: uvicorn skips its shutdown under force_exit, which stop() sets.)"""

    def __init__(self, config: uvicorn.Config, lifespan: Lifespan) -> None:
        super().__init__(config)
        self._lifespan = lifespan

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        async with self._lifespan():
            await super().serve(sockets)


class LoopbackServer:
    """An ASGI app served by uvicorn on ``host:port`` (``port=0`` picks a free port).

    The socket is bound at construction, so ``origin`` is known before the server starts. Use as a
    context manager, or call start() and stop(); serve_forever() serves in the calling thread. With
    ``tls`` it serves HTTPS with that run's certificate (the caller owns ``tls`` and closes it).
    ``lifespan`` makes what the app holds open while it serves, on the server's event loop (the
    recording proxy's client to the live target): entered before the server starts, left after it
    stops.
    """

    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "loopback",
        tls: LoopbackTLS | None = None,
        lifespan: Lifespan = nullcontext,
    ) -> None:
        self.name = name
        self.tls = tls
        # proto=IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted connections (else 40 ms per keep-alive request).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        # Listening from here on: whoever reads the origin (emulate prints it before serving) may
        # connect at once; the backlog holds the connection until the server accepts it. (Listening
        # only in serve_forever() refused connections that came between the print and the serve.)
        self._socket.listen(128)
        self.host: str
        self.port: int
        self.host, self.port = self._socket.getsockname()[:2]
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            ssl_context_factory=None if tls is None else lambda *_: tls.server_context(),
        )
        self._server = _Uvicorn(config, lifespan)
        self._thread: threading.Thread | None = None

    @property
    def scheme(self) -> str:
        return "http" if self.tls is None else "https"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            daemon=True,
            name=self.name,
        )
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the {self.name} failed to start")
            self._thread.join(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        # Idle keep-alive connections of clients would hold a graceful shutdown open: force it.
        self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(5)
        self._socket.close()

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (Ctrl-C)."""
        self._server.run(sockets=[self._socket])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmulatorServer(LoopbackServer):
    """An emulator with a seeded primary and foreign organization, served on ``host:port``.

    ``port=0`` picks a free port. ``middleware`` wraps the ASGI app (certify-client's recorder).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: list[str] | tuple[str, ...] = (),
        token_lifetime: int | None = None,
        organization_id: str | None = None,
        seed_applications: int = 0,
        middleware: Callable[[ASGIApp], ASGIApp] | None = None,
        latency_ms: float = 0.0,
        tls: LoopbackTLS | None = None,
    ) -> None:
        if latency_ms < 0:
            raise ValueError(f"latency must be 0 or more milliseconds, not {latency_ms}")
        self.latency_ms = latency_ms
        self.clock = Clock()
        Faults(faults)  # refuse unknown names before doing anything else
        # Faults break the API, not the seed: a fault like created_not_persisted must not lose the
        # bootstrap application, so they are switched on only once the seed is in place.
        self.faults = Faults()
        kwargs: dict[str, Any] = {"clock": self.clock, "faults": self.faults}
        if token_lifetime is not None:
            kwargs["token_lifetime"] = token_lifetime
        self.store = Store(**kwargs)
        self.bootstrap = self._seed(
            self.store.add_organization(organization_id, "Emulated Organization")
        )
        self.foreign = self._seed(self.store.add_organization(None, "Foreign Organization"))
        neighbours = max([seed_applications] + [FAULTS[name].neighbours for name in faults])
        for n in range(neighbours):
            self.store.create_application(
                self.bootstrap.organization_id,
                {"name": f"Existing application {n + 1}", "description": "Seeded by the emulator."},
            )
        for name in faults:
            self.faults.enable(name)
        app: ASGIApp = create_app(self.store)
        if latency_ms:
            app = with_latency(app, latency_ms / 1000)
        # certify-client records (and shapes) every exchange with an ASGI middleware around the app.
        super().__init__(
            middleware(app) if middleware else app, host, port, name="emulator", tls=tls
        )

    def _seed(self, org: Organization) -> Bootstrap:
        app = self.store.create_application(
            org.id, {"name": "Bootstrap application", "description": "Holds every scope."}
        )
        return Bootstrap(org.id, app.uid, app.secret)

    @property
    def foreign_application_id(self) -> int:
        """The foreign organization's bootstrap application (for tenancy probes)."""
        app = self.store.client(self.foreign.client_id, self.foreign.client_secret)
        assert app is not None
        return app.id

    @property
    def api_base_url(self) -> str:
        return self.origin + API_PREFIX

    @property
    def token_url(self) -> str:
        return self.origin + TOKEN_PATH

    def issued_secrets(self) -> list[str]:
        """Every client secret and access token this emulator has issued (for leak tests)."""
        apps = list(self.store.applications.values()) + list(self.store._deleted.values())
        return [a.secret for a in apps] + list(self.store.tokens)
