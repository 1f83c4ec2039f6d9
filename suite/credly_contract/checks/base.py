"""What every check is made of: the ``@check`` decorator that binds a function to the requirement it
proves and counts each judgement into the run's ``Tally``, the typed failures (``Violation`` inside a
check, ``CheckFailed`` out of it) and the small expectations checks share.

``@check`` registers nothing: a check is known to the suite because its module is listed in
``credly_contract.checks.CHECK_MODULES`` (``registry()``), never because it happened to be imported.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from types import ModuleType
from typing import Any, NoReturn, Protocol, TypeVar, cast

from credly_contract.facts import ExchangeEvidence, FailureEvidence
from credly_contract.http_client import Exchange
from credly_contract.scrub import scrub

F = TypeVar("F", bound=Callable[..., Any])


class Evidence(Protocol):
    """What a failure shows: an Exchange, or certify-client's recorded exchanges (client_cert)."""

    def evidence(self, limit: int = ...) -> ExchangeEvidence: ...


class Violation(Exception):
    """Raised inside a check; the ``check`` decorator turns it into CheckFailed with the check's id."""

    def __init__(self, message: str, exchange: Evidence | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exchange = exchange


class CheckFailed(AssertionError):
    """A requirement did not hold. Carries the id, a readable message and the evidence."""

    def __init__(
        self, requirement: str, message: str, exchange: Evidence | None = None, check: str = ""
    ) -> None:
        self.requirement = requirement
        self.message = scrub(message)
        self.exchange = exchange
        self.check = check
        super().__init__(self.describe())

    def describe(self) -> str:
        text = f"{self.requirement}: {self.message}"
        if self.exchange is not None:
            evidence = self.exchange.evidence(limit=600)
            body = evidence["response"]["body"] or "(empty body)"
            text += (
                f"\n  sent: {evidence['request']['method']} {evidence['request']['url']}"
                + (f" {evidence['request']['body']}" if evidence["request"]["body"] else "")
                + f"\n  got: {evidence['response']['status']} {body}"
                + f"\n  reproduce: {evidence['curl']}"
            )
        return text

    def evidence(self) -> FailureEvidence:
        evidence: FailureEvidence = {"check": self.check, "message": self.message}
        if self.exchange is not None:
            evidence |= cast(FailureEvidence, self.exchange.evidence())  # its keys, a subset
        return evidence


class PrerequisiteFailed(CheckFailed):
    """A contract break met while preparing a test (a scratch application, a token): it fails the
    requirement it breaks, with evidence, and the test cannot go on, so the test proves nothing of its
    own requirements (they are not_run with this reason unless another test proves them)."""

    @classmethod
    def of(cls, failure: CheckFailed) -> PrerequisiteFailed:
        return cls(failure.requirement, failure.message, failure.exchange, failure.check)

    def evidence(self) -> FailureEvidence:
        return {**super().evidence(), "prerequisite": True}


T = TypeVar("T")


class Expect(Protocol):
    """The ``expect`` fixture's type: it runs a check softly, so a failure is recorded, the test goes
    on, and the call gives None instead of the check's result."""

    def __call__(self, check: Callable[..., T], /, *args: Any, **kwargs: Any) -> T | None: ...


def prerequisite(run_check: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a check on an answer a test needs to go on; a failure becomes PrerequisiteFailed."""
    try:
        return run_check(*args, **kwargs)
    except PrerequisiteFailed:
        raise
    except CheckFailed as failure:
        raise PrerequisiteFailed.of(failure) from None


@dataclass(frozen=True)
class RegisteredCheck:
    """A check the suite knows: its name, the requirement it proves and what it says it checks."""

    name: str
    requirement: str
    module: str
    doc: str


def checks_in(*modules: ModuleType) -> dict[str, RegisteredCheck]:
    """The ``@check`` functions defined in ``modules``, by name."""
    found: dict[str, RegisteredCheck] = {}
    for module in modules:
        for value in vars(module).values():
            registered = getattr(value, "registered", None)
            if isinstance(registered, RegisteredCheck) and registered.module == module.__name__:
                found[registered.name] = registered
    return found


class Tally:
    """How many times each check judged during one run, and how many of those judgements failed.

    The run makes one and installs it with ``tallying()``; its ``counts()`` go into the run's results.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.judged: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()

    def record(self, name: str, failed: bool) -> None:
        with self._lock:
            self.judged[name] += 1
            if failed:
                self.failed[name] += 1

    def counts(self) -> dict[str, dict[str, int]]:
        """check name -> {"judged", "failed"} for every check that ran."""
        with self._lock:
            return {
                name: {"judged": self.judged[name], "failed": self.failed[name]}
                for name in sorted(self.judged)
            }

    def by_requirement(
        self, known: Mapping[str, RegisteredCheck]
    ) -> dict[str, list[dict[str, Any]]]:
        """requirement id -> [{"check", "judged", "failed"}] for every check that ran, by name
        (``known``: the registry that says which requirement each check proves)."""
        found: dict[str, list[dict[str, Any]]] = {}
        with self._lock:
            for name in sorted(self.judged):
                requirement = known[name].requirement if name in known else "?"
                found.setdefault(requirement, []).append(
                    {"check": name, "judged": self.judged[name], "failed": self.failed[name]}
                )
        return found


_TALLY: ContextVar[Tally | None] = ContextVar("credly_contract_tally", default=None)


@contextlib.contextmanager
def tallying(tally: Tally) -> Iterator[Tally]:
    """Count every check judgement made inside the block into ``tally``."""
    token = _TALLY.set(tally)
    try:
        yield tally
    finally:
        _TALLY.reset(token)


def count(name: str, failed: bool) -> None:
    """Count one judgement of a check into the tally in force (if any)."""
    tally = _TALLY.get()
    if tally is not None:
        tally.record(name, failed)


class _NotJudged(Exception):
    """Raised by ``not_judged()`` inside a check; the ``check`` decorator swallows it uncounted."""


def not_judged() -> NoReturn:
    """Say, inside a check, that this exchange is not of the kind the check judges (a token error
    for a rule about token responses, a 200 for a rule about 401s): the call returns None and is
    not counted, so a requirement is never proven by exchanges it says nothing about."""
    raise _NotJudged


def check(requirement_id: str) -> Callable[[F], F]:
    """Bind a check function to the requirement it proves (its ``registered`` entry, which
    ``checks_in`` finds) and count each call (but not the calls that end in ``not_judged()``)."""

    def decorate(function: F) -> F:
        name = f"{function.__module__.rsplit('.', 1)[-1]}.{function.__name__}"

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                result = function(*args, **kwargs)
            except _NotJudged:
                return None
            except Violation as violation:
                count(name, failed=True)
                raise CheckFailed(
                    requirement_id, violation.message, violation.exchange, function.__name__
                ) from None
            except CheckFailed:
                count(name, failed=True)
                raise
            count(name, failed=False)
            return result

        # A function object takes attributes, but mypy knows no such fields on a Callable; and the
        # wrapper has the signature of `function` (functools.wraps), which mypy cannot see either.
        run.requirement = requirement_id  # type: ignore[attr-defined]
        run.check_name = name  # type: ignore[attr-defined]
        run.registered = RegisteredCheck(  # type: ignore[attr-defined]
            name, requirement_id, function.__module__, (function.__doc__ or "").strip()
        )
        return run  # type: ignore[return-value]

    return decorate


def expect_status(exchange: Exchange, *statuses: int, what: str) -> None:
    if exchange.status not in statuses:
        wanted = " or ".join(map(str, statuses))
        raise Violation(f"{what} answered {exchange.status}, expected {wanted}", exchange)


def expect_json_object(exchange: Exchange, what: str) -> dict[str, Any]:
    body = exchange.json()
    if not isinstance(body, dict):
        raise Violation(f"{what} did not answer a JSON object", exchange)
    return body
