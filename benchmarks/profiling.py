"""Where a certification's time goes: runs `credly-contract certify` under pyinstrument in a child
process and sorts every sample of the main thread into one cause (imports, pytest's assertion
rewriting, schema loading, waiting on the target, ...), plus the CPU time of the emulator's thread.

    python -m benchmarks.profiling OUT.json [certify flags...]
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

# (label, test on the stack of one sample, innermost frame last). The first that matches takes the
# sample, so the order says which explanation wins: an import inside schema loading is an import.
Stack = list[str]
CAUSES: list[tuple[str, Callable[[Stack, str], bool]]] = [
    (
        "pytest assertion rewriting of plugin packages (ast parse + rewrite + compile, no .pyc cache)",
        lambda stack, leaf: any("_pytest/assertion/rewrite.py" in f for f in stack),
    ),
    (
        "Python imports (finding, loading and running module bodies)",
        lambda stack, leaf: any(f.startswith("_find_and_load\x00") for f in stack),
    ),
    (
        "pytest unraisableexception: 5 full gc.collect() at exit",
        lambda stack, leaf: any(f.startswith("gc_collect_harder\x00") for f in stack),
    ),
    (
        "schemathesis: loading openapi/credly.yaml into a schema",
        lambda stack, leaf: any("schemathesis/openapi/loaders.py" in f for f in stack),
    ),
    (
        "emulator start-up and seeding (in-process)",
        lambda stack, leaf: any("suite/credly_contract/emulator/server.py" in f for f in stack),
    ),
    (
        "reports: certificate, HTML, manifest (suite/credly_contract/report)",
        lambda stack, leaf: any("suite/credly_contract/report/" in f for f in stack),
    ),
    (
        "allure-pytest listener",
        lambda stack, leaf: any("allure_pytest/" in f or "allure_commons/" in f for f in stack),
    ),
    (
        "waiting on the target (socket I/O: emulator work + loopback)",
        lambda stack, leaf: (
            bool(re.match(r"(socket\.|select|poll|_ssl|.*\.recv|.*\.send)", leaf.split("\x00")[0]))
            and any(
                lib in f for f in stack for lib in ("httpx/", "httpcore/", "requests/", "urllib3/")
            )
        ),
    ),
    (
        "HTTP clients' own code (httpx, requests, urllib3)",
        lambda stack, leaf: any(
            lib in f for f in stack for lib in ("httpx/", "httpcore/", "requests/", "urllib3/")
        ),
    ),
    (
        "yaml parsing outside schema loading (pure-Python SafeLoader)",
        lambda stack, leaf: any("/yaml/" in f for f in stack),
    ),
    (
        "hypothesis + schemathesis data generation and engine",
        lambda stack, leaf: any("hypothesis/" in f or "schemathesis/" in f for f in stack[-25:]),
    ),
    (
        "suite code (checks, client, tests, plugin)",
        lambda stack, leaf: any("suite/credly_contract/" in f for f in stack[-6:]),
    ),
    (
        "pytest and pluggy machinery (config, collection, hooks, terminal)",
        lambda stack, leaf: any("_pytest/" in f or "pluggy/" in f for f in stack[-6:]),
    ),
]
PHASES: list[tuple[str, str]] = [
    ("pytest: unconfigure and exit", "_ensure_unconfigure\x00"),
    ("pytest: session finish (reports)", "pytest_sessionfinish\x00"),
    ("pytest: tests (incl. session fixtures)", "pytest_runtestloop\x00"),
    ("pytest: collection", "pytest_collection\x00"),
]


def _short(identifier: str) -> str:
    function, path, *_ = [*identifier.split("\x00"), "", ""]
    path = re.sub(r".*site-packages/", "", path)
    path = re.sub(r".*/(suite|benchmarks)/", r"\1/", path)
    return f"{path}:{function}"


def classify(records: list[tuple[Stack, float]]) -> dict[str, Any]:
    causes: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for stack, seconds in records:
        leaf = stack[-1]
        for label, test in CAUSES:
            if test(stack, leaf):
                causes[label] += seconds
                break
        else:
            causes["other"] += seconds
        for label, marker in PHASES:
            if any(f.startswith(marker) for f in stack):
                phases[label] += seconds
                break
        else:
            in_pytest = any("_pytest/config/__init__.py" in f for f in stack)
            phases[
                "pytest: start-up (config, plugins)"
                if in_pytest
                else "CLI and imports before pytest"
            ] += seconds
        for name in {_short(f) for f in stack}:
            inclusive[name] += seconds
    interesting = [
        (name, seconds)
        for name, seconds in inclusive.most_common()
        if name.startswith("suite/credly_contract/")
        or "loaders.py:from_path" in name
        or "gc_collect" in name
    ]
    return {
        "causes": causes.most_common(),
        "phases": phases.most_common(),
        "suite_functions": interesting[:15],
    }


class ThreadClock:
    """Samples the CPU time of the emulator's thread (it runs beside the tests, in this process)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        import os

        ticks = os.sysconf("SC_CLK_TCK")
        while not self._stop.wait(0.05):
            for thread in threading.enumerate():
                if thread.name == "emulator" and thread.native_id:
                    try:
                        stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
                    except OSError:
                        continue
                    fields = stat.rsplit(")", 1)[1].split()
                    self.seconds = max(self.seconds, (int(fields[11]) + int(fields[12])) / ticks)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.seconds


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out, certify_args = Path(args[0]), args[1:]
    from pyinstrument import Profiler

    started = time.perf_counter()
    clock = ThreadClock()
    profiler = Profiler(interval=0.002)
    profiler.start()
    from credly_contract.cli import main as cli_main

    code = cli_main(["certify", *certify_args])
    profiler.stop()
    wall = time.perf_counter() - started
    session = profiler.last_session
    assert session is not None
    summary = classify([(list(stack), seconds) for stack, seconds in session.frame_records])
    summary |= {
        "exit_code": code,
        "wall": wall,
        "profiled_seconds": session.duration,
        "main_thread_cpu": session.cpu_time,
        "emulator_thread_cpu": clock.stop(),
    }
    out.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
