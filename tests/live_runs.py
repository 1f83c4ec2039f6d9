"""What the tests of whole live runs share (test_full_live_run, test_interrupted_runs,
test_broken_targets, test_bad_configuration, test_sweep, test_guard): the CREDLY_* settings of an
emulator, the `certify --target live` command line, readings of the emulator's store, and the
servers a broken target is made of that a FaultProxy (tests/fault_proxy.py) cannot be: a port that
never answers, and one that drops reused connections.

Whole certifications run as processes of their own against an emulator (and a FaultProxy in front
of it) living in the test process, so a test can read the emulator's store before and after; tests
that send the run real signals start it with `python -m credly_contract.cli`, the others fork it
from tests/cli_process.py.

tests/conftest.py loads this module as a plugin, so its fixtures (``credly_env``,
``emulator_env``, ``proxy``, ``silent_server``, ``dropping``) are everyone's.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from credly_contract import cli
from credly_contract.config import Target, live_target
from credly_contract.emulator import EmulatorServer
from credly_contract.targets import emulated_target
from tests.cli_process import run_cli
from tests.fault_proxy import FaultProxy

slow = pytest.mark.slow  # runs a whole certification in a subprocess
ROOT = Path(__file__).resolve().parents[1]
FAST = ["--rate-limit", "1000"]  # no client-side pacing against a local emulator


def live_env(
    emulator: EmulatorServer, via: FaultProxy | None = None, **extra: str
) -> dict[str, str]:
    """CREDLY_* variables for the emulator's bootstrap application, its URLs optionally via a proxy."""
    target = emulated_target(emulator)
    if via is not None:
        target = replace(target, api_base_url=via.api_base_url, token_url=via.token_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDLY_")}
    env.update(target.environment(), PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def integration_token(token_url: str, target: Target, scope: str = "oauth_applications") -> str:
    """An access token as an integration asks ``token_url`` for one (a proxy's, say) with the
    target's credentials, over a client of its own."""
    answer = httpx.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": target.client_id,
            "client_secret": target.client_secret,
            "scope": scope,
        },
    )
    token: str = answer.json()["access_token"]
    return token


def credly_variables(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("CREDLY_")}


def emulator_target(emulator: EmulatorServer) -> Target:
    """The emulator as a live target (read from its CREDLY_* variables, as `--target live` does)."""
    return live_target({}, emulated_target(emulator).environment())


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


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the run"
        time.sleep(0.05)


def sweep(env: dict[str, str], workdir: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> int:
    for key, value in credly_variables(env).items():
        monkeypatch.setenv(key, value)
    return cli.main(["sweep", "--ledger-dir", str(workdir / "reports"), *extra])


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


# Fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def credly_env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set CREDLY_* variables for an in-process cli.main(), clearing any from the outer shell."""
    for key in list(os.environ):
        if key.startswith("CREDLY_"):
            monkeypatch.delenv(key)

    def set_env(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)

    return set_env


@pytest.fixture
def emulator_env(emulator: EmulatorServer, credly_env: Callable[..., None]) -> EmulatorServer:
    credly_env(**credly_variables(live_env(emulator)))
    return emulator


@pytest.fixture
def proxy(emulator: EmulatorServer) -> Iterator[FaultProxy]:
    with FaultProxy(emulator.origin) as running:
        yield running


@pytest.fixture
def silent_server() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


@pytest.fixture
def dropping() -> Iterator[DropsReusedConnections]:
    server = DropsReusedConnections()
    yield server
    server.close()
