"""Allure labels for certification tests, from the requirement catalogue: requirement ids, feature,
severity by level and a documentation link; scrubbed request/response evidence attached on failure.

Both functions are no-ops when allure-pytest is not collecting (no --alluredir)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import allure
from allure_commons.model2 import Status, StatusDetails

from credly_contract import catalogue
from credly_contract.catalogue import Requirement
from credly_contract.facts import Failure
from credly_contract.scrub import scrub

SEVERITY = {"MUST": allure.severity_level.CRITICAL, "SHOULD": allure.severity_level.NORMAL}
REQUIREMENT_LABEL = "requirement"


def label_test(requirements: Iterable[Requirement]) -> None:
    """Label the running test with what it proves; call it while the test is being set up."""
    requirements = list(requirements)
    if not requirements:
        return
    dynamic: Any = allure.dynamic  # allure-pytest ships no type hints
    for requirement in requirements:
        dynamic.label(REQUIREMENT_LABEL, requirement.id)
        dynamic.tag(requirement.id)
    dynamic.feature(*dict.fromkeys(r.feature for r in requirements))
    # A test proving a MUST is as severe as its most severe requirement.
    level = "MUST" if any(r.level == "MUST" for r in requirements) else "SHOULD"
    dynamic.severity(SEVERITY[level])
    dynamic.link(catalogue.docs_url(), name="Credly documentation")


def report_failures(config: Any, failures: list[Failure], waived: str | None = None) -> None:
    """Mark the running test failed in Allure (skipped, with the waiver, when ``waived`` says every
    failure is waived) and attach each failure's evidence (already scrubbed by
    CheckFailed.evidence()).

    Requirement failures recorded softly (``expect``, the passive checks) fail the pytest report
    only after allure-pytest has read it, and allure-pytest calls any exception that is not an
    AssertionError (a schemathesis failure group) "broken": a broken requirement is a failed test,
    so the Allure result is corrected here."""
    listener = config.pluginmanager.get_plugin("allure_listener")
    if listener is None or not failures:
        return
    result = listener.allure_logger.get_test(None)
    if result is not None and waived:
        result.status = Status.SKIPPED
        result.statusDetails = StatusDetails(message=scrub(waived))
    elif result is not None and result.status in (None, Status.PASSED, Status.BROKEN):
        result.status = Status.FAILED
        result.statusDetails = StatusDetails(
            message=scrub("\n".join(f"{f['requirement']}: {f['message']}" for f in failures))
        )
    for failure in failures:
        requirement = failure.get("requirement", "failure")
        allure.attach(
            json.dumps(failure, indent=2, ensure_ascii=False),
            name=f"{requirement} evidence",
            attachment_type=allure.attachment_type.JSON,
        )
        if failure.get("curl"):
            allure.attach(
                failure["curl"],
                name=f"{requirement} reproduce (curl)",
                attachment_type=allure.attachment_type.TEXT,
            )
