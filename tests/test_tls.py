"""One trust setting and one proxy setting for every HTTP client a run uses (httpx for the suite's own
requests, requests under schemathesis, certify-client's forwarding proxy), proven against an HTTPS
emulator on loopback whose certificate a private CA made by trustme signed."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from credly_contract import cli
from credly_contract.config import ConfigError, proxy_for, trust_setting
from credly_contract.emulator import EmulatorServer
from credly_contract.emulator.server import LoopbackTLS
from credly_contract.http_client import ApiClient
from credly_contract.targets import emulated_target
from credly_contract.transport import UntrustedCertificate, httpx_async_client
from tests.cli_process import run_cli
from tests.connect_proxy import ConnectProxy

SYNC = Path(__file__).resolve().parent / "integrations" / "sync.py"
# Every variable that could make a client trust or proxy something this test did not set.
AMBIENT = (
    "CREDLY_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
)


@pytest.fixture(scope="module")
def tls() -> Iterator[LoopbackTLS]:
    """A private CA (trustme) and the certificate it issued for 127.0.0.1."""
    with LoopbackTLS() as authority:
        yield authority


@pytest.fixture
def ca(tls: LoopbackTLS) -> tuple[Path]:
    """The private CA's PEM file, alone: nothing else in it."""
    return (tls.ca_file,)


@pytest.fixture
def https_emulator(make_emulator, tls) -> EmulatorServer:
    server: EmulatorServer = make_emulator(tls=tls)
    assert server.api_base_url.startswith("https://127.0.0.1:")
    return server


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for variable in AMBIENT:
        monkeypatch.delenv(variable, raising=False)
        monkeypatch.delenv(variable.lower(), raising=False)
    return monkeypatch


def live_env(emulator: EmulatorServer, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CREDLY_") and k.upper() not in AMBIENT
    }
    env.update(emulated_target(emulator).environment())
    env.update(extra)
    return env


def certify(env: dict[str, str], tmp_path: Path, *extra: str):
    reports = tmp_path / "reports"
    arguments = ["certify", "--target", "live", "--profile", "quick", "--rate-limit", "1000"]
    done = run_cli(*arguments, "--reports-dir", str(reports), *extra, env=env, cwd=tmp_path)
    return done, reports


def verdict(reports: Path) -> str:
    return str(json.loads((reports / "certificate.json").read_text())["verdict"])


# Whole certifications -----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("variable", ["CREDLY_CA_BUNDLE", "SSL_CERT_FILE"])
def test_an_https_target_behind_a_private_ca_certifies_with_one_variable_alone(
    https_emulator, ca, tmp_path, variable
):
    done, reports = certify(live_env(https_emulator, **{variable: str(ca[0])}), tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert verdict(reports) == "certified"


@pytest.mark.slow
def test_every_client_of_a_certification_goes_through_the_https_proxy(https_emulator, ca, tmp_path):
    with ConnectProxy() as proxy:
        env = live_env(https_emulator, CREDLY_CA_BUNDLE=str(ca[0]), HTTPS_PROXY=proxy.url)
        done, _ = certify(env, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    origin = https_emulator.origin.removeprefix("https://")
    assert proxy.tunnels and set(proxy.tunnels) == {origin}


def test_a_certificate_no_setting_trusts_is_exit_2_naming_the_setting(https_emulator, tmp_path):
    done, _ = certify(live_env(https_emulator), tmp_path)
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "CREDLY_CA_BUNDLE" in lines[0] and "127.0.0.1" in lines[0]


def test_a_ca_bundle_that_is_no_file_is_exit_2_naming_it(https_emulator, tmp_path):
    done, _ = certify(live_env(https_emulator), tmp_path, "--ca-bundle", str(tmp_path / "nope"))
    assert done.returncode == 2, done.stderr
    assert "--ca-bundle=" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_certify_client_live_upstream_trusts_the_same_setting(
    make_emulator, tls, ca, clean_env, tmp_path
):
    emulator = make_emulator(tls=tls, seed_applications=120)
    for variable, value in live_env(emulator, CREDLY_CA_BUNDLE=str(ca[0])).items():
        if variable.startswith("CREDLY_"):
            clean_env.setenv(variable, value)
    reports = ["--reports-dir", str(tmp_path / "r")]
    code = cli.main(
        ["certify-client", "--upstream", "live", *reports, "--", sys.executable, str(SYNC)]
    )
    assert code == 0
    assert verdict(tmp_path / "r") == "certified"


# Each client, on its own ---------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["CREDLY_CA_BUNDLE", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
def test_each_trust_variable_alone_reaches_httpx_requests_and_the_forwarding_proxy(
    https_emulator, ca, clean_env, variable
):
    clean_env.setenv(variable, str(ca[0]))
    assert trust_setting().source == variable
    client = ApiClient(emulated_target(https_emulator))
    try:
        assert client.get(https_emulator.origin + "/").status == 404  # httpx: a verified answer
        answer = client.requests_session().get(https_emulator.origin + "/", timeout=5)
        assert answer.status_code == 404  # requests
    finally:
        client.close()

    async def forward() -> int:  # certify-client's forwarding proxy
        async with httpx_async_client([https_emulator.origin], trust_setting(), timeout=5) as http:
            return (await http.get(https_emulator.origin + "/")).status_code

    assert asyncio.run(forward()) == 404


def test_the_flag_wins_over_the_variables_in_order(ca, clean_env, tmp_path):
    other = tmp_path / "other.pem"
    other.write_text(ca[0].read_text())
    clean_env.setenv("REQUESTS_CA_BUNDLE", str(other))
    clean_env.setenv("SSL_CERT_FILE", str(ca[0]))
    assert trust_setting().source == "SSL_CERT_FILE"
    assert trust_setting(str(other)).source == "--ca-bundle"
    with pytest.raises(ConfigError, match="SSL_CERT_FILE="):
        trust_setting(environ={"SSL_CERT_FILE": str(tmp_path / "missing.pem")})


def test_an_untrusted_certificate_met_by_either_library_is_untrusted_certificate(
    https_emulator, clean_env
):
    client = ApiClient(emulated_target(https_emulator))
    url = https_emulator.api_base_url + "/x"
    try:
        with pytest.raises(UntrustedCertificate, match="CREDLY_CA_BUNDLE"):
            client.get(url)
        with pytest.raises(requests.exceptions.SSLError) as raised:
            client.requests_session().get(url, timeout=5)
        assert isinstance(client.unreachable("GET", url, raised.value), UntrustedCertificate)
    finally:
        client.close()


@pytest.mark.parametrize("no_proxy", [None, "127.0.0.1", "localhost,127.0.0.0/8", "*"])
def test_httpx_and_requests_take_the_same_proxy(https_emulator, ca, clean_env, no_proxy):
    clean_env.setenv("CREDLY_CA_BUNDLE", str(ca[0]))
    if no_proxy:
        clean_env.setenv("NO_PROXY", no_proxy)
    with ConnectProxy() as proxy:
        clean_env.setenv("HTTPS_PROXY", proxy.url)
        client = ApiClient(emulated_target(https_emulator))
        try:
            client.get(https_emulator.origin + "/")
            client.requests_session().get(https_emulator.origin + "/", timeout=5)
        finally:
            client.close()
    assert len(proxy.tunnels) == (0 if no_proxy else 2)


@pytest.mark.parametrize(
    ("url", "environ", "proxy"),
    [
        ("https://api.example/v1", {"HTTPS_PROXY": "proxy:3128"}, "http://proxy:3128"),
        ("https://api.example/v1", {"https_proxy": "http://a:1", "HTTPS_PROXY": "http://b:1"}, "http://a:1"),
        ("http://api.example/v1", {"HTTPS_PROXY": "http://p:1"}, None),
        ("http://api.example/v1", {"ALL_PROXY": "http://p:1"}, "http://p:1"),
        ("https://api.corp.example", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".corp.example"}, None),
        ("https://corp.example", {"HTTPS_PROXY": "http://p:1", "no_proxy": "corp.example"}, None),
        ("https://notcorp.example", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "corp.example"}, "http://p:1"),
        ("https://10.2.3.4:8443", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, None),
        ("https://h.example:8443", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "h.example:443"}, "http://p:1"),
        ("https://h.example", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "h.example:443"}, None),
    ],
)  # fmt: skip
def test_proxy_for_reads_the_variables_as_curl_does(url, environ, proxy):
    assert proxy_for(url, environ) == proxy
