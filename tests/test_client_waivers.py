"""Waivers for client certification, as on the server side: `certify-client --waivers FILE` accepts
QA's written acceptance of a failed SHOULD requirement (with a reason and an expiry) from the client
catalogue; a MUST waiver or an expired one is reported and ignored."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from credly_contract import cli
from credly_contract.catalogue import client_requirements
from credly_contract.config import ConfigError
from credly_contract.report.waivers import apply_waivers, load_waivers
from credly_contract.results import FAILED, PASSED

SYNC = Path(__file__).resolve().parent / "integrations" / "sync.py"
CLIENT = client_requirements()


def waivers_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_waived_should_failure_certifies_and_every_artefact_says_it_was_waived(tmp_path, capsys):
    waivers = waivers_file(
        tmp_path,
        "waivers:\n"
        "  - {id: CLIENT-RETRY-AFTER, reason: 'ticket SYNC-7: Retry-After from 2027', expires: 2099-01-31}\n",
    )
    reports = tmp_path / "reports"

    code = cli.main(
        [
            *("certify-client", "--reports-dir", str(reports), "--waivers", str(waivers)),
            *("--", sys.executable, str(SYNC), "--defect", "ignore_retry_after"),
        ]
    )

    cert = json.loads((reports / "certificate.json").read_text(encoding="utf-8"))
    by_id = {r["id"]: r for r in cert["requirements"]}
    out = capsys.readouterr().out
    assert (code, cert["verdict"]) == (0, "certified")
    assert by_id["CLIENT-RETRY-AFTER"]["status"] == "waived"
    assert by_id["CLIENT-RETRY-AFTER"]["waiver"]["reason"].startswith("ticket SYNC-7")
    assert by_id["CLIENT-RETRY-AFTER"]["evidence"]  # waived, not forgotten
    waived = "WAIVED CLIENT-RETRY-AFTER (ticket SYNC-7: Retry-After from 2027, until 2099-01-31)"
    assert waived in out
    junit = ElementTree.parse(reports / "junit.xml").getroot()
    case = next(c for c in junit.iter("testcase") if "retry_after" in c.get("name", ""))
    assert case.find("failure") is None
    assert waived in case.find("skipped").get("message")


def test_a_waiver_names_a_client_requirement_or_the_run_stops_with_exit_2(tmp_path, capsys):
    waivers = waivers_file(
        tmp_path, "waivers: [{id: SEC-NO-5XX, reason: 'server id', expires: 2099-01-31}]\n"
    )

    code = cli.main(["certify-client", "--waivers", str(waivers), "--", "true"])

    err = capsys.readouterr().err
    assert code == 2
    assert (
        "'SEC-NO-5XX' is not a requirement in suite/credly_contract/client_requirements.yaml" in err
    )


def test_a_waiver_without_reason_or_expiry_is_refused(tmp_path):
    no_expiry = waivers_file(tmp_path, "waivers: [{id: CLIENT-BACKOFF, reason: r}]")
    with pytest.raises(ConfigError, match="missing expires"):
        load_waivers(no_expiry, CLIENT)
    no_reason = waivers_file(
        tmp_path, "waivers: [{id: CLIENT-BACKOFF, reason: '', expires: 2099-01-01}]"
    )
    with pytest.raises(ConfigError, match="reason must be a non-empty string"):
        load_waivers(no_reason, CLIENT)


def test_client_waivers_apply_to_failed_should_requirements_until_they_expire(tmp_path):
    text = (
        "waivers:\n"
        "  - {id: CLIENT-BACKOFF, reason: QA-1, expires: 2030-01-31}\n"
        "  - {id: CLIENT-RETRY-AFTER, reason: QA-2, expires: 2030-01-31}\n"
    )
    waivers = load_waivers(waivers_file(tmp_path, text), CLIENT)
    statuses = {"CLIENT-BACKOFF": FAILED, "CLIENT-RETRY-AFTER": PASSED}

    applied, notes = apply_waivers(statuses, waivers, dt.date(2030, 1, 31))
    expired, _ = apply_waivers(statuses, waivers, dt.date(2030, 2, 1))

    assert set(applied) == {"CLIENT-BACKOFF"}
    assert {(n["kind"], n["requirement"]) for n in notes} == {
        ("waiver_unused", "CLIENT-RETRY-AFTER"),
    }
    assert expired == {}


def test_a_must_waiver_stops_certify_client_with_exit_2_before_the_integration_runs(
    tmp_path, capsys
):
    waivers = waivers_file(
        tmp_path,
        "waivers: [{id: CLIENT-COMPLETES, reason: 'cannot be waived', expires: 2099-01-31}]\n",
    )

    code = cli.main(["certify-client", "--waivers", str(waivers), "--", "true"])

    err = capsys.readouterr().err
    assert code == 2
    assert "CLIENT-COMPLETES is a MUST requirement and cannot be waived" in err
