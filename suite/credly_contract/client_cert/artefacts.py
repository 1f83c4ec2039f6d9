"""A client certification's artefacts, the same set a server certification writes: certificate.json and
certificate.html (built by ``credly_contract.report`` from the client catalogue), junit.xml, allure-results/
and, last, manifest.sha256. The judges run without pytest, so JUnit and Allure are written here directly,
one test case per requirement, labelled as the server run labels them."""

from __future__ import annotations

import json
import re
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from allure_commons.logger import AllureFileLogger
from allure_commons.model2 import (
    Attachment,
    Label,
    Link,
    Status,
    StatusDetails,
    TestResult,
)

from credly_contract.catalogue import Catalogue
from credly_contract.facts import RunFacts
from credly_contract.report import link_latest, write_certificate
from credly_contract.report.certificate import build_certificate
from credly_contract.report.manifest import ALLURE_RESULTS
from credly_contract.report.waivers import Waiver
from credly_contract.results import FAILED, NOT_RUN, WAIVED, Results
from credly_contract.scrub import scrub

JUNIT = "junit.xml"
# XML 1.0 cannot hold these (a NUL an integration sent, say): junit.xml shows them as \xNN.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
EXCHANGES = "exchanges.json"  # every recorded exchange, scrubbed
SEVERITY = {"MUST": "critical", "SHOULD": "normal"}


# A requirement's status as Allure shows it (what is not here passed).
ALLURE_STATUS: dict[str, str] = {
    FAILED: Status.FAILED,
    NOT_RUN: Status.SKIPPED,
    WAIVED: Status.SKIPPED,
}


@dataclass
class Verdicts:
    """One judged requirement: its test name, status, failures (evidence) and why it was not run."""

    test: str
    status: str
    failures: list[dict[str, Any]]
    reason: str | None = None
    seconds: float = 0.0


def write_artefacts(
    run_dir: Path,
    catalogue: Catalogue,
    results: Results,
    verdicts: dict[str, Verdicts],
    target: dict[str, Any],
    started_at: float,
    profile: str,
    extra: dict[str, Any],
    exchanges: list[dict[str, Any]],
    waivers: Sequence[Waiver] = (),
) -> dict[str, Any]:
    """Write every artefact into ``run_dir``; returns the certificate. ``exchanges`` are the
    recorded exchanges as evidence (already scrubbed; scrubbed again as they are written)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / EXCHANGES).write_text(
        json.dumps(scrub(exchanges), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    certificate = build_certificate(
        results,
        RunFacts(target=target, started_at=started_at),
        profile=profile,
        waivers=list(waivers),
        finished_at=time.time(),
    )
    for entry in certificate["requirements"]:
        verdict = verdicts[entry["id"]]
        if entry["status"] == NOT_RUN and verdict.reason:
            entry["reason"] = verdict.reason
        if entry["status"] == WAIVED:  # JUnit and Allure say what the certificate says
            waiver = entry["waiver"]
            verdict.status = WAIVED
            verdict.reason = f"waived until {waiver['expires']}: {waiver['reason']}"
    write_junit(run_dir / JUNIT, catalogue, verdicts)
    write_allure(run_dir / ALLURE_RESULTS, catalogue, verdicts, started_at)
    # A client certificate: the server certificate's keys and the client run's own (kind, ...).
    document: dict[str, Any] = {**certificate, **scrub(extra)}
    write_certificate(run_dir, document)  # certificate.json, .html, then the manifest
    link_latest(run_dir)
    return document


def write_junit(path: Path, catalogue: Catalogue, verdicts: dict[str, Verdicts]) -> None:
    suite = ET.Element(
        "testsuite",
        name="credly-contract certify-client",
        tests=str(len(verdicts)),
        failures=str(sum(v.status == FAILED for v in verdicts.values())),
        skipped=str(sum(v.status in (NOT_RUN, WAIVED) for v in verdicts.values())),
        errors="0",
    )
    for rid, verdict in verdicts.items():
        requirement = catalogue.requirements[rid]
        case = ET.SubElement(
            suite,
            "testcase",
            classname="credly_contract.client_cert.judges",
            name=verdict.test,
            time=f"{verdict.seconds:.3f}",
        )
        properties = ET.SubElement(case, "properties")
        ET.SubElement(properties, "property", name="requirements", value=rid)
        ET.SubElement(properties, "property", name="level", value=requirement.level)
        if verdict.status == FAILED:
            messages = [f"{rid}: {f['message']}" for f in verdict.failures]
            failure = ET.SubElement(case, "failure", message=_xml_text(messages[0]))
            failure.text = _xml_text(json.dumps(verdict.failures, indent=2, ensure_ascii=False))
        elif verdict.status in (NOT_RUN, WAIVED):
            ET.SubElement(case, "skipped", message=_xml_text(verdict.reason or "not judged"))
    root = ET.Element("testsuites")
    root.append(suite)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def _xml_text(text: str) -> str:
    return _NOT_XML.sub(lambda found: f"\\x{ord(found[0]):02x}", text)


def write_allure(
    folder: Path, catalogue: Catalogue, verdicts: dict[str, Verdicts], started_at: float
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    # allure-commons ships no type hints: its three calls below are untyped.
    logger = AllureFileLogger(str(folder))  # type: ignore[no-untyped-call]
    start = int(started_at * 1000)
    for rid, verdict in verdicts.items():
        requirement = catalogue.requirements[rid]
        status = ALLURE_STATUS.get(verdict.status, Status.PASSED)
        message = None
        if verdict.status == FAILED:
            message = "\n".join(f"{rid}: {f['message']}" for f in verdict.failures)
        elif verdict.status in (NOT_RUN, WAIVED):
            message = verdict.reason
        result = TestResult(
            uuid=str(uuid.uuid4()),
            name=verdict.test,
            fullName=f"credly_contract.client_cert.judges.{verdict.test}",
            historyId=rid,
            status=status,
            statusDetails=StatusDetails(message=message) if message else None,
            start=start,
            stop=start + int(verdict.seconds * 1000),
            labels=[
                Label("requirement", rid),
                Label("tag", rid),
                Label("feature", requirement.feature),
                Label("severity", SEVERITY[requirement.level]),
                Label("suite", "certify-client"),
            ],
            links=[Link("link", catalogue.docs, "Credly documentation")],
        )
        for failure in verdict.failures:
            source = f"{uuid.uuid4()}-attachment.json"
            logger.report_attached_data(  # type: ignore[no-untyped-call]
                json.dumps(failure, indent=2, ensure_ascii=False).encode(), source
            )
            result.attachments.append(
                Attachment(name=f"{rid} evidence", source=source, type="application/json")
            )
        logger.report_result(result)  # type: ignore[no-untyped-call]
