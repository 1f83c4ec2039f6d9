"""Run `credly-contract ...` as a process of its own, as a user does, without paying Python's start-up
and the suite's imports (about 1.2 s of CPU) for every one of the hundred-odd certifications the tests
run.

Each run is a fresh child process with its own exit code, environment, working directory, stdout and
stderr, forked from a server process that imported the CLI and its libraries once (multiprocessing's
forkserver, one per xdist worker). Nothing the suite learns during a run survives it: every run
forks again from the server, which never ran anything. The certification's own test modules are not
preloaded, so pytest still collects them fresh in every run.

Tests about the process itself (signals, `python -m credly_contract.cli`, an installed wheel, a
network namespace) start a real interpreter with `subprocess` instead.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

# What `credly-contract certify` imports before its certification tests run (the console script,
# its pytest plugins and their libraries), measured with sys.modules at the end of a run.
PRELOAD = [
    "credly_contract.cli",
    "credly_contract.invocation",
    "credly_contract.plugin",
    "credly_contract.fixtures",
    "credly_contract.st",
    "credly_contract.report",
    "credly_contract.report.verify",
    "credly_contract.emulator",
    "credly_contract.client_cert.command",
    "pytest",
    "_pytest.junitxml",
    "_hypothesis_pytestplugin",
    "hypothesis",
    "schemathesis",
    "allure_pytest.plugin",
    "xdist.plugin",
    "httpx",
    "requests",
    "uvicorn",
    "starlette.applications",
    "jsonschema",
    "jinja2",
    "yaml",
]

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(PRELOAD)


def run_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    timeout: float = 300,
    offline: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`credly-contract *args` in a child process; its exit code and its output, as subprocess.run
    with capture_output=True, text=True would give them. ``env`` replaces the environment whole.
    ``offline``: every way of opening a connection raises, so a run that touched the network
    fails instead of quietly passing."""
    environment = dict(os.environ if env is None else env)
    with tempfile.TemporaryDirectory(prefix="credly-cli-") as folder:
        stdout, stderr = Path(folder) / "stdout", Path(folder) / "stderr"
        child = _CONTEXT.Process(
            target=_main,
            args=(
                list(args),
                environment,
                str(cwd or os.getcwd()),
                str(stdout),
                str(stderr),
                offline,
            ),
            name="credly-contract",
        )
        child.start()
        child.join(timeout)
        if child.exitcode is None:
            child.kill()
            child.join()
            raise subprocess.TimeoutExpired(["credly-contract", *args], timeout)
        return subprocess.CompletedProcess(
            ["credly-contract", *args],
            child.exitcode,
            stdout.read_text(encoding="utf-8", errors="replace"),
            stderr.read_text(encoding="utf-8", errors="replace"),
        )


def _refuse(*args: object, **kwargs: object) -> NoReturn:
    raise OSError("an offline run tried to use the network")


def stop_server() -> None:
    """Stop the fork server and reap it, so that the CPU time of every run it forked is counted
    where the test session's is (benchmarks/suite_time.py reads it from wait4)."""
    stop = getattr(multiprocessing.forkserver._forkserver, "_stop", None)  # Python >= 3.8
    if stop is not None:
        stop()


def _main(
    args: list[str], env: dict[str, str], cwd: str, stdout: str, stderr: str, offline: bool
) -> None:
    """The child: the console script's main() with the given environment, folder and output files.
    multiprocessing ends it as the interpreter would: it joins non-daemon threads and flushes."""
    os.dup2(os.open(stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
    os.dup2(os.open(stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.argv = ["credly-contract", *args]
    if offline:
        socket.socket.connect = socket.socket.connect_ex = _refuse  # type: ignore[method-assign]
        socket.create_connection = socket.getaddrinfo = _refuse  # type: ignore[assignment]
    from credly_contract.cli import main

    sys.exit(main(args))
