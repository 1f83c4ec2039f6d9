"""Benchmarks that run the real `credly-contract certify` (or the certification's pytest directly): wall
and CPU time per profile and for --target replay, requests sent, --workers scaling, time to first
failure with a fault, list/pagination growth with the organization's size, and what start-up options
would save."""

from __future__ import annotations

import json
import os
import re
import sys
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.measure import CASSETTES, REPO, Run, median, python_tool, run
from credly_contract.ledger import read_outstanding

CERTIFICATION = REPO / "suite" / "certification"


@dataclass
class Certification:
    """One certify run and what its certificate says."""

    run: Run
    certificate: dict[str, Any]
    reports: Path

    @property
    def requests(self) -> int | None:
        """Requests sent, from the certificate; None when it does not know (xdist workers keep
        their counts to themselves: the certificate then carries a run_facts_missing note)."""
        kinds = {o.get("kind") for o in self.certificate.get("observations") or []}
        if "run_facts_missing" in kinds:
            return None
        return (self.certificate.get("counts") or {}).get("requests_sent")

    @property
    def not_run(self) -> int:
        return int(
            ((self.certificate.get("counts") or {}).get("requirements") or {}).get("not_run", 0)
        )

    @property
    def verdict(self) -> str:
        return str(self.certificate.get("verdict", f"no certificate (exit {self.run.returncode})"))

    @property
    def failed_requirements(self) -> list[str]:
        requirements = self.certificate.get("requirements") or []
        if isinstance(requirements, dict):
            requirements = [{"id": k, **v} for k, v in requirements.items()]
        return [r.get("id", "?") for r in requirements if r.get("status") == "failed"]

    @property
    def cleanup_exact(self) -> bool:
        """Every application the run created was deleted: its ledgers (one per run, shared by
        xdist workers) hold no creation without its deletion."""
        ledgers = list(self.reports.glob("ledger-*.jsonl"))
        return bool(ledgers) and not any(read_outstanding(path) for path in ledgers)


@dataclass
class Repeated:
    """Several runs of the same command: medians of wall and CPU time."""

    label: str
    runs: list[Certification] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return median([c.run.wall for c in self.runs])

    @property
    def cpu(self) -> float:
        return median([c.run.cpu for c in self.runs])

    @property
    def requests(self) -> int | None:
        counts = [c.requests for c in self.runs if c.requests is not None]
        return int(median(counts)) if counts else None

    @property
    def verdicts(self) -> str:
        """The verdicts of the runs, with how many requirements were not run."""
        found = {c.verdict + (f" ({c.not_run} not run)" if c.not_run else "") for c in self.runs}
        return ", ".join(sorted(found))


class Workspace:
    """A scratch folder for reports, so that benchmark runs leave nothing in the repository."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._count = 0

    def folder(self, label: str) -> Path:
        self._count += 1
        path = self.root / f"{self._count:03d}-{re.sub(r'[^A-Za-z0-9_.]+', '-', label).strip('-')}"
        path.mkdir(parents=True)
        return path

    def env(self, extra: dict[str, str | None] | None = None) -> dict[str, str | None]:
        # The children import the repository's code from its checkout and share one hypothesis
        # cache: a cold one costs every run about 2 s (the charmap of the utf-8 codec, computed
        # code point by code point), so only the first run, measured as the cold start, pays it.
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
        cache = str(self.root / ".hypothesis")
        return {"PYTHONPATH": path, "HYPOTHESIS_STORAGE_DIRECTORY": cache, **(extra or {})}


def certify(
    workspace: Workspace,
    label: str,
    *flags: str,
    timeout: float,
    env: dict[str, str | None] | None = None,
    stop_at_first_failure: bool = False,
) -> Certification:
    reports = workspace.folder(label)
    argv = [*python_tool("credly-contract"), "certify", *flags, "--reports-dir", str(reports)]
    finished = run(
        argv,
        cwd=workspace.root,
        timeout=timeout,
        env=workspace.env(env),
        stop_when=_reports_failure if stop_at_first_failure else None,
    )
    (reports / "output.txt").write_text(finished.output)
    certificate_path = reports / "certificate.json"
    certificate = json.loads(certificate_path.read_text()) if certificate_path.exists() else {}
    return Certification(finished, certificate, reports)


def _reports_failure(line: str) -> bool:
    # `certify -v` prints one line per test as it finishes ("...::test_x FAILED [ 12%]"), and the
    # requirement summary prints "FAILED   <id>".
    return " FAILED" in line or line.startswith("FAILED") or " SUBFAIL" in line


@dataclass(frozen=True)
class FirstFailure:
    at: float | None  # seconds after start
    test: str | None  # the test that printed it


def first_failure(certification: Certification) -> FirstFailure:
    """When a run printed its first failed test, and which (needs `certify -v`)."""
    for at, line in certification.run.lines:
        if _reports_failure(line):
            test = line.split(" FAILED")[0].split(" SUBFAIL")[0].strip()
            path, separator, name = test.partition("::")
            return FirstFailure(at, path.rsplit("/", 1)[-1] + separator + name or None)
    return FirstFailure(certification.run.stopped_at, None)


@dataclass(frozen=True)
class Variant:
    """certify flags and extra environment for one side of a comparison."""

    flags: tuple[str, ...]
    env: dict[str, str | None] | None = None


def repeat(
    workspace: Workspace, variants: dict[str, Variant], times: int, timeout: float, deadline: float
) -> dict[str, Repeated]:
    """Each variant up to `times` times, taking turns, so that a change in the machine's load falls
    on every variant alike; stops early when another round would pass the deadline (monotonic)."""
    results = {label: Repeated(label) for label in variants}
    for _ in range(times):
        last_round = sum(r.runs[-1].run.wall for r in results.values() if r.runs)
        if last_round and time.monotonic() + last_round > deadline:
            break
        for label, variant in variants.items():
            finished = certify(workspace, label, *variant.flags, timeout=timeout, env=variant.env)
            results[label].runs.append(finished)
            print(
                f"  {label}: {finished.run.wall:.1f} s wall, {finished.run.cpu:.1f} s CPU, "
                f"{finished.verdict}",
                file=sys.stderr,
            )
    return results


def replay_flags() -> list[str]:
    return ["--target", "replay", "--cassettes-dir", str(CASSETTES)]


@dataclass
class Growth:
    applications: int
    wall: float
    cpu: float
    check_seconds: float  # the PAGE-META tests' call phases, from junit.xml
    passed: bool


def pagination_growth(workspace: Workspace, applications: int, timeout: float) -> Growth:
    """The pagination checks (test_pagination.py, PAGE-META) with N applications already in the
    organization: their own time from junit.xml, and the whole pytest run's."""
    reports = workspace.folder(f"growth-{applications}")
    junit = reports / "pagination-junit.xml"
    argv = [
        sys.executable, "-m", "pytest", str(CERTIFICATION / "test_pagination.py"),
        "-c", str(CERTIFICATION / "pytest.ini"), "--rootdir", str(CERTIFICATION),
        "-p", "no:cacheprovider", "-q", "-W", "ignore", "--assert=plain",  # as certify runs it
        "--credly-profile", "quick", "--credly-seed-applications", str(applications),
        "--credly-reports-dir", str(reports), "--junitxml", str(junit),
        "-o", "junit_duration_report=call",  # the checks' own time, not the emulator's seeding
    ]  # fmt: skip
    finished = run(argv, cwd=workspace.root, timeout=timeout, env=workspace.env())
    (reports / "output.txt").write_text(finished.output)
    # The run's exit code says "not certified" (it proves only PAGE-META); junit says what failed.
    seconds, broken = 0.0, 1
    if junit.exists():
        root = ElementTree.parse(junit).getroot()
        seconds = sum(float(case.get("time") or 0) for case in root.iter("testcase"))
        broken = sum(
            int(s.get("failures") or 0) + int(s.get("errors") or 0) for s in root.iter("testsuite")
        )
    return Growth(applications, finished.wall, finished.cpu, seconds, broken == 0)


# What-if start-up options, applied without editing the suite: PYTEST_ADDOPTS reaches the pytest.main
# call inside certify. (`--assert=plain`, measured here first, now ships in certify.)
NO_GC_AT_EXIT = "-p no:unraisableexception"
ONLY_NEEDED_PLUGINS = (
    "--disable-plugin-autoload -p schemathesis -p hypothesispytest -p allure_pytest"
)
QUICK = ("--profile", "quick")
WHAT_IF: dict[str, Variant] = {
    "as shipped": Variant(QUICK),
    NO_GC_AT_EXIT: Variant(QUICK, {"PYTEST_ADDOPTS": NO_GC_AT_EXIT}),
    ONLY_NEEDED_PLUGINS: Variant(QUICK, {"PYTEST_ADDOPTS": ONLY_NEEDED_PLUGINS}),
    "both": Variant(QUICK, {"PYTEST_ADDOPTS": f"{ONLY_NEEDED_PLUGINS} {NO_GC_AT_EXIT}"}),
}
