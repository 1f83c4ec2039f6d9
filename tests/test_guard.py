"""The production guard compares normalised hosts: no spelling of api.credly.com or www.credly.com (case,
trailing dot, IDNA, userinfo, port) gets past it, for the API URL and the token URL alike. `certify`
refuses production and deny-listed hosts with exit 2 before it sends anything, and runs against
production only read-only and when told to (--allow-production --profile readonly)."""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from credly_contract import cli
from credly_contract.config import (
    ConfigError,
    denied_hosts_of,
    guard_production,
    live_target,
    normalised_host,
)
from credly_contract.emulator import EmulatorServer
from credly_contract.http_client import ApiClient, ReadOnlyViolation
from credly_contract.verdict import ExitCode
from tests.cli_process import run_cli
from tests.fault_proxy import FaultProxy
from tests.live_runs import (
    FAST,
    Listener,
    emulator_target,
    live_env,
    made_up_target,
    one_line,
    organization_state,
    slow,
)

CERTIFY_LIVE = ["certify", "--target", "live"]
STAGING_API = "https://sandbox-api.credly.com/v1"
STAGING_TOKEN = "https://sandbox.credly.com/oauth/token"

PRODUCTION_API_SPELLINGS = [
    "https://api.credly.com/v1",
    "https://api.credly.com./v1",
    "https://API.Credly.COM/v1",
    "https://user@api.credly.com/v1",
    "https://user:password@api.credly.com:443/v1",
    "https://api.credly.com:8443/v1",
    "http://api.credly.com:80/v1",
    "https://api.credly.com../v1",
    "https://\uff41\uff50\uff49.credly.com/v1",  # fullwidth "api", which IDNA maps to ASCII
    "https://api%2Ecredly%2Ecom/v1",
]
PRODUCTION_TOKEN_SPELLINGS = [
    "https://www.credly.com/oauth/token",
    "https://www.credly.com.:443/oauth/token",
    "https://WWW.CREDLY.COM/oauth/token",
    "https://client@www.credly.com/oauth/token",
]


def target(api_base_url: str = STAGING_API, token_url: str = STAGING_TOKEN):
    return live_target(
        {
            "api_base_url": api_base_url,
            "token_url": token_url,
            "organization_id": "org",
            "client_id": "client",
            "client_secret": "guard-test-secret-000000000000",
        },
        environ={},
    )


@pytest.mark.parametrize("url", PRODUCTION_API_SPELLINGS)
def test_every_spelling_of_the_production_api_host_is_refused(url):
    with pytest.raises(
        ConfigError, match=re.escape("refusing to certify against production host api.credly.com")
    ):
        guard_production(
            target(api_base_url=url), allow_production=False, read_only=False, environ={}
        )


@pytest.mark.parametrize("url", PRODUCTION_TOKEN_SPELLINGS)
def test_every_spelling_of_the_production_token_host_is_refused(url):
    with pytest.raises(ConfigError, match=re.escape("www.credly.com")):
        guard_production(target(token_url=url), allow_production=False, read_only=False, environ={})


@pytest.mark.parametrize(
    ("api_base_url", "token_url"),
    [
        ("https://api.credly.com./v1", STAGING_TOKEN),
        ("https://API.Credly.COM/v1", STAGING_TOKEN),
        ("https://user@api.credly.com/v1", STAGING_TOKEN),
        (STAGING_API, "https://www.credly.com.:443/oauth/token"),
    ],
)
def test_certify_refuses_production_spellings_with_exit_2_and_one_line(
    tmp_path, api_base_url, token_url
):
    environment = {
        **os.environ,
        "CREDLY_API_BASE_URL": api_base_url,
        "CREDLY_TOKEN_URL": token_url,
        "CREDLY_ORGANIZATION_ID": "org",
        "CREDLY_CLIENT_ID": "client",
        "CREDLY_CLIENT_SECRET": "guard-test-secret-000000000000",
        # Should the guard ever let one through, its requests die at a closed local port.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "ALL_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
    }
    done = run_cli(*CERTIFY_LIVE, "--reports-dir", str(tmp_path), env=environment, timeout=60)
    assert done.returncode == ExitCode.CONFIG == 2, done.stderr
    assert "refusing to certify against production host" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://api.credly.com./v1", "api.credly.com"),
        ("https://API.Credly.COM/v1", "api.credly.com"),
        ("https://user:pw@api.credly.com:443/v1", "api.credly.com"),
        ("https://www.credly.com.:443/oauth/token", "www.credly.com"),
        ("https://bücher.example/v1", "xn--bcher-kva.example"),
        ("http://127.0.0.1:8080/v1", "127.0.0.1"),
    ],
)
def test_hosts_are_normalised_before_they_are_compared(url, host):
    assert normalised_host(url) == host


def test_staging_passes_the_guard():
    guard_production(target(), allow_production=False, read_only=False, environ={})


def test_production_is_allowed_only_read_only_and_explicitly():
    production = target(api_base_url="https://api.credly.com./v1")
    guard_production(production, allow_production=True, read_only=True, environ={})
    with pytest.raises(ConfigError, match="--profile readonly"):
        guard_production(production, allow_production=True, read_only=False, environ={})


def test_deny_listed_hosts_are_normalised_too():
    environ = {"CREDLY_DENY_HOSTS": "Staging.Example.COM., other.example"}
    staging = target(api_base_url="https://staging.example.com./v1")
    assert denied_hosts_of(staging, environ) == ["staging.example.com"]
    with pytest.raises(ConfigError, match=re.escape("staging.example.com")):
        guard_production(staging, allow_production=False, read_only=False, environ=environ)


@pytest.mark.parametrize("host", ["api.credly.com", "www.credly.com"])
def test_production_hosts_are_refused_with_exit_2_before_anything_is_sent(
    credly_env: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a request was sent")

    monkeypatch.setattr(httpx.Client, "send", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    credly_env(**made_up_target(f"https://{host}"))
    assert cli.main(["certify", "--target", "live", "--profile", "quick"]) == 2
    line = one_line(capsys.readouterr().err)
    assert host in line and "--allow-production" in line


def test_a_deny_listed_host_is_refused_and_never_contacted(
    credly_env: Any, silent_server: Listener, capsys: pytest.CaptureFixture[str]
) -> None:
    origin = f"http://localhost:{silent_server.port}"
    credly_env(**made_up_target(origin), CREDLY_DENY_HOSTS="staging.example.com, localhost")
    assert cli.main(["certify", "--target", "live"]) == 2
    assert "localhost" in one_line(capsys.readouterr().err)
    time.sleep(0.1)
    assert silent_server.connections == []


def test_allow_production_without_the_readonly_profile_is_refused(
    emulator_env: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CREDLY_DENY_HOSTS", "127.0.0.1")
    assert (
        cli.main(["certify", "--target", "live", "--allow-production", "--profile", "quick"]) == 2
    )
    assert "--profile readonly" in one_line(capsys.readouterr().err)
    assert emulator_env.store.tokens == {}


@slow
def test_allow_production_with_the_readonly_profile_runs_and_changes_nothing(
    emulator: EmulatorServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    emulator.store.create_application(emulator.bootstrap.organization_id, {"name": "Neighbour"})
    before = organization_state(emulator)
    env = live_env(emulator, via=proxy, CREDLY_DENY_HOSTS="127.0.0.1")
    result = run_cli(
        "certify", "--target", "live", "--profile", "readonly", "--allow-production",
        "--reports-dir", str(tmp_path / "reports"), *FAST,
        env=env, cwd=tmp_path, timeout=240,
    )  # fmt: skip
    # readonly cannot certify (write requirements stay not run), but it ran against the target
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    assert len(proxy.api_methods()) > 10
    assert set(proxy.api_methods()) == {"GET"}
    assert organization_state(emulator) == before


def test_the_client_refuses_writes_under_a_read_only_profile(emulator: EmulatorServer) -> None:
    client = ApiClient(emulator_target(emulator))
    client.read_only = True
    with pytest.raises(ReadOnlyViolation):
        client.post(client.target.applications_url(), json={"name": "x"})
    assert client.requests_sent == 0
    assert client.request_token("oauth_applications").status == 200  # tokens are reads here
