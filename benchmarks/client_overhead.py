"""`python -m benchmarks.client_overhead [--runs N]`: what `credly-contract certify-client` costs beyond the
integration's own run time, for the careful example integration (tests/integrations/sync.py).

Overhead = the command's wall time (process start to exit) minus the integration's own wall time (which
the certificate records as integration.seconds, plus run_without_injections.seconds: it runs twice):
starting the CLI and the emulator, recording, judging and writing the artefacts. The target is under
15 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks.measure import REPO, Load, cpu_model, run

SYNC = REPO / "tests" / "integrations" / "sync.py"
TARGET_SECONDS = 15.0


def measure(runs: int) -> dict[str, float]:
    """Median and worst overhead over ``runs`` certifications of the careful integration."""
    overheads, integration = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for n in range(runs):
            reports = Path(scratch) / f"run-{n}"
            argv = [
                sys.executable,
                "-m",
                "credly_contract.cli",
                "certify-client",
                "--reports-dir",
                str(reports),
                "--",
                sys.executable,
                str(SYNC),
            ]
            finished = run(argv, cwd=Path(scratch), timeout=300)
            if finished.returncode != 0:
                raise SystemExit(
                    f"certify-client exited {finished.returncode}: {finished.output[-2000:]}"
                )
            certificate = json.loads((reports / "certificate.json").read_text(encoding="utf-8"))
            ran = certificate["integration"]  # it runs twice: without and with the injections
            seconds = ran["seconds"] + ran.get("run_without_injections", {}).get("seconds", 0.0)
            integration.append(seconds)
            overheads.append(finished.wall - seconds)
    return {
        "runs": runs,
        "integration_median_s": statistics.median(integration),
        "overhead_median_s": statistics.median(overheads),
        "overhead_worst_s": max(overheads),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    load = Load()
    load.sample()
    result = measure(args.runs)
    load.sample()
    load.finish()
    others = f"{load.others_share:.0%}" if load.others_share is not None else "unknown"
    print(
        f"certify-client overhead on {load.usable_cores} cores ({cpu_model()}); other processes "
        f"used {others} of the machine meanwhile (load average {load.peak:.1f})"
    )
    print("| runs | integration (median) | overhead (median) | overhead (worst) | target |")
    print("|---:|---:|---:|---:|---:|")
    print(
        f"| {result['runs']} | {result['integration_median_s']:.2f} s | "
        f"{result['overhead_median_s']:.2f} s | {result['overhead_worst_s']:.2f} s | "
        f"< {TARGET_SECONDS:g} s |"
    )
    return 0 if result["overhead_worst_s"] < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
