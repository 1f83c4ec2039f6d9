"""Broken targets: connections dropped, refused or never answered, throttling that does not end, 503
bursts and outages. Exit 3 only when no HTTP answer came; one line names the target and the cause;
an idempotent request is sent once more on a connection closed under it, a POST never; cleanup
runs once the target is back, or says what is left."""

from __future__ import annotations

import http.client
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import urllib3

from credly_contract import cli
from credly_contract.config import ConnectionDropped, TargetUnreachable
from credly_contract.emulator import EmulatorServer
from credly_contract.http_client import (
    ApiClient,
    Limits,
    unreachable,
)
from credly_contract.ledger import read_outstanding
from tests.cli_process import run_cli
from tests.fault_proxy import FaultProxy
from tests.live_runs import (
    ROOT,
    Listener,
    certificate,
    closed_port,
    emulator_target,
    live_env,
    made_up_target,
    one_line,
    organization_state,
    run_certify,
    slow,
    sweep,
)


def test_an_idempotent_request_on_a_connection_closed_under_it_is_sent_once_more(dropping):
    client = ApiClient(dropping.target())
    url = client.target.applications_url()
    assert client.get(url).status == 200
    assert client.put(url + "/x", json={}).status == 200  # its first connection closed under it
    assert client.delete(url + "/x").status == 200
    assert dropping.methods == ["GET", "PUT", "PUT", "DELETE", "DELETE"]
    assert client.lost_answers.repeated == 2
    assert client.requests_sent == 5


@pytest.mark.parametrize(
    ("error", "dropped"),
    [
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), True),
        (httpx.ReadError("[Errno 104] Connection reset by peer"), True),
        (  # how requests (schemathesis's calls) reports a connection closed under it
            requests.ConnectionError(
                urllib3.exceptions.ProtocolError(
                    "Connection aborted.", http.client.RemoteDisconnected("closed")
                )
            ),
            True,
        ),
        (httpx.ConnectError("[Errno 111] Connection refused"), False),
        (requests.ConnectionError(ConnectionRefusedError(111, "Connection refused")), False),
        (httpx.ReadTimeout("timed out"), False),
    ],
    ids=["httpx-disconnect", "httpx-reset", "requests-disconnect", "refused", "requests-refused",
         "timeout"],
)  # fmt: skip
def test_only_a_connection_closed_under_a_request_counts_as_dropped(error, dropped):
    assert (
        isinstance(unreachable("GET", "http://127.0.0.1:9/x", error), ConnectionDropped) is dropped
    )


def test_a_post_on_a_connection_closed_under_it_is_never_sent_twice(dropping):
    client = ApiClient(dropping.target())
    url = client.target.applications_url()
    assert client.get(url).status == 200
    with pytest.raises(TargetUnreachable, match=r"POST .* failed"):
        client.post(url, json={"name": "x"})
    assert dropping.methods == ["GET", "POST"]
    assert client.lost_answers.repeated == 0


def test_refused_connection_exits_3_within_60s_with_one_line_naming_target_and_cause(
    tmp_path: Path,
) -> None:
    origin = f"http://127.0.0.1:{closed_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDLY_")}
    env.update(made_up_target(origin), PYTHONPATH=str(ROOT))
    started = time.monotonic()
    result = run_cli("certify", "--target", "live", env=env, cwd=tmp_path, timeout=60)
    assert time.monotonic() - started < 60
    assert result.returncode == 3
    line = one_line(result.stderr)
    assert origin in line and "connection refused" in line
    assert result.stdout == ""


def test_a_target_that_never_answers_exits_3_after_the_timeout(
    credly_env: Any, silent_server: Listener, capsys: pytest.CaptureFixture[str]
) -> None:
    origin = f"http://127.0.0.1:{silent_server.port}"
    credly_env(**made_up_target(origin))
    started = time.monotonic()
    assert cli.main(["certify", "--target", "live", "--timeout", "1"]) == 3
    assert time.monotonic() - started < 10
    line = one_line(capsys.readouterr().err)
    assert origin in line and "timed out" in line


def test_persistent_429_is_returned_to_the_check_after_bounded_waits(
    emulator: EmulatorServer, proxy: FaultProxy
) -> None:
    proxy.throttle_at = set(range(1, 100))
    proxy.retry_after = "3600"
    client = ApiClient(emulator_target(emulator), Limits(max_retry_after=0.05, retries=2))
    started = time.monotonic()
    assert client.get(proxy.api_base_url + "/anything").status == 429
    assert time.monotonic() - started < 2
    assert client.throttled == 2 and client.requests_sent == 3 == len(proxy.requests)


@slow
def test_a_503_burst_mid_run_ends_in_verdict_error_exit_3_and_cleanup_once_it_is_back(
    emulator: EmulatorServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    before = organization_state(emulator)
    proxy.outage(after=120, length=6)
    result = run_certify(live_env(emulator, via=proxy), tmp_path)
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr
    assert "503 4 times in a row" in one_line(result.stderr)
    assert certificate(tmp_path)["verdict"] == "error"
    assert organization_state(emulator) == before


@slow
def test_a_target_that_drops_connections_for_good_ends_in_error_and_names_what_is_left(
    emulator: EmulatorServer, proxy: FaultProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = organization_state(emulator)
    proxy.outage(after=150, mode="close")
    started = time.monotonic()
    result = run_certify(live_env(emulator, via=proxy), tmp_path)
    assert time.monotonic() - started < 60
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr
    assert "unreachable" in one_line(result.stderr)
    assert certificate(tmp_path)["verdict"] == "error"
    (ledger,) = (tmp_path / "reports").glob("ledger-*.jsonl")
    left = read_outstanding(ledger)
    assert left, "the outage hit before the run created anything"
    run_id = ledger.stem.removeprefix("ledger-")
    assert "cleanup could not delete" in result.stdout
    assert f"credly-contract sweep --run {run_id}" in result.stdout
    assert all(str(entry["application_id"]) in result.stdout for entry in left)

    proxy.heal()
    assert sweep(live_env(emulator, via=proxy), tmp_path, monkeypatch, "--run", run_id) == 0
    assert organization_state(emulator) == before


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (httpx.ConnectError("[Errno -2] Name or service not known"), "DNS lookup failed"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "connection refused"),
        (
            httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
            "TLS error",
        ),
        (httpx.ReadTimeout("timed out"), "timed out (ReadTimeout)"),
        (requests.exceptions.ConnectTimeout("connect timed out"), "timed out (ConnectTimeout)"),
    ],
)
def test_transport_errors_become_one_line_naming_the_url_and_the_cause(
    error: Exception, cause: str
) -> None:
    message = str(unreachable("GET", "https://sandbox-api.credly.com/v1/x", error))
    assert message.startswith("GET https://sandbox-api.credly.com/v1/x ")
    assert cause in message and "\n" not in message


def test_once_the_target_broke_the_client_fails_fast_without_sending(
    emulator: EmulatorServer,
) -> None:
    calls = []

    def down(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("[Errno 111] Connection refused")

    client = ApiClient(emulator_target(emulator), transport=httpx.MockTransport(down))
    with pytest.raises(TargetUnreachable, match="connection refused"):
        client.get("http://127.0.0.1/v1/x")
    with pytest.raises(TargetUnreachable):
        client.get("http://127.0.0.1/v1/y")
    assert len(calls) == 1
