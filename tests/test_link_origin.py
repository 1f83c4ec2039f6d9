"""Credentials stay on their origin: a page link that leaves the configured API origin (a downgrade to
plain http above all) is never followed with the token; it fails SEC-LINKS-ON-ORIGIN with the link as
evidence and the suite goes on by page number. Proven with a loopback listener where the link points,
which records whatever reaches it."""

from __future__ import annotations

import dataclasses
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from credly_contract.client_cert.injections import Injector
from credly_contract.client_cert.middleware import Recorder
from credly_contract.client_cert.upstream import LiveUpstream
from credly_contract.config import Target
from credly_contract.emulator.server import LoopbackTLS
from credly_contract.http_client import ApiClient, CredentialsOffOrigin
from credly_contract.targets import emulated_target
from tests.cli_process import run_cli
from tests.live_runs import integration_token, live_env

API = "https://sandbox-api.example/v1"
TARGET = Target("live", API, "https://sandbox.example/oauth/token", "org", "id", "secret")


class Listener(ThreadingHTTPServer):
    """An HTTP server on loopback that records the headers of every request that reaches it."""

    daemon_threads = True

    def __init__(self, port: int = 0) -> None:
        self.seen: list[dict[str, str]] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                listener.seen.append(dict(self.headers))
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", port), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


@pytest.mark.parametrize(
    ("link", "followed", "params"),
    [
        (f"{API}/organizations/org/oauth_applications?page=2&per=5", True, None),
        ("/v1/organizations/org/oauth_applications?page=2&per=5", True, None),  # relative
        (
            "HTTPS://SANDBOX-API.EXAMPLE:443/v1/x?page=2",
            True,
            None,
        ),  # the same origin, spelt otherwise
        ("http://sandbox-api.example/v1/x?page=2", False, {"page": 2, "per": 5}),  # downgrade
        ("https://sandbox-api.example:8443/v1/x?page=2", False, {"page": 2, "per": 5}),  # port
        ("https://elsewhere.example/v1/x?page=2", False, {"page": 2, "per": 5}),  # host
    ],
)
def test_a_link_is_followed_only_on_the_configured_origin(link, followed, params):
    page = f"{API}/organizations/org/oauth_applications?page=1&per=5"
    url, query = TARGET.link_to_follow(link, page, 2, 5)
    if followed:
        assert (url, query) == (urljoin(page, link), None)
    else:
        assert (url, query) == (f"{API}/organizations/org/oauth_applications", params)


def test_no_token_and_no_client_secret_leave_for_another_origin():
    listener = Listener()
    try:
        client = ApiClient(TARGET)
        with pytest.raises(CredentialsOffOrigin):
            client.get(listener.origin + "/v1/x", token="a-bearer-token")
        with pytest.raises(CredentialsOffOrigin):
            client.get(listener.origin + "/v1/x", headers={"Authorization": "Basic eDp5"})
        with pytest.raises(CredentialsOffOrigin):
            client.post(listener.origin + "/oauth/token", data={"client_secret": "secret"})
        assert client.requests_sent == 0
        client.close()
    finally:
        listener.close()
    assert listener.seen == []


@pytest.fixture
def port_80_listener():
    """The downgraded link names http://127.0.0.1/ (port 80, as a TLS terminator's application
    writes it): listen there to see whether anything arrives."""
    try:
        listener = Listener(80)
    except OSError as error:  # not root, or port 80 taken
        pytest.skip(f"cannot listen on 127.0.0.1:80 to watch the downgraded link ({error})")
    yield listener
    listener.close()


@pytest.mark.slow
def test_a_link_that_downgrades_to_http_is_a_finding_and_no_credential_crosses_it(
    make_emulator, port_80_listener, tmp_path: Path
):
    tls = LoopbackTLS()
    emulator = make_emulator(tls=tls, faults=["links_downgrade_to_http"])
    env = live_env(emulator, CREDLY_CA_BUNDLE=str(tls.ca_file))
    reports = tmp_path / "reports"
    arguments = ["certify", "--target", "live", "--profile", "quick", "--rate-limit", "1000"]
    try:
        done = run_cli(*arguments, "--reports-dir", str(reports), env=env, cwd=tmp_path)
    finally:
        tls.close()
    output = done.stdout[-3000:] + done.stderr
    certificate = json.loads((reports / "certificate.json").read_text())
    failed = {r["id"]: r for r in certificate["requirements"] if r["status"] != "passed"}
    assert set(failed) == {"SEC-LINKS-ON-ORIGIN"}, output
    assert done.returncode == 1, output
    evidence = json.dumps(failed["SEC-LINKS-ON-ORIGIN"]["evidence"])
    assert "http://127.0.0.1/v1/organizations/" in evidence and "RFC 6750" in evidence
    assert port_80_listener.seen == []  # not a request, with or without a token


def test_certify_client_live_proxy_leads_downgraded_links_back_through_itself(make_emulator):
    """certify-client --upstream live: a link the target wrote downgraded to http is rewritten to
    the proxy on loopback, like its https links, so the integration's token never crosses the
    network in the clear; the proxy forwards to the configured https origin."""
    with LoopbackTLS() as tls:
        emulator = make_emulator(tls=tls, seed_applications=2, faults=["links_downgrade_to_http"])
        target = dataclasses.replace(emulated_target(emulator), ca_bundle=str(tls.ca_file))
        with LiveUpstream(Recorder(Injector([], {})), target, scheme="http") as proxy:
            base = proxy.environment()["CREDLY_API_BASE_URL"]
            token = integration_token(proxy.environment()["CREDLY_TOKEN_URL"], target)
            headers = {"Authorization": f"Bearer {token}"}
            url = f"{base}/organizations/{target.organization_id}/oauth_applications"
            first = httpx.get(url, params={"per": 1}, headers=headers)
            link = first.json()["metadata"]["next_page_url"]
            assert link.startswith(base + "/"), link
            assert httpx.get(link, headers=headers).json()["metadata"]["current_page"] == 2
