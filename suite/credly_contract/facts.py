"""RunFacts: what one process of a run knew when it ended, typed. An xdist worker hands its facts to
the controller (as JSON, through its worker output), which merges them into the run's results; the
certificate is built from the facts of the run that wrote it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Required, TypedDict, cast

from credly_contract.verdict import ErrorKind, RunError


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


class RequestEvidence(TypedDict):
    method: str
    url: str
    headers: dict[str, str]
    body: str | None


class ResponseEvidence(TypedDict):
    status: int
    headers: dict[str, str]
    body: str


class ExchangeEvidence(TypedDict, total=False):
    """What one exchange shows, scrubbed: the request, the response and a curl line that sends it
    again. certify-client's recorded exchanges add their place in the run, the injection that
    answered and, for a reaction to an injection, the injected exchange and how long the client
    waited after it."""

    request: RequestEvidence
    response: ResponseEvidence
    curl: str
    exchange: int
    at_seconds: float
    injection: str | None
    reacted_to: ExchangeEvidence
    waited_seconds: float


class FailureEvidence(ExchangeEvidence, total=False):
    """A requirement failure as the certificate lists it under its requirement: the message, the
    check that found it, whether it was met while preparing a test, the test, and the exchange."""

    message: Required[str]
    check: str
    prerequisite: bool
    test: str


class Failure(FailureEvidence, total=False):
    """A requirement failure as results record it: its evidence and the requirement it breaks."""

    requirement: Required[str]


class CheckCount(TypedDict):
    """How many exchanges a check judged in a run, and how many of those judgements failed."""

    check: str
    judged: int
    failed: int


def without_requirement(failure: Failure) -> FailureEvidence:
    """A failure as listed under its requirement in the certificate (which names it already)."""
    listed = {key: value for key, value in failure.items() if key != "requirement"}
    return cast(FailureEvidence, listed)  # the same keys, less one the type does not hold


class Observation(TypedDict, total=False):
    """An observation as the certificate lists it: its kind and a sentence, and what some kinds
    add: an example exchange, what cleanup left, the counts of what the client absorbed, the
    waiver it is about, the error that stopped the run."""

    kind: Required[ObservationKind]
    detail: Required[str]
    example: str  # one exchange that shows it (Exchange.summary())
    items: list[dict[str, object]]  # cleanup: the applications left behind
    count: int  # throttled, gateway_errors, lost_answers (Counted)
    repeated: int
    reconciled: int
    reruns: int
    requirement: str  # a waiver's
    reason: str
    expires: str
    error: str  # run_error: the ErrorKind


# The numbers of a counted observation, which the xdist controller adds up across workers.
Counted = Literal["count", "repeated", "reconciled", "reruns"]


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
