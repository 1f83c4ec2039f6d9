"""`python -m benchmarks [--quick]`: runs every benchmark of issue 7 against emulators on 127.0.0.1,
prints the results as markdown tables with the machine's core count and writes them to
benchmarks/results.md (the README shows the latest copy).

The full set takes about 11 minutes on 2 quiet cores (6 of them the project's own tests and `.ci/run`
on a fresh clone) and stays within a 22-minute budget on busy ones; `--quick` runs a reduced set
without the test suite in 2 to 3 minutes (4-minute budget). A section that would not fit
in the budget is skipped, and the results say so. `--keep` keeps every run's output and reports.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import latency, st_baseline, suite_time
from benchmarks.certify_runs import (
    WHAT_IF,
    Variant,
    Workspace,
    certify,
    first_failure,
    pagination_growth,
    repeat,
    replay_flags,
)
from benchmarks.emulator_load import measure_emulator
from benchmarks.measure import REPO, Load, run
from benchmarks.table import FIRST_FAILURE_FAULT, Results, render
from credly_contract.profiles import PROFILES

RESULTS_FILE = Path(__file__).resolve().parent / "results.md"


@dataclass(frozen=True)
class Plan:
    name: str
    budget_minutes: float
    quick_runs: int
    standard_runs: int
    thorough_runs: int
    replay_runs: int
    workers_runs: int
    profile_standard: bool
    load_count: int
    load_seconds: float
    faults: tuple[str, ...]
    fault_free_runs: int
    first_failure_profiles: tuple[str, ...]
    growth: tuple[int, ...]
    what_if_runs: int
    latency_runs: int = 2
    latency_workers: tuple[int, ...] = (1, 2)
    test_suite: bool = True  # the project's tests and .ci/run (issue 13), about 6 minutes


FULL = Plan(
    name="full", budget_minutes=22, quick_runs=3, standard_runs=2, thorough_runs=1,
    replay_runs=3, workers_runs=2, profile_standard=True, load_count=4000, load_seconds=4,
    faults=st_baseline.FAULTS, fault_free_runs=2, first_failure_profiles=("standard", "thorough"),
    growth=(10, 100, 1000), what_if_runs=2,
)  # fmt: skip
QUICK = Plan(
    name="quick", budget_minutes=4, quick_runs=2, standard_runs=1, thorough_runs=0,
    replay_runs=2, workers_runs=0, profile_standard=False, load_count=1500, load_seconds=2,
    faults=st_baseline.QUICK_FAULTS, fault_free_runs=1, first_failure_profiles=("standard",),
    growth=(10, 1000), what_if_runs=0, latency_runs=1, test_suite=False,
)  # fmt: skip


class Sections:
    """Runs benchmark sections in order within a time budget; a section that fails or does not fit
    is noted in the results instead of stopping the others."""

    def __init__(self, results: Results, load: Load, budget_seconds: float) -> None:
        self.results = results
        self.load = load
        self.deadline = time.monotonic() + budget_seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def run(self, name: str, estimate: float, body: Callable[[], None]) -> None:
        if self.left() < estimate:
            self.results.notes.append(f"{name}: skipped, it would not fit in the time budget.")
            return
        print(f"[{time.strftime('%H:%M:%S')}] {name} ({self.left():.0f} s left)", file=sys.stderr)
        self.load.sample()
        try:
            body()
        except Exception as error:  # one broken benchmark must not lose the others' figures
            traceback.print_exc()
            self.results.notes.append(f"{name}: failed ({type(error).__name__}: {error}).")
        self.load.sample()


def run_all(plan: Plan, workspace: Workspace, load: Load) -> Results:
    results = Results(plan=plan.name)
    sections = Sections(results, load, plan.budget_minutes * 60)
    timeout = 600.0

    def profiles() -> None:
        # The first certify of the benchmark meets an empty hypothesis cache, like a fresh clone.
        results.cold_start = certify(workspace, "cold-start", "--profile", "quick", timeout=timeout)
        for profile, times in (("quick", plan.quick_runs), ("standard", plan.standard_runs)):
            variant = {profile: Variant(("--profile", profile))}
            results.profiles |= repeat(workspace, variant, times, timeout, sections.deadline)

    def replay() -> None:
        probe = certify(workspace, "replay-probe", *replay_flags(), timeout=120)
        if probe.run.returncode not in (0, 1):
            results.notes.append(
                f"--target replay: not measured, certify exited {probe.run.returncode}: "
                + probe.run.output.strip().splitlines()[-1][:200]
            )
            return
        variant = {"replay": Variant(tuple(replay_flags()))}
        results.replay = repeat(workspace, variant, plan.replay_runs, 120, sections.deadline)[
            "replay"
        ]

    def profile_quick() -> None:
        results.profile["quick"] = _profile(workspace, "quick")

    def emulator() -> None:
        results.emulator = measure_emulator(plan.load_count, plan.load_seconds)

    def side_by_side() -> None:
        # Plain schemathesis gets the same examples per operation as the suite's quick profile.
        examples = PROFILES["quick"].examples
        results.side_by_side = st_baseline.side_by_side(
            workspace, "quick", examples, plan.faults, timeout, plan.fault_free_runs
        )

    def quick_at_latency() -> None:
        results.latency = latency.quick_at_latency(
            workspace, plan.latency_workers, plan.latency_runs, timeout, sections.deadline
        )

    def plain_standard() -> None:
        results.plain_standard = st_baseline.schemathesis(workspace, 25, None, timeout)

    def time_to_first_failure() -> None:
        for profile in plan.first_failure_profiles:
            stopped = certify(
                workspace, f"first-failure-{profile}", "--profile", profile,
                "--fault", FIRST_FAILURE_FAULT, "-v", timeout=timeout, stop_at_first_failure=True,
            )  # fmt: skip
            results.first_failure[profile] = (first_failure(stopped), stopped.run.wall)

    def growth() -> None:
        for applications in plan.growth:
            results.growth.append(pagination_growth(workspace, applications, timeout))

    def workers() -> None:
        standard = ("--profile", "standard")
        variants = {"standard, 1 process": Variant(standard),
                    "standard --workers 2": Variant((*standard, "--workers", "2"))}  # fmt: skip
        measured = repeat(workspace, variants, plan.workers_runs, timeout, sections.deadline)
        results.single, results.workers = measured.values()

    def what_if() -> None:
        results.what_if = repeat(workspace, WHAT_IF, plan.what_if_runs, timeout, sections.deadline)

    def thorough() -> None:
        variant = {"thorough": Variant(("--profile", "thorough"))}
        results.profiles |= repeat(
            workspace, variant, plan.thorough_runs, timeout, sections.deadline
        )

    def profile_standard() -> None:
        results.profile["standard"] = _profile(workspace, "standard")

    def test_suite() -> None:
        results.predating_tests = suite_time.measure_predating()
        results.ci_run = suite_time.measure_ci_run()

    sections.run("certify per profile (quick, standard)", 60, profiles)
    sections.run("certify --target replay", 10, replay)
    sections.run("quick against a target 100 ms away", 60, quick_at_latency)
    sections.run("pyinstrument profile of a quick run", 30, profile_quick)
    sections.run("emulator alone under load", 20, emulator)
    sections.run("side by side with plain schemathesis", 60, side_by_side)
    sections.run("plain schemathesis, 25 examples", 15, plain_standard)
    sections.run("time to first failure", 30, time_to_first_failure)
    sections.run("pagination growth", 20, growth)
    if plan.workers_runs:
        sections.run("--workers 2", 60, workers)
    if plan.what_if_runs:
        sections.run("start-up options (what if)", 20, what_if)
    if plan.thorough_runs:
        sections.run("certify thorough", 120, thorough)
    if plan.profile_standard:
        sections.run("pyinstrument profile of a standard run", 60, profile_standard)
    if plan.test_suite:
        sections.run("the project's tests and .ci/run on a fresh clone", 400, test_suite)
    return results


def _profile(workspace: Workspace, profile: str) -> dict[str, Any]:
    out = workspace.folder(f"profile-{profile}") / "profile.json"
    argv = [sys.executable, "-m", "benchmarks.profiling", str(out), "--profile", profile,
            "--reports-dir", str(out.parent / "reports")]  # fmt: skip
    finished = run(argv, cwd=workspace.root, timeout=600, env=workspace.env())
    if not out.exists():
        raise RuntimeError(f"the profiled run wrote no profile: {finished.output[-300:]}")
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a reduced set, a few minutes")
    parser.add_argument("--output", type=Path, default=RESULTS_FILE, help="markdown file to write")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder of reports")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    load = Load()
    started = time.monotonic()
    workspace = Workspace(Path(tempfile.mkdtemp(prefix="credly-benchmarks-")))
    try:
        results = run_all(plan, workspace, load)
    finally:
        if args.keep:
            print(f"scratch folder kept: {workspace.root}", file=sys.stderr)
        else:
            shutil.rmtree(workspace.root, ignore_errors=True)
    results.elapsed = time.monotonic() - started
    load.finish()
    markdown = render(results, load)
    print(markdown)
    args.output.write_text(markdown)
    shown = args.output.relative_to(REPO) if args.output.is_relative_to(REPO) else args.output
    print(f"written to {shown}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
