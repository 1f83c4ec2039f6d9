"""Issue 18's lost-answer figures: `certify --target live --profile quick` through a proxy that loses
a share of the emulator's answers after the emulator acted on them (tests/fault_proxy.py's
``lose_answers``), 10 runs at 1% and 10 at 5%, each compared with the verdict of a run on a clean
network: a run counts when it gives the same verdict and the same failed requirements (no false
finding) and leaves no application behind. Done when >= 9/10 at 1% and >= 7/10 at 5% do.

    python -m benchmarks.lost_answers [--runs 10] [--rates 0.01 0.05] [--fault NAME]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from credly_contract.emulator import EmulatorServer
from tests.fault_proxy import FaultProxy
from tests.live_runs import live_env

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {0.01: 9, 0.05: 7}
CERTIFY = [sys.executable, "-m", "credly_contract.cli", "certify", "--target", "live"]
CERTIFY += [
    "--profile",
    "quick",
    "--rate-limit",
    "1000",
]  # no pacing against a local emulator  # loss rate -> runs of 10 that must give the clean verdict


@dataclass
class Outcome:
    code: int
    verdict: str | None
    failed: frozenset[str]
    left_behind: int
    lost: int
    observation: dict[str, Any]
    seconds: float
    last_line: str


def certify(faults: list[str], rate: float, seed: int, workdir: Path) -> Outcome:
    """One quick certification through a proxy losing ``rate`` of the answers."""
    with EmulatorServer(faults=faults) as emulator, FaultProxy(emulator.origin) as proxy:
        existing = set(emulator.store.applications)
        if rate:
            proxy.lose_answers(rate, seed=seed)
        env = live_env(emulator, via=proxy)
        reports = workdir / "reports"
        started = time.monotonic()
        done = subprocess.run(
            [*CERTIFY, "--reports-dir", str(reports)],
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=600,
        )
        seconds = time.monotonic() - started
        left = [a for key, a in emulator.store.applications.items() if key not in existing]
        lost = len(proxy.lost)
    path = reports / "certificate.json"
    certificate = json.loads(path.read_text()) if path.exists() else {}
    failed = frozenset(
        r["id"] for r in certificate.get("requirements", []) if r["status"] == "failed"
    )
    observation = next(
        (o for o in certificate.get("observations", []) if o.get("kind") == "lost_answers"), {}
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    return Outcome(
        done.returncode,
        certificate.get("verdict"),
        failed,
        len(left),
        lost,
        observation,
        seconds,
        next((line for line in reversed(lines) if "verdict" in line), lines[-1] if lines else ""),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rates", type=float, nargs="+", default=sorted(TARGETS))
    parser.add_argument("--fault", action="append", default=[])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        clean = certify(args.fault, 0.0, 0, Path(tempfile.mkdtemp(dir=scratch)))
        print(
            f"clean network: exit {clean.code}, {clean.verdict}, failed {sorted(clean.failed)}, "
            f"{clean.seconds:.1f} s",
            flush=True,
        )
        met = True
        for rate in args.rates:
            same = 0
            for seed in range(1, args.runs + 1):
                run = certify(args.fault, rate, seed, Path(tempfile.mkdtemp(dir=scratch)))
                agrees = (run.code, run.verdict, run.failed) == (
                    clean.code,
                    clean.verdict,
                    clean.failed,
                )
                false_finding = bool(run.failed - clean.failed)
                same += agrees and not run.left_behind
                counts = {k: run.observation.get(k) for k in ("repeated", "reconciled", "reruns")}
                print(
                    f"{rate:.0%} seed {seed}: exit {run.code}, {run.verdict}, "
                    f"{run.lost} answers lost, {counts}, left behind {run.left_behind}, "
                    f"false finding {false_finding}, {run.seconds:.1f} s"
                    + ("" if agrees else f" | {run.last_line}"),
                    flush=True,
                )
            needed = TARGETS.get(rate)
            verdict = "" if needed is None else (" met" if same >= needed else " NOT met")
            met = met and (needed is None or same >= needed)
            print(
                f"{rate:.0%} loss: {same}/{args.runs} runs gave the clean verdict "
                f"(target >= {needed}/10){verdict}",
                flush=True,
            )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
