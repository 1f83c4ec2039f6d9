"""Runs a command as a child process and measures it: wall time, CPU time (user + system of the child
and every descendant it reaped, from wait4), exit code and, optionally, when a line first appeared.

CPU time is the figure to trust on a loaded machine: wall time grows with other people's work, CPU time
mostly does not.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "openapi" / "credly.yaml"
CASSETTES = REPO / "cassettes" / "emulator"


@dataclass
class Run:
    """One finished (or stopped) child process."""

    argv: list[str]
    wall: float
    cpu: float
    returncode: int
    output: str
    stopped_at: float | None = None  # seconds after start when `stop_when` matched
    timed_out: bool = False
    lines: list[tuple[float, str]] = field(default_factory=list)


def python_tool(name: str) -> list[str]:
    """A console script of this virtualenv (credly-contract, st), falling back to `python -m`."""
    script = Path(sys.executable).parent / name
    if script.exists():
        return [str(script)]
    module = {"credly-contract": "credly_contract.cli", "st": "schemathesis.cli"}[name]
    return [sys.executable, "-m", module]


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    timeout: float,
    env: dict[str, str | None] | None = None,
    stop_when: Callable[[str], bool] | None = None,
) -> Run:
    """Run argv to completion (or until `stop_when` matches an output line, or the timeout), in its
    own process group so that stopping it stops everything it started."""
    # None removes a variable: a what-if can run without one that this machine sets.
    merged = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    child_env = {key: value for key, value in merged.items() if value is not None}
    started = time.perf_counter()
    process = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    lines: list[tuple[float, str]] = []
    matched: list[float] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            at = time.perf_counter() - started
            lines.append((at, line))
            if stop_when is not None and not matched and stop_when(line):
                matched.append(at)
                _kill_group(process.pid)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    timed_out = False
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - started > timeout:
            timed_out = True
            _kill_group(process.pid)
            pid, status, usage = os.wait4(process.pid, 0)
            break
        time.sleep(0.01)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    reader.join(5)
    return Run(
        argv=list(argv),
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        returncode=process.returncode,
        output="".join(line for _, line in lines),
        stopped_at=matched[0] if matched else None,
        timed_out=timed_out,
        lines=lines,
    )


def _kill_group(pid: int) -> None:
    # The group is the child's own (start_new_session): it holds only what this benchmark started.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Load:
    """How busy the machine was with other work while the benchmarks ran: all CPU time the kernel
    counted (/proc/stat) minus this process's and its children's, plus the load average."""

    def __init__(self) -> None:
        self.cores = os.cpu_count() or 1
        self.usable_cores = (
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else self.cores
        )
        self.samples: list[float] = []
        self._started = time.monotonic()
        self._busy, self._ours = _busy_cpu_seconds(), _our_cpu_seconds()
        self.others_share: float | None = None
        self.sample()

    def sample(self) -> float:
        one_minute = os.getloadavg()[0]
        self.samples.append(one_minute)
        return one_minute

    def finish(self) -> None:
        """Close the measurement: what share of all cores other processes used meanwhile."""
        elapsed = time.monotonic() - self._started
        busy = _busy_cpu_seconds()
        if busy is not None and self._busy is not None and elapsed > 0:
            others = (busy - self._busy) - (_our_cpu_seconds() - self._ours)
            self.others_share = max(0.0, others / (elapsed * self.cores))

    @property
    def peak(self) -> float:
        return max(self.samples)

    @property
    def typical(self) -> float:
        return median(self.samples)

    @property
    def loaded(self) -> bool:
        if self.others_share is not None:
            return self.others_share > 0.15
        # Without /proc/stat: the load average, less the one run this benchmark has going.
        return self.typical - 1 > self.usable_cores * 0.5


def _busy_cpu_seconds() -> float | None:
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _our_cpu_seconds() -> float:
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"
