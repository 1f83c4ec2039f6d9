"""What a run spends in requests, per requirement: counted while it runs (:class:`RequestAccounting`,
fed by the client's request counter and the test being run) and planned before it runs (the table
measured on the emulator and shipped as ``request_plan.json``, which ``certify --dry-run`` prints).

Regenerate the table after changing what a profile sends: ``python -m credly_contract.request_plan``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

# Requests no single test is charged with: session fixtures (preflight, the first tokens, scratch
# applications shared across tests) and the final cleanup of what the run created.
SETUP, CLEANUP = "setup", "cleanup"
PLAN_PATH = Path(__file__).with_name("request_plan.json")


class RequestAccounting:
    """Requests a run sent, charged to the test that was running (and so to the requirements it is
    tagged with) or to the setup / cleanup buckets. Fed with the client's running total, so retries
    and requests that got no answer are charged too."""

    def __init__(self) -> None:
        self.tests: dict[str, int] = {}
        self.requirements_of: dict[str, list[str]] = {}
        self.buckets: dict[str, int] = {SETUP: 0, CLEANUP: 0}
        self._seen = 0

    def charge(
        self, sent_total: int, test: str | None, requirement_ids: Iterable[str] = ()
    ) -> None:
        """Charge what the client sent since the last call to ``test`` (a bucket name when None
        is given: ``setup`` before the first test ends, ``cleanup`` after)."""
        spent, self._seen = max(0, sent_total - self._seen), max(sent_total, self._seen)
        if not spent:
            return
        if test in self.buckets:
            self.buckets[test] += spent
            return
        assert test is not None
        self.tests[test] = self.tests.get(test, 0) + spent
        self.requirements_of.setdefault(test, list(requirement_ids))

    @property
    def total(self) -> int:
        return sum(self.tests.values()) + sum(self.buckets.values())

    def by_requirement(self) -> dict[str, dict[str, float]]:
        """requirement id -> ``requests`` (of every test that proves it; a test proving several
        requirements counts for each) and ``share`` (each test's requests split evenly between its
        requirements, so the shares add up to what the tests sent)."""
        costs: dict[str, dict[str, float]] = {}
        for test, spent in self.tests.items():
            ids = self.requirements_of.get(test) or []
            for rid in ids:
                cost = costs.setdefault(rid, {"requests": 0, "share": 0.0})
                cost["requests"] += spent
                cost["share"] += spent / len(ids)
        return {
            rid: {"requests": int(cost["requests"]), "share": round(cost["share"], 1)}
            for rid, cost in costs.items()
        }

    def public(self) -> dict[str, Any]:
        """The accounting as certificate.json carries it."""
        return {
            "total": self.total,
            **self.buckets,
            "requirements": self.by_requirement(),
            "tests": dict(sorted(self.tests.items(), key=lambda item: -item[1])),
        }

    def to_facts(self) -> dict[str, Any]:
        """What an xdist worker hands the controller."""
        return {"tests": self.tests, "requirements_of": self.requirements_of, **self.buckets}

    def merge(self, facts: Mapping[str, Any]) -> None:
        """Add a worker's accounting (``to_facts``; empty when it charged nothing) to this one."""
        for test, spent in facts.get("tests", {}).items():
            self.tests[test] = self.tests.get(test, 0) + spent
            self.requirements_of.setdefault(test, list(facts["requirements_of"].get(test, [])))
        for bucket in self.buckets:
            self.buckets[bucket] += facts.get(bucket, 0)


def load_plan(path: Path = PLAN_PATH) -> dict[str, Any]:
    """The measured table: ``{"profiles": {name: accounting}, "measured_on": ...}``."""
    plan: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return plan


def planned(profile: str, path: Path = PLAN_PATH) -> dict[str, Any] | None:
    """What a profile was measured to send on the emulator, or None when it was not measured."""
    plan = load_plan(path)
    measured = plan["profiles"].get(profile)
    if measured is None:
        return None
    return {**measured, "measured_on": plan["measured_on"], "suite_version": plan["suite_version"]}


def plan_lines(profile: str, requirement_ids: Iterable[str], path: Path = PLAN_PATH) -> list[str]:
    """The dry-run's text: what each requirement costs on ``profile``, and the total."""
    plan = planned(profile, path)
    if plan is None:
        return [f"no request plan is measured for the {profile} profile"]
    costs = plan["requirements"]
    lines = [
        f"request plan for --profile {profile} (measured on {plan['measured_on']}, "
        f"credly-contract {plan['suite_version']}); nothing is sent",
        f"{'requirement':22} {'requests':>8} {'share':>6}   (requests: of every test proving it; "
        "share: split between a test's requirements)",
    ]
    for rid in requirement_ids:
        cost = costs.get(rid, {"requests": 0, "share": 0})
        lines.append(f"{rid:22} {cost['requests']:>8} {cost['share']:>6}")
    lines.append(f"{'setup (session fixtures)':29} {plan[SETUP]:>8}")
    lines.append(f"{'cleanup':29} {plan[CLEANUP]:>8}")
    lines.append(
        f"total: about {plan['total']} requests against the emulator (median of runs that sent "
        f"{', '.join(map(str, plan.get('runs', [])))}; generated examples vary from run to run, and a "
        "live target adds retries after 429 or 502/503/504)"
    )
    return lines


def _certify(profile: str) -> dict[str, Any]:
    """One certification of the emulator on ``profile`` in a fresh process; its request accounting."""
    with tempfile.TemporaryDirectory() as reports:
        command = [sys.executable, "-m", "credly_contract.cli", "certify"]
        command += ["--profile", profile, "--reports-dir", reports]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        certificate_path = Path(reports) / "certificate.json"
        if done.returncode != 0 or not certificate_path.exists():
            raise SystemExit(
                f"certify --profile {profile} exited {done.returncode}: {done.stdout[-2000:]}"
            )
        certificate = json.loads(certificate_path.read_text(encoding="utf-8"))
    spent: dict[str, Any] = certificate["request_plan"]["spent"]
    return spent


def _median(values: list[int]) -> int:
    return int(statistics.median(values)) if values else 0


def measure(profiles: Iterable[str], runs: int = 3) -> dict[str, Any]:
    """Certify the emulator ``runs`` times per profile and keep the median of every figure (the
    generated examples differ from run to run, and so do their requests)."""
    from credly_contract import __version__

    measured: dict[str, Any] = {}
    for profile in profiles:
        samples = [_certify(profile) for _ in range(runs)]
        ids = sorted({rid for sample in samples for rid in sample["requirements"]})
        measured[profile] = {
            key: _median([sample[key] for sample in samples]) for key in ("total", SETUP, CLEANUP)
        } | {
            "requirements": {
                rid: {
                    "requests": _median(
                        [s["requirements"].get(rid, {}).get("requests", 0) for s in samples]
                    ),
                    "share": statistics.median(
                        [s["requirements"].get(rid, {}).get("share", 0) for s in samples]
                    ),
                }
                for rid in ids
            },
            "runs": [sample["total"] for sample in samples],
        }
    return {
        "measured_on": "the embedded emulator",
        "suite_version": __version__,
        "profiles": measured,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m credly_contract.request_plan",
        description="Measure what each profile sends per requirement and write request_plan.json.",
    )
    parser.add_argument("--profiles", nargs="+", default=["quick", "standard", "thorough"])
    parser.add_argument("--runs", type=int, default=3, help="certifications per profile (median)")
    parser.add_argument("--output", type=Path, default=PLAN_PATH)
    args = parser.parse_args(argv)
    table = measure(args.profiles, args.runs)
    args.output.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(
        f"wrote {args.output}: "
        + ", ".join(f"{p} {m['total']}" for p, m in table["profiles"].items())
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
