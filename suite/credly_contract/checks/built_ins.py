"""The schemathesis built-in checks the suite runs, and which requirement each one's failure breaks:
one table (``BUILT_INS``), read both to judge a failure (``requirement_for``) and to enter every
(check, requirement) pair in the check registry (``registered``).

"own" is the requirement of the operation the answer came from: its ``x-requirement`` in the contract.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from credly_contract import spec
from credly_contract.checks.base import RegisteredCheck

OWN = "own"  # the requirement of the answer's operation (its x-requirement)


@dataclass(frozen=True)
class Judged:
    """What a built-in check's failure says about where it failed."""

    operation_id: str
    status: int
    instance_path: tuple[str, ...]  # where in the answer's body
    schema_path: tuple[str, ...]  # which rule of the schema


@dataclass(frozen=True)
class Rule:
    """A failure that matches ``when`` breaks ``requirement``; the first matching rule wins."""

    requirement: str
    when: Callable[[Judged], bool] = lambda judged: True
    applications_only: bool = False  # only on the operations that answer application objects


def _application_field(judged: Judged) -> list[str]:
    """The field of an application object a schema failure is about (empty: none)."""
    if judged.instance_path[:1] != ("data",):
        return []
    return [p for p in judged.instance_path[1:] if not p.isdigit()]


def _secret_shown(judged: Judged) -> bool:
    return _application_field(judged)[:1] == ["secret"]


def _application_schema(judged: Judged) -> bool:
    # A field the application object lacks is reported on the object itself ("required").
    return judged.instance_path[:1] == ("data",) and bool(
        _application_field(judged) or judged.schema_path[-1:] == ("required",)
    )


def _metadata_field(judged: Judged) -> bool:
    return judged.instance_path[:1] == ("metadata",) and len(judged.instance_path) > 1


# The built-in checks that judge one answer without sending anything. The others are off:
# - positive_data_acceptance: the docs set no length or page-size limit, so a server may refuse valid
#   data (a 10,000-character name, per=2174888) and still keep the contract;
# - negative_data_rejection: the docs set no paging-parameter limits either (per=0 may be served);
#   invalid bodies are judged by our bad_input_refused, which knows which violations the docs forbid;
# - ignored_auth, unsupported_method, missing_required_header, allow_header_conformance,
#   object_level_authorization, use_after_free, ensure_resource_availability: they send requests of
#   their own, outside the run's one client (budget, pace, read-only); BEARER-REQUIRED, SEC-TENANT,
#   APP-CREATE and APP-DELETE are proven through it by the access matrix and the state machines.
# By the name of the function in schemathesis.checks (st.py runs them; this table only maps them).
BUILT_INS: dict[str, tuple[Rule, ...]] = {
    "not_a_server_error": (Rule("SEC-NO-5XX"),),
    "status_code_conformance": (Rule(OWN),),
    "content_type_conformance": (Rule(OWN),),
    "response_schema_conformance": (
        Rule("APP-SECRET-ONCE", _secret_shown, applications_only=True),
        Rule("APP-SCHEMA", _application_schema, applications_only=True),
        Rule("PAGE-META", _metadata_field),
        Rule(OWN),
    ),
    "response_headers_conformance": (
        Rule("BEARER-CHALLENGE", lambda judged: judged.status == 401),
        Rule(OWN),
    ),
}


def _rules(check_name: str, operation_id: str) -> list[Rule]:
    applications = operation_id in spec.application_operations()
    return [r for r in BUILT_INS[check_name] if applications or not r.applications_only]


def _requirement(rule: Rule, operation_id: str) -> str:
    return spec.requirement_of(operation_id) if rule.requirement == OWN else rule.requirement


def requirement_for(check_name: str, failure: Any, operation_id: str, status: int) -> str:
    """The requirement a built-in check's failure breaks on one operation."""
    judged = Judged(
        operation_id,
        status,
        tuple(str(p) for p in getattr(failure, "instance_path", ()) or ()),
        tuple(str(p) for p in getattr(failure, "schema_path", ()) or ()),
    )
    rule = next(r for r in _rules(check_name, operation_id) if r.when(judged))
    return _requirement(rule, operation_id)


def own_requirement(check_name: str, operation_id: str) -> str:
    """The requirement a passing judgement of a built-in check is counted under: its last rule's."""
    return _requirement(_rules(check_name, operation_id)[-1], operation_id)


def check_name(name: str, requirement: str) -> str:
    """A built-in check's name in the registry and the tally, one per requirement it can fail."""
    return f"schemathesis.{name}[{requirement}]"


def registered() -> dict[str, RegisteredCheck]:
    """Every (built-in check, requirement) pair a failure can land on, over every API operation."""
    found: dict[str, RegisteredCheck] = {}
    for operation_id in spec.api_operations():
        for name in BUILT_INS:
            for rule in _rules(name, operation_id):
                requirement = _requirement(rule, operation_id)
                entry = check_name(name, requirement)
                found[entry] = RegisteredCheck(entry, requirement, "schemathesis", "")
    return found
