"""Runs the integration's command: its output streams through to the console (scrubbed) and is captured
raw for the no-leak judge; a time limit ends it (its whole process group) if it hangs."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from credly_contract.config import ConfigError
from credly_contract.interrupts import Interrupts
from credly_contract.scrub import scrub


@dataclass
class Outcome:
    """How the integration's process ended."""

    returncode: int | None
    timed_out: bool
    stdout: bytes
    stderr: bytes
    seconds: float


def check_runnable(command: Sequence[str]) -> None:
    """ConfigError unless ``command[0]`` names an executable (checked before anything starts)."""
    if shutil.which(command[0]) is None:
        raise ConfigError(
            f"cannot run the integration command {command[0]!r}: no such executable file "
            "(nor on PATH); pass it after --, e.g. certify-client -- python sync.py"
        )


def run_integration(
    command: Sequence[str],
    environment: Mapping[str, str],
    timeout: float,
    echo: bool = True,
) -> Outcome:
    """Run ``command`` with ``environment`` added to ours (every other CREDLY_* variable removed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDLY_")} | dict(environment)
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            list(command),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, so a time-out ends its children too
        )
    except OSError as error:
        raise ConfigError(
            f"cannot run the integration command {command[0]!r}: {error.strerror}; "
            "pass it after --, e.g. certify-client -- python sync.py"
        ) from None
    captured: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
    readers = [
        threading.Thread(
            target=_pump, args=(process.stdout, captured["stdout"], sys.stdout if echo else None)
        ),
        threading.Thread(
            target=_pump, args=(process.stderr, captured["stderr"], sys.stderr if echo else None)
        ),
    ]
    for reader in readers:
        reader.start()
    timed_out = False
    # SIGTERM (a CI job cancelled) raises as Ctrl-C does: either way the integration, in its own
    # session where neither signal reaches it, is ended with us rather than left running.
    interrupts = Interrupts()
    interrupts.install()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(process)
    except KeyboardInterrupt:
        _kill_group(process)
        raise
    finally:
        interrupts.restore()
    for reader in readers:
        reader.join(5)
    return Outcome(
        None if timed_out else process.returncode,
        timed_out,
        bytes(captured["stdout"]),
        bytes(captured["stderr"]),
        time.monotonic() - started,
    )


def _pump(stream: IO[bytes] | None, sink: bytearray, echo: IO[str] | None) -> None:
    if stream is None:
        return
    for line in iter(stream.readline, b""):
        sink.extend(line)
        if echo is not None:
            echo.write(scrub(line.decode("utf-8", "replace")))
            echo.flush()
    stream.close()


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
