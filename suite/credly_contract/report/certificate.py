"""The certificate: derived from the requirement catalogue and a run's results (never written by
hand), stored as certificate.json and rendered for people as certificate.html from a template."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

import jinja2

from credly_contract import __version__, catalogue, request_plan, spec
from credly_contract.facts import (
    CheckCount,
    FailureEvidence,
    Observation,
    ObservationKind,
    RunFacts,
    without_requirement,
)
from credly_contract.report.crosscheck import html_facts
from credly_contract.report.waivers import Waiver, apply_waivers
from credly_contract.results import FAILED, NOT_RUN, PASSED, WAIVED, Results, Status
from credly_contract.scrub import scrub


class _RequirementEntry(TypedDict):
    id: str
    level: str
    title: str
    source: str
    status: Status
    in_scope: bool
    declared_by: str
    tests: list[str]


class RequirementEntry(_RequirementEntry, total=False):
    """One requirement in certificate.json: the keys every entry has, and those some have."""

    checks: list[CheckCount]
    threshold: str
    evidence: list[FailureEvidence]
    waiver: dict[str, str]
    reason: str


class Counts(TypedDict):
    requirements: dict[str, int]
    tests: dict[str, int]
    requests_sent: int


class RequestPlan(TypedDict):
    spent: dict[str, Any]
    planned: dict[str, Any] | None


class _Certificate(TypedDict):
    verdict: str
    target: dict[str, str | None] | None
    suite_version: str
    spec_sha256: str
    started_at: str | None
    finished_at: str | None
    profile: str
    requirements: list[RequirementEntry]
    observations: list[Observation]
    counts: Counts


class Certificate(_Certificate, total=False):
    """certificate.json's content, as report/certificate.schema.json describes it (a test holds the
    two to the same keys)."""

    request_plan: RequestPlan
    scope: dict[
        str, str
    ]  # a run that proves only some requirements (replay): why, and what judges all
    # certify-client's own keys (client_cert/command.py).
    kind: str
    integration: dict[str, object]
    injections: list[dict[str, object]]
    timeline: list[dict[str, object]]


STATUSES = (PASSED, FAILED, WAIVED, NOT_RUN)
# Who declared a requirement: credly-contract's catalogue, or a team's --credly-requirements file.
BUILTIN, TEAM = "credly-contract", "team"
TEMPLATES = Path(__file__).resolve().parent / "templates"
HTML_TEMPLATE = "certificate.html.j2"
# Failures of one requirement shown with full evidence in the HTML; the rest get one line each.
EXPANDED_FAILURES = 3


def iso_utc(timestamp: float | None) -> str | None:
    """A Unix time as ISO 8601 UTC, e.g. 2026-11-29T15:05:19Z."""
    if timestamp is None:
        return None
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")
    return moment.replace("+00:00", "Z")


def build_certificate(
    results: Results,
    facts: RunFacts | None,
    profile: str,
    waivers: list[Waiver],
    finished_at: float,
) -> Certificate:
    """certificate.json's content: every requirement with its status, tests and evidence."""
    today = dt.datetime.fromtimestamp(finished_at, dt.UTC).date()
    applied, waiver_observations = apply_waivers(results.statuses(), waivers, today)
    requirements = []
    builtin = catalogue.builtin_ids()
    for rid, requirement in results.requirements.items():
        outcome = results.outcomes[rid]
        status = results.status_of(rid)
        status = WAIVED if status == FAILED and rid in applied else status
        entry: RequirementEntry = {
            "id": rid,
            "level": requirement.level,
            "title": requirement.title,
            "source": requirement.source,
            "status": status,
            "in_scope": results.in_scope(rid),
            "declared_by": BUILTIN if rid in builtin else TEAM,
            "tests": list(outcome.tests),
            "checks": results.checks_of(rid),
        }
        if requirement.threshold:
            entry["threshold"] = requirement.threshold
        if status in (FAILED, WAIVED):
            # Scrubbed where it was captured; scrubbed again so nothing that slipped through (a
            # message built from a response) reaches the file. Catalogue text is never scrubbed:
            # a title quoting "Authorization: Bearer [access token]" is not a credential.
            entry["evidence"] = scrub([without_requirement(f) for f in outcome.failures])
        if status == WAIVED:
            entry["waiver"] = applied[rid].public()
        if status == NOT_RUN:
            entry["reason"] = results.not_run_reason(rid)
        requirements.append(entry)
    observations = scrub(list(results.observations)) + waiver_observations
    if results.error:
        observations.insert(
            0,
            {
                "kind": ObservationKind.RUN_ERROR,
                "error": results.error.kind.value,
                "detail": scrub(results.error.message),
            },
        )
    elif facts is None:
        observations.insert(
            0,
            {
                "kind": ObservationKind.RUN_FACTS_MISSING,
                "detail": "the target, start time and request count were known only to the "
                "pytest-xdist workers (--workers N) and are missing from this certificate",
            },
        )
    certificate: Certificate = {
        "verdict": results.verdict(waived=set(applied)).value,
        "target": facts.target if facts is not None else None,
        "suite_version": __version__,
        "spec_sha256": spec.spec_sha256(),
        "started_at": iso_utc(facts.started_at) if facts is not None else None,
        "finished_at": iso_utc(finished_at),
        "profile": profile,
        "requirements": requirements,
        "observations": observations,
        "counts": {
            "requirements": {s: sum(r["status"] == s for r in requirements) for s in STATUSES},
            "tests": dict(results.tests),
            "requests_sent": results.requests_sent,
        },
    }
    if results.spent.total:  # a run that sent its own requests (not certify-client's judging)
        certificate["request_plan"] = {
            "spent": results.spent.public(),
            "planned": request_plan.planned(profile),
        }
    if results.scope is not None:
        certificate["scope"] = {"why": results.scope_why, "full_run": results.scope_full_run}
    return certificate


def _pretty(text: Any) -> str:
    """A JSON body indented for reading; anything else as it is."""
    if not isinstance(text, str):
        return "" if text is None else str(text)
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["pretty"] = _pretty
    environment.filters["as_json"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
    return environment


def render_html(certificate: Mapping[str, Any]) -> str:
    """certificate.html for a certificate: one self-contained, printable page."""
    template = _environment().get_template(HTML_TEMPLATE)
    from credly_contract.report.timeline import timeline_svg

    return template.render(
        certificate=certificate,
        timeline_svg=timeline_svg(certificate),
        statuses=STATUSES,
        docs_url=catalogue.docs_url(),
        expanded_failures=EXPANDED_FAILURES,
        failures=[r for r in certificate["requirements"] if r["status"] in (FAILED, WAIVED)],
        facts=html_facts(certificate),
    )
