"""`python -m benchmarks.suite_time [--predating | --ci-run | PYTEST ARGS]`: times the project's own
test suite the way the README and `.ci/run` run it (`python -m pytest`, on every core through
pyproject's addopts), with the CPU time of every process it started and the share of the machine
other work took meanwhile, and prints a markdown summary.

Issue 13's targets, on 2 cores (`python -m benchmarks` measures both):
- the tests of the day it was filed in <= 3 min: ``--predating`` runs the test files that existed
  at that commit (ISSUE_13_FILED_AT), as they are now;
- the whole `.ci/run`, with everything added since, in <= 4.5 min: ``--ci-run`` clones HEAD into a
  scratch folder and runs `.ci/run` there, as CI does (its venv, its install, lint, types, tests).

CPU time divided by the cores is what a quiet machine would need at best; on a shared machine the wall
time says more about the neighbours than about the suite.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from benchmarks.measure import REPO, Load, cpu_model, run

TIMEOUT = 30 * 60
# The last commit before issue 13 was filed: its test files are "today's tests" of that issue.
ISSUE_13_FILED_AT = "f208942"
PREDATING_TARGET = 3 * 60.0
CI_RUN_TARGET = 4.5 * 60


@dataclass
class SuiteRun:
    wall: float
    cpu: float
    returncode: int
    summary: str  # pytest's last line: "N passed, M xfailed in ..."
    seconds_per_file: Counter[str]  # the summed test times per test file (from junit.xml)
    cores: int
    others_share: float | None  # the share of all cores other processes used meanwhile
    slowest: list[str]  # pytest's --durations lines, when asked for
    failed: list[str]  # pytest's "FAILED ..." / "ERROR ..." summary lines


def measure_test_suite(*pytest_args: str) -> SuiteRun:
    load = Load()
    with tempfile.TemporaryDirectory(prefix="suite-bench-") as folder:
        junit = Path(folder) / "junit.xml"
        finished = run(
            [sys.executable, "-m", "pytest", "-q", f"--junitxml={junit}", *pytest_args],
            cwd=REPO,
            timeout=TIMEOUT,
        )
        per_file: Counter[str] = Counter()
        if junit.exists():
            for case in ElementTree.parse(junit).iter("testcase"):
                module = case.get("classname", "").split(".")
                per_file[module[1] if len(module) > 1 else module[0]] += float(case.get("time", 0))
    load.finish()
    return SuiteRun(
        wall=finished.wall,
        cpu=finished.cpu,
        returncode=finished.returncode,
        summary=pytest_summary(finished.output),
        seconds_per_file=per_file,
        cores=load.cores,
        others_share=load.others_share,
        failed=re.findall(r"^(?:FAILED|ERROR) .*$", finished.output, re.M),
        slowest=re.findall(r"^\d+\.\d+s (?:call|setup|teardown) .*$", finished.output, re.M),
    )


def pytest_summary(output: str) -> str:
    """pytest's last line ("N passed, M failed in ..."), or the output's end when it has none."""
    lines = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    return lines[-1].strip("= ") if lines else output[-300:]


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, check=True, timeout=120
    ).stdout


def predating_test_files() -> list[str]:
    """The test files that existed when issue 13 was filed and still exist."""
    listed = _git("ls-tree", "--name-only", ISSUE_13_FILED_AT, "tests/").split()
    return [
        name for name in listed
        if Path(name).name.startswith("test_") and name.endswith(".py") and (REPO / name).exists()
    ]  # fmt: skip


def measure_predating() -> SuiteRun:
    return measure_test_suite(*predating_test_files())


@dataclass
class CiRun:
    wall: float
    cpu: float
    returncode: int
    summary: str  # pytest's last line
    commit: str


def measure_ci_run() -> CiRun:
    """`.ci/run` on a fresh clone of HEAD, as CI runs it (the pip cache of this machine helps the
    install; a CI runner's cold cache would not)."""
    commit = _git("rev-parse", "--short", "HEAD").strip()
    with tempfile.TemporaryDirectory(prefix="ci-run-bench-") as folder:
        clone = Path(folder) / "clone"
        _git("clone", "-q", str(REPO), str(clone))
        finished = run([str(clone / ".ci" / "run")], cwd=clone, timeout=TIMEOUT)
    return CiRun(
        finished.wall, finished.cpu, finished.returncode, pytest_summary(finished.output), commit
    )


def render(result: SuiteRun) -> str:
    others = "unknown" if result.others_share is None else f"{result.others_share:.0%}"
    rows = [
        f"`python -m pytest` on {result.cores} cores ({cpu_model()}); other processes used "
        f"{others} of all cores meanwhile.",
        "",
        "| Wall | CPU (all processes) | CPU / cores | Exit | Tests |",
        "| --- | --- | --- | --- | --- |",
        f"| {minutes(result.wall)} | {minutes(result.cpu)} | {minutes(result.cpu / result.cores)} "
        f"| {result.returncode} | {result.summary} |",
        "",
        "| Test file | Summed test time |",
        "| --- | --- |",
    ]
    for name, seconds in result.seconds_per_file.most_common(8):
        rows.append(f"| {name} | {minutes(seconds)} |")
    if result.failed:
        rows += ["", "Failed:", "", *(f"    {line}" for line in result.failed)]
    if result.slowest:
        rows += [
            "",
            "Slowest (pytest --durations):",
            "",
            *(f"    {line}" for line in result.slowest),
        ]
    return "\n".join(rows)


def minutes(seconds: float) -> str:
    """m:ss.s"""
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


if __name__ == "__main__":
    if sys.argv[1:] == ["--ci-run"]:
        ci = measure_ci_run()
        print(f".ci/run on a fresh clone of {ci.commit}: {minutes(ci.wall)} wall, "
              f"{minutes(ci.cpu)} CPU, exit {ci.returncode}: {ci.summary}")  # fmt: skip
    elif sys.argv[1:] == ["--predating"]:
        print(render(measure_predating()))
    else:
        print(render(measure_test_suite(*sys.argv[1:])))
