"""Fixtures for the project's own tests: real emulators on loopback, driven over real HTTP.

- ``make_emulator(**kwargs)`` starts an EmulatorServer on 127.0.0.1 (kwargs go to its constructor:
  ``faults``, ``token_lifetime``, ``seed_applications``, ...); every server it started is stopped at
  teardown.
- ``emulator`` is one started server; give it constructor kwargs by indirect parametrization::

      @pytest.mark.parametrize("emulator", [{"faults": ["secret_on_read"]}], indirect=True)

- ``client`` is a plain ``httpx.Client`` (timeout 5 s).
- ``token(emulator, scopes, bootstrap=None)`` is an access token of the bootstrap application
  (``emulator.bootstrap`` unless another, e.g. ``emulator.foreign``, is given).
- ``api(emulator, scope="oauth_applications", bootstrap=None)`` is an ``httpx.Client`` whose base
  URL is the organization's (``.../v1/organizations/<id>/``) and whose Bearer header is preset, so
  tests write ``api(emulator).get("oauth_applications")``.

The suite runs on every core (pytest-xdist, ``-n auto --dist loadgroup`` in pyproject.toml), with two
workers per core (``pytest_xdist_auto_num_workers`` below): each test is one item handed to whichever
worker is free, except that tests sharing a module-scoped
fixture (often a whole certification run) are kept on one worker, so that fixture is built once.
Everything a test starts listens on a free port of 127.0.0.1 and writes under its own tmp_path.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx
import pytest

from credly_contract.emulator import EmulatorServer
from credly_contract.emulator.server import Bootstrap

# The fixtures of whole live runs (credly_env, emulator_env, proxy, silent_server, dropping).
pytest_plugins = ["tests.live_runs"]

TIMEOUT = 5
# Building an SSL context per client costs ~30 ms (it loads the CA bundle); share one.
SSL_CONTEXT = ssl.create_default_context()

# uvicorn needs ~0.2 s to shut down; stopping in the background keeps the suite fast, and the
# session-scoped fixture below waits for every stop before the session ends.
_stopping: list[threading.Thread] = []


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto`: two workers per core. A certification test spends much of its time handing
    requests back and forth over loopback between a CLI process and the emulator or proxy in its
    worker, when neither runs; a second worker per core runs in those gaps (on 2 cores, the suite
    took 2:29 with 2 workers, 2:05 with 4). PYTEST_XDIST_AUTO_NUM_WORKERS overrides it (xdist's
    own hook reads it)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    return 2 * len(os.sched_getaffinity(0))


# The checkout as git sees it, ignored files included (reports/ is ignored, yet a certificate a
# test leaves there is litter): what the session starts with, it must end with. What an
# installation or Python itself writes there is no test's doing.
_CHECKOUT = pytest.StashKey[list[str]]()
_CHANGED = pytest.StashKey[list[str]]()
NOT_LITTER = (
    ".venv/", ".hypothesis/", ".pytest_cache/", ".mypy_cache/", ".ruff_cache/", "__pycache__/",
    ".egg-info/", "build/",
)  # fmt: skip


def _checkout_state(root: str) -> list[str] | None:
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
            cwd=root, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None  # not a git checkout (an unpacked sdist): nothing to compare
    return [
        line for line in done.stdout.splitlines() if not any(part in line for part in NOT_LITTER)
    ]


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):
        state = _checkout_state(str(session.config.rootpath))
        if state is not None:
            session.config.stash[_CHECKOUT] = state


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fail the session when its tests changed the checkout (every test writes under tmp_path)."""
    before = session.config.stash.get(_CHECKOUT, None)
    if before is None:
        return
    after = _checkout_state(str(session.config.rootpath)) or []
    changed = sorted(set(after) - set(before)) + [
        f"gone: {x}" for x in sorted(set(before) - set(after))
    ]
    if changed:
        session.config.stash[_CHANGED] = changed
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    changed = config.stash.get(_CHANGED, None)
    if changed:
        terminalreporter.section("the tests changed the checkout", red=True)
        for line in changed:
            terminalreporter.write_line(f"  {line}")
        terminalreporter.write_line("every test must write under tmp_path (git status --ignored)")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups into node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group the tests of a module that share a module-scoped fixture on one xdist worker."""
    for item in items:
        definitions = getattr(item, "_fixtureinfo", None)
        shared = sorted(
            name
            for name, defs in (definitions.name2fixturedefs.items() if definitions else ())
            if defs and defs[-1].scope == "module"
        )
        if shared:
            item.add_marker(pytest.mark.xdist_group(f"{item.path.stem}:{shared[0]}"))


@pytest.fixture(scope="session", autouse=True)
def _wait_for_emulators_to_stop() -> Iterator[None]:
    yield
    for thread in _stopping:
        thread.join(10)


@pytest.fixture(scope="session", autouse=True)
def _stop_the_cli_fork_server() -> Iterator[None]:
    yield
    if "tests.cli_process" in sys.modules:
        sys.modules["tests.cli_process"].stop_server()


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., EmulatorServer]]:
    servers: list[EmulatorServer] = []

    def make(**kwargs: Any) -> EmulatorServer:
        server = EmulatorServer(host="127.0.0.1", port=0, **kwargs)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        thread = threading.Thread(target=server.stop, name="emulator-stop", daemon=True)
        thread.start()
        _stopping.append(thread)


@pytest.fixture
def emulator(request: pytest.FixtureRequest, make_emulator) -> EmulatorServer:
    return make_emulator(**getattr(request, "param", {}))


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=TIMEOUT, verify=SSL_CONTEXT) as http:
        yield http


def scope_string(scopes: str | Iterable[str]) -> str:
    return scopes if isinstance(scopes, str) else " ".join(scopes)


@pytest.fixture
def token(client: httpx.Client) -> Callable[..., str]:
    def get_token(
        emulator: EmulatorServer,
        scopes: str | Iterable[str] = "oauth_applications",
        bootstrap: Bootstrap | None = None,
    ) -> str:
        owner = bootstrap or emulator.bootstrap
        response = client.post(
            emulator.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": owner.client_id,
                "client_secret": owner.client_secret,
                "scope": scope_string(scopes),
            },
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    return get_token


@pytest.fixture
def api(token: Callable[..., str]) -> Iterator[Callable[..., httpx.Client]]:
    clients: list[httpx.Client] = []

    def make_api(
        emulator: EmulatorServer,
        scope: str | Iterable[str] = "oauth_applications",
        bootstrap: Bootstrap | None = None,
    ) -> httpx.Client:
        owner = bootstrap or emulator.bootstrap
        http = httpx.Client(
            base_url=f"{emulator.api_base_url}/organizations/{owner.organization_id}/",
            headers={"Authorization": f"Bearer {token(emulator, scope, owner)}"},
            timeout=TIMEOUT,
            verify=SSL_CONTEXT,
        )
        clients.append(http)
        return http

    yield make_api
    for http in clients:
        http.close()
