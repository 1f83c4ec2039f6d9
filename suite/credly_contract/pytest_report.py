"""How the plugin writes the engine's judgement of a test onto pytest's report: its outcome, its
scrubbed failure text, and the test's facts (:class:`TestFacts`) as a user property, which carries
them from an xdist worker to the controller. pytest's side only; the judging is the engine's."""

from __future__ import annotations

from typing import Any

import pytest

from credly_contract.engine.run import Judgement, evidence_of
from credly_contract.facts import TestFacts
from credly_contract.scrub import scrub

FACTS_PROPERTY = "credly"


def raised_by(call: pytest.CallInfo[None]) -> BaseException | None:
    """What a test phase raised, a skip left out."""
    excinfo = call.excinfo
    if excinfo is None or excinfo.errisinstance(pytest.skip.Exception):
        return None
    return excinfo.value


def write_judgement(
    item: pytest.Item, report: Any, ids: list[str], judgement: Judgement, stop_reason: str
) -> TestFacts:
    """Make ``report`` say what ``judgement`` found; returns the test's facts, also attached."""
    completed = not report.skipped
    if judgement.skip is not None:
        report.outcome = "skipped"
        report.longrepr = (str(item.path), 0, f"Skipped: {judgement.skip}")
    if judgement.stop:
        item.session.shouldstop = stop_reason
    skipped = skip_reason(report)
    if judgement.failures:
        # A requirement broke, whatever else happened to the test (even a skip after it).
        text = "\n\n".join(f.describe() for f in judgement.failures)
        if skipped:
            report.longrepr = f"{text}\n\n(then the test skipped: {skipped})"
        elif completed and judgement.completed:
            report.longrepr = text
        report.outcome = "failed"
    facts = TestFacts(
        requirements=ids,
        completed=completed and judgement.completed and not report.skipped,
        skipped=skipped,
        failures=[evidence_of(f) for f in judgement.failures],
    )
    report.user_properties.append((FACTS_PROPERTY, facts.to_json()))
    report.user_properties.append(("requirements", " ".join(ids)))
    return facts


def facts_of(report: pytest.TestReport) -> list[TestFacts]:
    """The test facts a report carries (none for a phase that was not judged)."""
    return [
        TestFacts.from_json(str(value))
        for name, value in report.user_properties
        if name == FACTS_PROPERTY
    ]


def test_id(report: pytest.TestReport) -> str:
    """The test's id in the certificate: its node id, and for schemathesis's items (which share
    one node id) the operation their location names."""
    name = report.location[2] if report.location else ""
    return report.nodeid + (
        name[name.index("[") :] if "[" in name and "[" not in report.nodeid else ""
    )


def scrubbed_longrepr(report: Any) -> Any:
    """The report's failure text with credentials scrubbed, in the form pytest's reporters expect:
    a skip keeps its (path, line, message) tuple (junitxml asserts it), anything else that is not
    a failure keeps its object."""
    longrepr = report.longrepr
    if longrepr is None:
        return None
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        path, line, message = longrepr
        return (path, line, scrub(str(message)))
    if report.failed:
        return scrub(str(longrepr))
    return longrepr


def skip_reason(report: Any) -> str | None:
    """Why a skipped test did not run, as pytest words it ("Skipped: " left out)."""
    if not report.skipped or not isinstance(report.longrepr, tuple):
        return None
    reason: str = scrub(str(report.longrepr[2]))
    return reason.removeprefix("Skipped: ")


def one_line_interrupt(terminal: Any, line: str, quiet: bool) -> None:
    """One line instead of pytest's "!!! KeyboardInterrupt !!!" block (a separator, the crash
    location and a --full-trace hint), which reads as a crash. `credly-contract` prints that line
    itself, with the verdict (``quiet``); under plain pytest the terminal reporter prints it."""
    if not hasattr(terminal, "_report_keyboardinterrupt"):
        return

    def report() -> None:
        if not quiet:
            terminal.write_line(line)

    terminal._report_keyboardinterrupt = report
