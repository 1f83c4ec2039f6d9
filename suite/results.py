"""Per-requirement outcomes of a run, derived from test reports, and the verdict they add up to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from credly_contract import catalogue

PASSED, FAILED, WAIVED, NOT_RUN = "passed", "failed", "waived", "not_run"


@dataclass
class RequirementOutcome:
    tests: list[str] = field(default_factory=list)
    proven_by: list[str] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.failures:
            return FAILED
        return PASSED if self.proven_by else NOT_RUN


class Results:
    """Collects test outcomes as pytest reports arrive (also from xdist workers)."""

    def __init__(self, requirement_ids: Iterable[str] | None = None) -> None:
        ids = catalogue.requirements() if requirement_ids is None else requirement_ids
        self.outcomes = {rid: RequirementOutcome() for rid in ids}
        self.observations: list[dict[str, Any]] = []
        self.error: str | None = None
        self.tests = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
        self.requests_sent = 0

    def record(
        self,
        test_id: str,
        requirement_ids: list[str],
        failures: list[dict[str, Any]],
        completed: bool,
    ) -> None:
        failed_ids = {f["requirement"] for f in failures}
        for rid in dict.fromkeys(requirement_ids + sorted(failed_ids)):
            outcome = self.outcomes.get(rid)
            if outcome is None:
                continue
            if test_id not in outcome.tests:
                outcome.tests.append(test_id)
            if rid in failed_ids:
                outcome.failures.extend(
                    f | {"test": test_id} for f in failures if f["requirement"] == rid
                )
            elif completed and test_id not in outcome.proven_by:
                outcome.proven_by.append(test_id)

    def count(self, when: str, outcome: str) -> None:
        """Count a test (or generated subtest) once: by its call, or by a setup that skipped or
        broke; a broken teardown adds an error."""
        if when == "call":
            self.tests[outcome if outcome in self.tests else "error"] += 1
        elif when == "setup" and outcome != "passed":
            self.tests["skipped" if outcome == "skipped" else "error"] += 1
        elif when == "teardown" and outcome == "failed":
            self.tests["error"] += 1

    def observe(self, observation: dict[str, Any]) -> None:
        key = (observation.get("kind"), observation.get("detail"))
        if all((o.get("kind"), o.get("detail")) != key for o in self.observations):
            self.observations.append(observation)

    def statuses(self) -> dict[str, str]:
        return {rid: outcome.status for rid, outcome in self.outcomes.items()}

    def verdict(self, waived: set[str] = frozenset()) -> str:  # type: ignore[assignment]
        if self.error:
            return "error"
        for rid, status in self.statuses().items():
            if status == NOT_RUN or (status == FAILED and rid not in waived):
                return "not_certified"
        return "certified"
