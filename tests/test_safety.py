"""The suite is safe against a shared staging organization: it leaves it as it found it (also after
Ctrl-C, SIGTERM and outages), never touches anything it did not create, refuses production, fails
clearly on broken targets and bad settings, and never leaks a credential.

Whole certifications (`credly-contract certify --target live`) run as processes of their own against
an emulator (and a FaultProxy in front of it) living in this test process, so a test can read the
emulator's store before and after; tests that send the run real signals start it with
`python -m credly_contract.cli`, the others fork it from tests/cli_process.py.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.etree import ElementTree

import httpx
import pytest
import requests
import urllib3

from credly_contract import cli
from credly_contract.config import (
    ConfigError,
    ConnectionDropped,
    Target,
    TargetUnreachable,
    live_target,
)
from credly_contract.emulator import EmulatorServer
from credly_contract.http_client import (
    ApiClient,
    BudgetExhausted,
    Limits,
    ReadOnlyViolation,
    unreachable,
)
from credly_contract.ledger import Ledger, read_outstanding
from credly_contract.profiles import PROFILES
from credly_contract.sweep import parse_age
from tests.cli_process import run_cli
from tests.fault_proxy import HOP_BY_HOP, FaultProxy

slow = pytest.mark.slow  # runs a whole certification in a subprocess
ROOT = Path(__file__).resolve().parents[1]
FAST = ["--rate-limit", "1000"]  # no client-side pacing against a local emulator


# Helpers --------------------------------------------------------------------------------------


def live_env(emulator: EmulatorServer, via: Any = None, **extra: str) -> dict[str, str]:
    """CREDLY_* variables for the emulator's bootstrap application, its URLs optionally via a proxy."""
    front = via or emulator
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDLY_")}
    env.update(
        CREDLY_API_BASE_URL=front.api_base_url,
        CREDLY_TOKEN_URL=front.token_url,
        CREDLY_ORGANIZATION_ID=emulator.bootstrap.organization_id,
        CREDLY_CLIENT_ID=emulator.bootstrap.client_id,
        CREDLY_CLIENT_SECRET=emulator.bootstrap.client_secret,
        CREDLY_FOREIGN_ORGANIZATION_ID=emulator.foreign.organization_id,
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def made_up_target(origin: str) -> dict[str, str]:
    """CREDLY_* variables for a target at ``origin`` with made-up credentials."""
    return {
        "CREDLY_API_BASE_URL": origin + "/v1",
        "CREDLY_TOKEN_URL": origin + "/oauth/token",
        "CREDLY_ORGANIZATION_ID": "org",
        "CREDLY_CLIENT_ID": "id",
        "CREDLY_CLIENT_SECRET": "secret-value",
    }


def certify_arguments(reports: Path | None, *extra: str) -> list[str]:
    """`credly-contract certify` live on quick, unpaced; into ``reports`` unless it is None."""
    into = ["--reports-dir", str(reports)] if reports is not None else []
    return ["certify", "--target", "live", "--profile", "quick", *into, *FAST, *extra]


def certify_command(reports: Path, *extra: str) -> list[str]:
    """The same as an interpreter's command line, for tests that signal the process."""
    return [sys.executable, "-m", "credly_contract.cli", *certify_arguments(reports, *extra)]


def run_certify(
    env: dict[str, str], workdir: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        *certify_arguments(workdir / "reports", *extra), env=env, cwd=workdir, timeout=240
    )


def organization_state(emulator: EmulatorServer) -> dict[str, list[str]]:
    """Every application of both organizations, as the JSON the API would show (byte-for-byte)."""
    store = emulator.store
    return {
        org: [
            json.dumps(store.application_json(a), sort_keys=True)
            for a in store.list_applications(org)
        ]
        for org in (emulator.bootstrap.organization_id, emulator.foreign.organization_id)
    }


def certificate(workdir: Path) -> dict[str, Any]:
    return json.loads((workdir / "reports" / "certificate.json").read_text())


def run_applications(emulator: EmulatorServer) -> list[Any]:
    """The applications in the emulator that carry a run's name."""
    apps = list(emulator.store.applications.values())
    return [a for a in apps if a.name.startswith("credly-contract ")]


def run_created_anything(emulator: EmulatorServer) -> bool:
    return bool(run_applications(emulator))


def wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the run"
        time.sleep(0.05)


def sweep(env: dict[str, str], workdir: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> int:
    for key, value in env.items():
        if key.startswith("CREDLY_"):
            monkeypatch.setenv(key, value)
    return cli.main(["sweep", "--ledger-dir", str(workdir / "reports"), *extra])


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


@pytest.fixture
def credly_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set CREDLY_* variables for an in-process cli.main(), clearing any from the outer shell."""
    for key in list(os.environ):
        if key.startswith("CREDLY_"):
            monkeypatch.delenv(key)

    def set_env(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)

    yield set_env


@pytest.fixture
def emulator_env(emulator: EmulatorServer, credly_env: Any) -> EmulatorServer:
    credly_env(**{k: v for k, v in live_env(emulator).items() if k.startswith("CREDLY_")})
    return emulator


@pytest.fixture
def proxy(emulator: EmulatorServer) -> Iterator[FaultProxy]:
    with FaultProxy(emulator.origin) as running:
        yield running


class Listener:
    """A TCP port that accepts connections and never answers; counts who connected."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.port = self.socket.getsockname()[1]
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections.append(connection)
            self._connected(connection)

    def _connected(self, connection: socket.socket) -> None:
        """What a subclass does with a new connection; this one never answers it."""

    def close(self) -> None:
        self.socket.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def silent_server() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# A full certification against a seeded emulator: leak test, untouched neighbours, budget --------


@pytest.fixture(scope="module")
def seeded_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One staging-like quick run: other applications in the organization, and a target that
    answers 429 (Retry-After: 1) three times along the way."""
    workdir = tmp_path_factory.mktemp("seeded")
    with EmulatorServer(seed_applications=5) as emulator, FaultProxy(emulator.origin) as proxy:
        proxy.throttle_at = {40, 90, 150}
        proxy.retry_after = "1"
        before = organization_state(emulator)
        result = run_certify(live_env(emulator, via=proxy), workdir)
        yield {
            "workdir": workdir,
            "result": result,
            "before": before,
            "after": organization_state(emulator),
            "secrets": emulator.issued_secrets(),
            "throttled": proxy.throttled,
        }


@slow
def test_full_live_run_certifies_the_emulator(seeded_run: dict[str, Any]) -> None:
    result = seeded_run["result"]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert certificate(seeded_run["workdir"])["verdict"] == "certified"


@slow
def test_no_issued_secret_or_token_appears_in_output_or_any_file_the_run_wrote(
    seeded_run: dict[str, Any],
) -> None:
    result = seeded_run["result"]
    written = [p for p in seeded_run["workdir"].rglob("*") if p.is_file()]
    names = {p.name for p in written}
    assert {"certificate.json", "junit.xml"} <= names and any(
        n.startswith("ledger-") for n in names
    )
    assert any("allure-results" in p.parts for p in written)
    secrets = seeded_run["secrets"]
    assert len(secrets) > 20  # the run really obtained tokens and created applications
    haystacks = {"stdout": result.stdout.encode(), "stderr": result.stderr.encode()}
    haystacks.update({str(p): p.read_bytes() for p in written})
    hits = [
        (where, secret[:6] + "...")
        for secret in secrets
        for where, text in haystacks.items()
        if secret.encode() in text
    ]
    assert hits == []


@slow
def test_seeded_neighbours_and_the_bootstrap_application_are_byte_for_byte_unchanged(
    seeded_run: dict[str, Any],
) -> None:
    before, after = seeded_run["before"], seeded_run["after"]
    assert len(before[next(iter(before))]) == 6  # the bootstrap application and 5 seeded ones
    assert after == before


@slow
def test_the_run_deleted_everything_it_ledgered(seeded_run: dict[str, Any]) -> None:
    ledgers = list(seeded_run["workdir"].rglob("ledger-*.jsonl"))
    assert len(ledgers) == 1
    entries = [json.loads(line) for line in ledgers[0].read_text().splitlines()]
    assert any(e["event"] == "created" for e in entries)
    assert read_outstanding(ledgers[0]) == []


@slow
def test_quick_profile_stays_well_inside_its_default_live_budget(
    seeded_run: dict[str, Any],
) -> None:
    sent = certificate(seeded_run["workdir"])["counts"]["requests_sent"]
    assert 0 < sent <= PROFILES["quick"].live_budget * 3 // 4, (
        f"quick sent {sent} requests: re-measure and update live_budget and docs/staging.md"
    )


# Teardown after Ctrl-C and SIGTERM ------------------------------------------------------------


@slow
@pytest.mark.parametrize(
    ("signum", "code", "named"),
    [(signal.SIGINT, 130, "Ctrl-C (SIGINT)"), (signal.SIGTERM, 143, "SIGTERM")],
)
def test_a_signal_mid_run_stops_it_and_still_deletes_what_it_created(
    emulator: EmulatorServer, tmp_path: Path, signum: int, code: int, named: str
) -> None:
    before = organization_state(emulator)
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            certify_command(tmp_path / "reports"),
            env=live_env(emulator),
            cwd=tmp_path,
            stdout=stdout,
            stderr=stderr,
            text=True,
        )
        wait_for(lambda: run_created_anything(emulator))
        process.send_signal(signum)
        assert process.wait(60) == code
    assert f"interrupted by {named}" in out.read_text() + err.read_text()
    assert "Traceback" not in err.read_text()
    for block in ("KeyboardInterrupt", "--full-trace", "Terminated"):
        assert block not in out.read_text() + err.read_text(), "pytest's interrupt block is back"
    # The run may itself have deleted all it created by the time the signal lands (its delete
    # tests do): either way it says what cleanup had to do, and the organization is as it was.
    said = out.read_text()
    assert "deleting the" in said or "nothing this run created is left to delete" in said
    assert organization_state(emulator) == before
    assert certificate(tmp_path)["verdict"] == "error"


@slow
def test_a_second_ctrl_c_skips_cleanup_and_says_what_was_left_and_sweep_removes_it(
    emulator: EmulatorServer, proxy: FaultProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = organization_state(emulator)
    out = tmp_path / "out"
    with out.open("w") as stdout:
        process = subprocess.Popen(
            certify_command(tmp_path / "reports"),
            env=live_env(emulator, via=proxy),
            cwd=tmp_path,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_for(lambda: len(run_applications(emulator)) >= 2)  # cleanup has work to do
        proxy.hold_deletes = 3.0  # cleanup's deletes hang, as on a slow target
        process.send_signal(signal.SIGINT)
        assert proxy.delete_held.wait(60)
        process.send_signal(signal.SIGINT)
        assert process.wait(60) != 0
    text = out.read_text()
    assert run_applications(emulator)
    (ledger,) = (tmp_path / "reports").glob("ledger-*.jsonl")
    run_id = ledger.stem.removeprefix("ledger-")
    assert "cleanup skipped" in text
    assert str(ledger) in text and f"credly-contract sweep --run {run_id}" in text
    assert all(str(entry["application_id"]) in text for entry in read_outstanding(ledger))

    proxy.hold_deletes = 0
    assert sweep(live_env(emulator), tmp_path, monkeypatch, "--run", run_id) == 0
    assert organization_state(emulator) == before
    assert read_outstanding(ledger) == []


# Production guard -------------------------------------------------------------------------------


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


# Broken targets -------------------------------------------------------------------------------


class DropsReusedConnections(Listener):
    """Answers the first request of each connection (200, keep-alive) and closes the connection
    without an answer when another request arrives on it, as a load balancer that timed out an idle
    keep-alive connection does; records each request's method."""

    def __init__(self) -> None:
        self.methods: list[str] = []
        super().__init__()
        self.origin = f"http://127.0.0.1:{self.port}"

    def _connected(self, connection: socket.socket) -> None:
        threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection, connection.makefile("rb") as reader:
            for answered in (False, True):
                request_line = reader.readline()
                if not request_line:
                    return
                length = 0
                while (line := reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                reader.read(length)
                self.methods.append(request_line.split()[0].decode())
                if answered:
                    return  # closed, no answer
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 2\r\n\r\n{}"
                )

    def target(self) -> Target:
        return live_target({}, made_up_target(self.origin))


@pytest.fixture
def dropping() -> Iterator[DropsReusedConnections]:
    server = DropsReusedConnections()
    yield server
    server.close()


def test_an_idempotent_request_on_a_connection_closed_under_it_is_sent_once_more(dropping):
    client = ApiClient(dropping.target())
    url = client.target.applications_url()
    assert client.get(url).status == 200
    assert client.put(url + "/x", json={}).status == 200  # its first connection closed under it
    assert client.delete(url + "/x").status == 200
    assert dropping.methods == ["GET", "PUT", "PUT", "DELETE", "DELETE"]
    assert client.dropped_connections == 2
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
    assert client.dropped_connections == 0


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


@slow
def test_429_with_retry_after_is_waited_out_retried_and_reported_not_failed(
    seeded_run: dict[str, Any],
) -> None:
    assert seeded_run["result"].returncode == 0
    report = certificate(seeded_run["workdir"])
    assert report["verdict"] == "certified"
    (throttled,) = [o for o in report["observations"] if o["kind"] == "throttled"]
    assert throttled["count"] == seeded_run["throttled"] == 3


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


def test_cleanup_is_not_stopped_by_an_exhausted_budget(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    from credly_contract.session import CertificationRun

    run = CertificationRun(
        emulator_target(emulator), PROFILES["quick"], "0badc0de", tmp_path, Limits(budget=4)
    )
    run.preflight()
    run.resources.new_application()
    with pytest.raises(BudgetExhausted):
        run.client.get(run.target.applications_url())
    assert run.close() == []
    assert not run_created_anything(emulator)


# Bad configuration ----------------------------------------------------------------------------


def emulator_target(emulator: EmulatorServer) -> Target:
    return live_target({}, {k: v for k, v in live_env(emulator).items() if k.startswith("CREDLY_")})


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("CREDLY_CLIENT_ID", "", "CREDLY_CLIENT_ID"),
        ("CREDLY_API_BASE_URL", "sandbox-api.credly.com/v1", "CREDLY_API_BASE_URL"),
        ("CREDLY_TOKEN_URL", "http://exa mple:port/oauth/token", "CREDLY_TOKEN_URL"),
        (
            "CREDLY_ORGANIZATION_ID",
            "00000000-0000-0000-0000-000000000000",
            "CREDLY_ORGANIZATION_ID",
        ),
        ("CREDLY_CLIENT_SECRET", "not-the-secret", "CREDLY_CLIENT_SECRET"),
        ("CREDLY_TOKEN_URL", "{origin}/oauth/tokens", "CREDLY_TOKEN_URL"),
    ],
)
def test_bad_configuration_exits_2_with_one_line_naming_the_setting(
    emulator_env: EmulatorServer,
    credly_env: Any,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    named: str,
) -> None:
    credly_env(**{variable: value.format(origin=emulator_env.origin)})
    assert cli.main(["certify", "--target", "live"]) == 2
    line = one_line(capsys.readouterr().err)
    assert named in line
    assert "not-the-secret" not in line and emulator_env.bootstrap.client_secret not in line


def test_a_bootstrap_application_lacking_a_scope_exits_2_naming_the_scope(
    emulator: EmulatorServer, proxy: FaultProxy, credly_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy.refused_scopes = {"issued_badges"}
    credly_env(
        **{k: v for k, v in live_env(emulator, via=proxy).items() if k.startswith("CREDLY_")}
    )
    assert cli.main(["certify", "--target", "live"]) == 2
    line = one_line(capsys.readouterr().err)
    assert "lacks the scope(s) issued_badges" in line and "CREDLY_CLIENT_ID" in line


# Secrets: flags warn, files work --------------------------------------------------------------


def test_passing_the_client_secret_as_a_flag_warns_about_shell_history(
    credly_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["certify", "--target", "live", "--client-secret", "s3cret-flag"]) == 2
    err = capsys.readouterr().err
    assert "warning: --client-secret" in err and "shell history" in err
    assert "s3cret-flag" not in err


def test_the_client_secret_can_be_read_from_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file-secret\n")
    environ = made_up_target("https://sandbox.credly.com")
    del environ["CREDLY_CLIENT_SECRET"]
    environ["CREDLY_CLIENT_SECRET_FILE"] = str(secret_file)
    assert live_target({}, environ).client_secret == "from-a-file-secret"
    with pytest.raises(ConfigError, match="CREDLY_CLIENT_SECRET_FILE"):
        live_target({}, environ | {"CREDLY_CLIENT_SECRET_FILE": str(tmp_path / "missing")})
    secret_file.write_text("  \n")
    with pytest.raises(ConfigError, match=r"CREDLY_CLIENT_SECRET_FILE=.* is empty"):
        live_target({}, environ)
    del environ["CREDLY_CLIENT_SECRET_FILE"]
    with pytest.raises(ConfigError, match=r"CREDLY_CLIENT_SECRET \(or CREDLY_CLIENT_SECRET_FILE\)"):
        live_target({}, environ)


# Sweep ----------------------------------------------------------------------------------------


def test_sweep_deletes_only_old_run_leftovers_never_neighbours_or_the_bootstrap(
    emulator: EmulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, org = emulator.store, emulator.bootstrap.organization_id
    for name in [
        "credly-contract 1234abcd app 1",
        "credly-contract 1234abcd st x",
        "Neighbour",
        "credly-contract not-a-run-id app",
        "My credly-contract 1234abcd app",
    ]:
        store.create_application(org, {"name": name})
    # A ledgered application whose name carries no prefix (a server that renamed it, say).
    ledgered = store.create_application(org, {"name": "renamed by the server"})
    Ledger(tmp_path / "reports" / "run" / "ledger-feedf00d.jsonl", "feedf00d").created(
        org, ledgered.id, "renamed by the server"
    )
    # A ledgered id that now belongs to something else must be passed over.
    other = store.create_application(org, {"name": "someone else's"})
    Ledger(tmp_path / "reports" / "run" / "ledger-0ddba11a.jsonl", "0ddba11a").created(
        org, other.id, "credly-contract 0ddba11a app 1"
    )
    keep = {
        "Bootstrap application",
        "Neighbour",
        "credly-contract not-a-run-id app",
        "My credly-contract 1234abcd app",
        "someone else's",
    }
    env = live_env(emulator)

    assert sweep(env, tmp_path, monkeypatch, "--older-than", "0", "--dry-run") == 0
    listed = capsys.readouterr().out
    assert listed.count("would delete") == 3
    assert len(store.list_applications(org)) == 8

    assert sweep(env, tmp_path, monkeypatch, "--older-than", "0") == 0
    assert {a.name for a in store.list_applications(org)} == keep
    assert read_outstanding(tmp_path / "reports" / "run" / "ledger-feedf00d.jsonl") == []
    assert "passed over" in capsys.readouterr().out


def test_sweep_leaves_applications_younger_than_older_than_unless_their_run_is_named(
    emulator: EmulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, org = emulator.store, emulator.bootstrap.organization_id
    old = store.create_application(org, {"name": "credly-contract 1234abcd app 1"})
    store.create_application(org, {"name": "credly-contract 5678cdef app 1"})
    store.create_application(org, {"name": "credly-contract 9999aaaa app 1"})
    env = live_env(emulator)
    (tmp_path / "reports").mkdir()

    def names() -> set[str]:
        return {a.name for a in store.list_applications(org)} - {"Bootstrap application"}

    assert sweep(env, tmp_path, monkeypatch, "--dry-run") == 0  # --older-than 1h by default
    said = capsys.readouterr().out
    assert "0 leftover application(s) older than 3600s" in said
    assert "not showing 3 newer leftover application(s)" in said
    assert "1234abcd, 5678cdef, 9999aaaa" in said and "--run RUN_ID" in said
    assert len(names()) == 3
    old.created_at -= 2 * 3600
    assert sweep(env, tmp_path, monkeypatch) == 0
    assert names() == {"credly-contract 5678cdef app 1", "credly-contract 9999aaaa app 1"}
    assert sweep(env, tmp_path, monkeypatch, "--run", "5678cdef") == 0
    assert names() == {"credly-contract 9999aaaa app 1"}


def test_sweep_refuses_production_hosts(
    credly_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    credly_env(**made_up_target("https://api.credly.com"))
    assert cli.main(["sweep"]) == 2
    assert "refusing to sweep production" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("text", "seconds"), [("1h", 3600), ("30m", 1800), ("2d", 172800), ("45s", 45), ("0", 0)]
)
def test_older_than_reads_durations(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


# One run id; a run that completes whatever the server answers --------------------------------------


@slow
def test_the_reports_folder_ledger_and_application_names_share_one_run_id(
    emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_cli(*certify_arguments(None), env=live_env(emulator), cwd=tmp_path, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    (folder,) = [p for p in (tmp_path / "reports").iterdir() if not p.is_symlink()]
    run_id = folder.name.rsplit("-", 1)[1]
    (ledger,) = folder.glob("ledger-*.jsonl")
    assert ledger.name == f"ledger-{run_id}.jsonl"
    entries = [json.loads(line) for line in ledger.read_text().splitlines()]
    created = [e for e in entries if e["event"] == "created"]
    assert created and all(e["run_id"] == run_id for e in entries)
    assert all(e["name"].startswith(f"credly-contract {run_id} ") for e in created)
    last = result.stdout.strip().splitlines()[-1]
    assert f"reports/{folder.name}/certificate.html" in last


class PastTheEndProxy:
    """A proxy on 127.0.0.1 in front of the emulator that answers 500 for a page past the end of
    the application list (an empty page after the first), as one independent server did."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.answered_500 = 0
        http = httpx.Client(base_url=upstream, timeout=30)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                response = http.request(self.command, self.path, headers=headers, content=body)
                status, content = response.status_code, response.content
                page = dict(parse_qsl(urlsplit(self.path).query)).get("page", "1")
                past_the_end = (
                    self.command == "GET"
                    and urlsplit(self.path).path.endswith("/oauth_applications")
                    and page.isdigit()
                    and int(page) > 1
                    and status == 200
                    and b'"data":[]' in content.replace(b" ", b"")
                )
                if past_the_end:
                    proxy.answered_500 += 1
                    status, content = 500, b'{"error": "internal"}'
                self.send_response(status)
                for name, value in response.headers.items():
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.api_base_url, self.token_url = self.origin + "/v1", self.origin + "/oauth/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def junit_testcases(workdir: Path) -> int:
    root = ElementTree.parse(workdir / "reports" / "junit.xml").getroot()
    return sum(1 for _ in root.iter("testcase"))


@slow
def test_a_server_answering_500_past_the_last_page_gets_a_complete_run_and_every_report(
    emulator: EmulatorServer, seeded_run: dict[str, Any], tmp_path: Path
) -> None:
    proxy = PastTheEndProxy(emulator.origin)
    try:
        result = run_certify(live_env(emulator, via=proxy), tmp_path)
    finally:
        proxy.close()
    output = result.stdout + result.stderr
    assert proxy.answered_500, "the run never asked for a page past the end"
    assert result.returncode == 1, output[-3000:]
    assert "INTERNALERROR" not in output and "Traceback" not in output
    issued = certificate(tmp_path)
    assert issued["verdict"] == "not_certified"
    assert {r["id"]: r["status"] for r in issued["requirements"]}["SEC-NO-5XX"] == "failed"
    assert junit_testcases(tmp_path) == junit_testcases(seeded_run["workdir"])
