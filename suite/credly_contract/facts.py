"""RunFacts: what one process of a run knew when it ended, typed. An xdist worker hands its facts to
the controller (as JSON, through its worker output), which merges them into the run's results; the
certificate is built from the facts of the run that wrote it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from credly_contract.verdict import ErrorKind, RunError

# A requirement failure as results record it: {"requirement": id, "message": ..., "request": ...}.
Failure = dict[str, Any]
# An observation as the certificate lists it: {"kind": ObservationKind, "detail": ..., ...}.
Observation = dict[str, Any]


class ObservationKind(StrEnum):
    """What an observation in the certificate is about: what the target did where the docs are
    silent, what the client absorbed, what happened to the run and its waivers. Never a failure."""

    # The target, where the docs are silent (checks/observations.py, test_access.py).
    EXTRA_FIELD = "extra_field"
    LENGTH_LIMIT = "length_limit"
    TIMESTAMP_ORDER = "timestamp_order"
    ERROR_BODY = "error_body"
    TENANT_REFUSAL = "tenant_refusal"
    # What the client absorbed without failing a requirement (engine/run.py).
    THROTTLED = "throttled"
    GATEWAY_ERRORS = "gateway_errors"
    LOST_ANSWERS = "lost_answers"  # answers lost on the way, and what settled them
    # The run: what it left, its scope, the error that stopped it, facts it lacks.
    CLEANUP = "cleanup"
    SCOPE = "scope"
    RUN_ERROR = "run_error"
    RUN_FACTS_MISSING = "run_facts_missing"
    # Waivers that did not apply (report/waivers.py).
    WAIVER_EXPIRED = "waiver_expired"
    WAIVER_UNUSED = "waiver_unused"
    # A client certification's requirements that could not be judged (client_cert/command.py).
    NOT_JUDGED = "not_judged"
    PARTLY_JUDGED = "partly_judged"


@dataclass(frozen=True)
class RunFacts:
    """What a process of the run sent and met: its target (public facts only, never credentials),
    when it started, the requests it sent (and to whom they were charged), how often each check
    judged, what it observed, the error that stopped it, and failures met outside any test."""

    target: dict[str, str | None] | None = None
    started_at: float | None = None
    requests_sent: int = 0
    checks: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    spent: Mapping[str, object] = field(default_factory=dict)  # RequestAccounting.to_facts()
    observations: list[Observation] = field(default_factory=list)
    error: RunError | None = None
    late_failures: Mapping[str, list[Failure]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "target": self.target,
                "started_at": self.started_at,
                "requests_sent": self.requests_sent,
                "checks": self.checks,
                "spent": self.spent,
                "observations": self.observations,
                "error": self.error.public() if self.error else None,
                "late_failures": self.late_failures,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> RunFacts:
        raw = json.loads(text)
        error = raw["error"]
        return cls(
            target=raw["target"],
            started_at=raw["started_at"],
            requests_sent=raw["requests_sent"],
            checks=raw["checks"],
            spent=raw["spent"],
            observations=raw["observations"],
            error=RunError(ErrorKind(error["kind"]), error["detail"]) if error else None,
            late_failures=raw["late_failures"],
        )


@dataclass(frozen=True)
class TestFacts:
    """What one test's end meant for its requirements, carried on its pytest report (and so from an
    xdist worker to the controller): the ids it is tagged with, whether it ran to the end, why it
    skipped, and the requirement failures it met."""

    __test__ = False  # not a test class, whatever pytest's name pattern says

    requirements: list[str]
    completed: bool
    skipped: str | None
    failures: list[Failure]

    def to_json(self) -> str:
        return json.dumps(
            {
                "requirements": self.requirements,
                "completed": self.completed,
                "skipped": self.skipped,
                "failures": self.failures,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> TestFacts:
        raw = json.loads(text)
        return cls(raw["requirements"], raw["completed"], raw.get("skipped"), raw["failures"])
