"""certify-client --upstream live: the recording proxy keeps one client to the live target while it
serves, so the requests it forwards share kept-alive connections (one TLS handshake, not one per
request), and that client keeps no cookie the target sets. Proven against an HTTPS emulator on
loopback that notes the TCP connection each request arrived on, and against a target that closes a
kept-alive connection under the next request (tests/live_runs.py's ``dropping``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credly_contract.client_cert.injections import Injector
from credly_contract.client_cert.middleware import Recorder
from credly_contract.client_cert.upstream import LiveUpstream
from credly_contract.emulator.server import LoopbackTLS
from credly_contract.targets import emulated_target
from tests.live_runs import integration_token

SET_COOKIE = (b"set-cookie", b"session=set-by-the-target; Path=/")


class Wiretap:
    """ASGI middleware in front of the target: notes each request's connection (the peer's address
    and port) and Cookie header, and sets a cookie on every answer."""

    def __init__(self) -> None:
        self.connections: list[Any] = []
        self.cookies: list[bytes | None] = []
        self.app: ASGIApp | None = None

    def wrap(self, app: ASGIApp) -> Wiretap:
        self.app = app
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        if scope["type"] == "http":
            self.connections.append(scope["client"])
            self.cookies.append(dict(scope["headers"]).get(b"cookie"))

        async def setting_a_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], SET_COOKIE]}
            await send(message)

        await self.app(scope, receive, setting_a_cookie)


@pytest.fixture
def proxied(make_emulator) -> Iterator[tuple[LiveUpstream, Wiretap]]:
    """A live upstream in front of an HTTPS emulator with a wiretap."""
    tap = Wiretap()
    with LoopbackTLS() as tls:
        emulator = make_emulator(tls=tls, seed_applications=2, middleware=tap.wrap)
        target = dataclasses.replace(emulated_target(emulator), ca_bundle=str(tls.ca_file))
        with LiveUpstream(Recorder(Injector([], {})), target, scheme="http") as proxy:
            yield proxy, tap


def integration_calls(proxy: LiveUpstream) -> int:
    """A token and three pages through the proxy, each with a fresh client of the integration's (so
    none carries a cookie); returns how many requests the integration made."""
    target = proxy.pointed_at()
    headers = {"Authorization": f"Bearer {integration_token(target.token_url, target)}"}
    url = f"{target.api_base_url}/organizations/{target.organization_id}/oauth_applications"
    for page in (1, 2, 3):
        assert httpx.get(url, params={"page": page}, headers=headers).status_code == 200
    return 4


def test_the_live_proxy_forwards_many_requests_over_fewer_connections(proxied):
    proxy, tap = proxied
    made = integration_calls(proxy)
    assert len(proxy.recorder.exchanges) == made
    assert len(tap.connections) > made  # and the proxy's one-item probe for the page size
    # A client per forwarded request (the probe shares its request's) took one connection each.
    assert len(set(tap.connections)) < made, tap.connections


def test_the_live_proxy_sends_the_target_no_cookie_the_target_set(proxied):
    """Not even the one the page-size probe was given on the request it was made for."""
    proxy, tap = proxied
    integration_calls(proxy)
    assert tap.cookies == [None] * len(tap.cookies)


@pytest.fixture
def dropping_proxy(dropping) -> Iterator[LiveUpstream]:
    with LiveUpstream(Recorder(Injector([], {})), dropping.target(), scheme="http") as proxy:
        yield proxy


def test_a_request_that_may_be_repeated_is_asked_again_when_its_connection_closes_under_it(
    dropping, dropping_proxy
):
    url = dropping_proxy.pointed_at().api_base_url + "/organizations/org/oauth_applications/1"
    assert httpx.get(url).status_code == 200
    assert httpx.put(url, json={}).status_code == 200  # its first connection closed under it
    assert dropping.methods == ["GET", "PUT", "PUT"]
    assert dropping_proxy.target_down == []


def test_a_post_whose_connection_closes_under_it_is_never_sent_twice(dropping, dropping_proxy):
    url = dropping_proxy.pointed_at().api_base_url + "/organizations/org/oauth_applications"
    assert httpx.get(url + "/1").status_code == 200
    assert httpx.post(url, json={"name": "x"}).status_code == 502
    assert dropping.methods == ["GET", "POST"]
    assert "got no answer" in dropping_proxy.target_down[0]
