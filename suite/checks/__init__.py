"""Requirement checks: small functions named after the rule they prove, each bound to one requirement id.

A check takes Exchanges (and plain values) and raises CheckFailed, whose message starts with the
requirement id and says what was sent, what came back and how to reproduce it. The same functions serve
the scenario tests, the Hypothesis state machine, the schemathesis custom checks and cassette replay.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from credly_contract.client import Exchange
from credly_contract.scrub import scrub

F = TypeVar("F", bound=Callable[..., Any])


class Evidence(Protocol):
    """What a failure shows: an Exchange, or certify-client's recorded exchanges (client_cert)."""

    def evidence(self, limit: int = ...) -> dict[str, Any]: ...


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

    def evidence(self) -> dict[str, Any]:
        data: dict[str, Any] = {"check": self.check, "message": self.message}
        if self.exchange is not None:
            data.update(self.exchange.evidence())
        return data


def check(requirement_id: str) -> Callable[[F], F]:
    """Bind a check function to the requirement it proves."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except Violation as violation:
                raise CheckFailed(
                    requirement_id, violation.message, violation.exchange, function.__name__
                ) from None

        run.requirement = requirement_id  # type: ignore[attr-defined]
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
