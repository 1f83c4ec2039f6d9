"""Per-requirement outcomes of a run, derived from test reports, and the verdict they add up to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from credly_contract import catalogue
from credly_contract.catalogue import Requirement
from credly_contract.checks import registry
from credly_contract.facts import CheckCount, Failure, Observation
from credly_contract.request_plan import RequestAccounting
from credly_contract.verdict import RunError, Verdict


class Status(StrEnum):
    """A requirement's status in a run (and in certificate.json)."""

    PASSED = "passed"
    FAILED = "failed"
    WAIVED = "waived"
    NOT_RUN = "not_run"


PASSED, FAILED, WAIVED, NOT_RUN = Status.PASSED, Status.FAILED, Status.WAIVED, Status.NOT_RUN


@dataclass
class RequirementOutcome:
    tests: list[str] = field(default_factory=list)
    proven_by: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    # Why its tests did not run to the end (skip reasons), for a requirement left not_run.
    skipped: list[str] = field(default_factory=list)

    @property
    def status(self) -> Status:
        if self.failures:
            return FAILED
        return PASSED if self.proven_by else NOT_RUN


class Results:
    """Collects test outcomes as pytest reports arrive (also from xdist workers).

    ``scope`` is None for a certification, which judges the whole catalogue; a run that by design
    proves only some requirements (the cassette scenarios) sets it to the ids it is tagged with.
    """

    def __init__(self, requirements: Mapping[str, Requirement] | None = None) -> None:
        self.requirements = dict(catalogue.requirements() if requirements is None else requirements)
        self.outcomes = {rid: RequirementOutcome() for rid in self.requirements}
        self.observations: list[Observation] = []
        self.error: RunError | None = None
        self.scope: set[str] | None = None
        # Why a scoped run leaves the other requirements out, and which run judges them.
        self.scope_why = "the cassette scenarios do not prove it"
        self.scope_full_run = "`credly-contract certify` judges all of them"
        self.tests = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
        self.requests_sent = 0
        self.spent = RequestAccounting()  # requests per test and requirement (request_plan.py)
        # check name -> {"judged": n, "failed": m}: every judgement the run's checks made.
        self.check_counts: dict[str, dict[str, int]] = {}

    def count_checks(self, counts: Mapping[str, Mapping[str, int]]) -> None:
        """Add a tally of check judgements (the run's own, or an xdist worker's)."""
        for name, count in counts.items():
            mine = self.check_counts.setdefault(name, {"judged": 0, "failed": 0})
            mine["judged"] += count["judged"]
            mine["failed"] += count["failed"]

    def checks_of(self, requirement_id: str) -> list[CheckCount]:
        """The checks that judged for a requirement, with how many exchanges each judged and
        how many of those judgements failed (a passing check leaves this trace too)."""
        known = registry()
        return [
            {"check": name, "judged": count["judged"], "failed": count["failed"]}
            for name, count in sorted(self.check_counts.items())
            if name in known and known[name].requirement == requirement_id
        ]

    def fail_run(self, error: RunError) -> None:
        """Record what stopped the run; the first cause wins."""
        self.error = self.error or error

    def limit_scope(
        self, requirement_ids: Iterable[str], why: str | None = None, full_run: str | None = None
    ) -> None:
        self.scope = {rid for rid in requirement_ids if rid in self.outcomes}
        self.scope_why = why or self.scope_why
        self.scope_full_run = full_run or self.scope_full_run

    def record(
        self,
        test_id: str,
        requirement_ids: list[str],
        failures: list[Failure],
        completed: bool,
        skipped: str | None = None,
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
            if skipped and skipped not in outcome.skipped:
                outcome.skipped.append(skipped)

    def count(self, when: str, outcome: str) -> None:
        """Count a test (or generated subtest) once: by its call, or by a setup that skipped or
        broke; a broken teardown adds an error."""
        if when == "call":
            self.tests[outcome if outcome in self.tests else "error"] += 1
        elif when == "setup" and outcome != "passed":
            self.tests["skipped" if outcome == "skipped" else "error"] += 1
        elif when == "teardown" and outcome == "failed":
            self.tests["error"] += 1

    def observe(self, observation: Observation) -> None:
        key = (observation.get("kind"), observation.get("detail"))
        if all((o.get("kind"), o.get("detail")) != key for o in self.observations):
            self.observations.append(observation)

    def statuses(self) -> dict[str, Status]:
        return {rid: self.status_of(rid) for rid in self.outcomes}

    def status_of(self, requirement_id: str) -> Status:
        """passed, failed or not_run. No pass without evidence: a requirement whose tests passed
        is not_run while its checks judged no exchange of the kind it is about (see ``unjudged``)."""
        status = self.outcomes[requirement_id].status
        return NOT_RUN if status == PASSED and self.unjudged(requirement_id) else status

    def unjudged(self, requirement_id: str) -> bool:
        """Whether the requirement has checks and none of them judged anything in this run (a
        check that meets an exchange it says nothing about does not count it: ``not_judged``).
        A requirement proven by its tests' own assertions, with no check, is judged by them."""
        has_checks = any(c.requirement == requirement_id for c in registry().values())
        return has_checks and not any(c["judged"] for c in self.checks_of(requirement_id))

    def in_scope(self, requirement_id: str) -> bool:
        return self.scope is None or requirement_id in self.scope

    def not_run_reason(self, requirement_id: str) -> str:
        """Why a requirement is not_run, in a few words."""
        outcome = self.outcomes[requirement_id]
        if not self.in_scope(requirement_id):
            return f"outside this run's scope ({self.scope_why})"
        if outcome.status == PASSED:
            return (
                "its tests passed, but its checks judged no exchange of the kind it is about "
                "(e.g. no token response, no 401), so nothing proved it"
            )
        if outcome.skipped:
            return "skipped: " + "; ".join(outcome.skipped)
        if outcome.tests:
            return "its tests stopped before they proved it"
        return "no test of this run proves it"

    def verdict(self, waived: Iterable[str] = ()) -> Verdict:
        if self.error:
            return Verdict.ERROR
        waived = set(waived)
        for rid, status in self.statuses().items():
            if status == FAILED and rid not in waived:
                return Verdict.NOT_CERTIFIED
            if status == NOT_RUN and self.in_scope(rid):
                return Verdict.NOT_CERTIFIED
        return Verdict.CERTIFIED if self.scope is None else Verdict.PASSED_IN_SCOPE
