"""Requirement checks: small functions named after the rule they prove, each bound to one requirement id.

A check takes Exchanges (and plain values) and raises CheckFailed, whose message starts with the
requirement id and says what was sent, what came back and how to reproduce it. The same functions serve
the scenario tests, the Hypothesis state machine, the schemathesis custom checks and cassette replay.

The suite's checks are the ``@check`` functions of ``CHECK_MODULES`` and the schemathesis built-ins
mapped to a requirement (``built_ins``): ``registry()`` lists them, whatever else was imported, and
``checked_by()`` says what checks a requirement. Each check counts its judgements into the run's
``Tally`` (``tallying()``), so a certificate can say, per requirement, which checks ran and how many
times each judged.
"""

from __future__ import annotations

from credly_contract import catalogue
from credly_contract.checks import applications, built_ins, oauth, pagination, security
from credly_contract.checks.base import (
    CheckFailed,
    Evidence,
    Expect,
    PrerequisiteFailed,
    RegisteredCheck,
    Tally,
    Violation,
    check,
    checks_in,
    count,
    expect_json_object,
    expect_status,
    not_judged,
    prerequisite,
    tallying,
)

__all__ = [
    "CHECK_MODULES",
    "CheckFailed",
    "Evidence",
    "Expect",
    "PrerequisiteFailed",
    "RegisteredCheck",
    "Tally",
    "Violation",
    "check",
    "checked_by",
    "checks_in",
    "count",
    "expect_json_object",
    "expect_status",
    "not_judged",
    "prerequisite",
    "registry",
    "tallying",
]

# The modules whose @check functions prove the server requirements (client judges register with
# client_cert.judges, for the client catalogue).
CHECK_MODULES = (applications, oauth, pagination, security)


def registry() -> dict[str, RegisteredCheck]:
    """Every check of the suite by name: the ``@check`` functions of ``CHECK_MODULES`` and the
    schemathesis built-in checks, once per requirement each can fail."""
    return {**checks_in(*CHECK_MODULES), **built_ins.registered()}


def checked_by(requirement_id: str) -> dict[str, list[str]]:
    """What checks a requirement: its registered checks (``@check`` functions and the schemathesis
    built-ins mapped to it) and the tests marked with it."""
    catalogue.get(requirement_id)
    return {
        "checks": sorted(c.name for c in registry().values() if c.requirement == requirement_id),
        "tests": list(catalogue.tests_by_requirement().get(requirement_id, ())),
    }
