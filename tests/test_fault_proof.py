"""Proof that every requirement check can fail: certify the emulator once per fault and require that
exactly the requirements the fault breaks are reported failed (and the run exits 1); with no fault the
run certifies and exits 0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from credly_contract import catalogue
from credly_contract.emulator.faults import FAULTS

# fault -> the requirements it must fail. Some faults break a rule that others stand on (a create that
# does not persist cannot be read, updated or deleted): those list every requirement they honestly break.
EXPECTED_FAILURES: dict[str, set[str]] = {
    "list_without_metadata": {"APP-LIST", "PAGE-META"},
    "list_as_text": {"APP-LIST"},
    "unknown_id_not_404": {"APP-GET", "APP-DELETE"},
    "create_returns_200": {"APP-CREATE"},
    "created_not_persisted": {
        "APP-CREATE",
        "APP-GET",
        "APP-UPDATE",
        "APP-DELETE",
        "APP-CREDENTIALS",
    },
    "name_not_required": {"APP-NAME-REQUIRED", "APP-SCHEMA"},
    "update_not_persisted": {"APP-UPDATE"},
    "update_clears_omitted": {"APP-UPDATE"},
    "delete_returns_200": {"APP-DELETE"},
    "delete_not_persisted": {"APP-DELETE", "SEC-REVOKE-ON-DELETE"},
    "secret_on_read": {"APP-SECRET-ONCE"},
    "new_credentials_rejected": {"APP-CREDENTIALS"},
    "timestamps_not_iso": {"APP-SCHEMA"},
    "pagination_arithmetic": {"PAGE-META"},
    "next_page_url_on_last_page": {"PAGE-META"},
    "token_type_mac": {"TOKEN-ISSUE"},
    "scope_widened": {"TOKEN-SCOPE", "SCOPE-ENFORCED"},
    "unknown_scope_accepted": {"TOKEN-SCOPE"},
    "scope_not_enforced": {"SCOPE-ENFORCED"},
    "bearer_not_required": {"BEARER-REQUIRED"},
    "badges_wrong_envelope": {"BADGES-LIST", "PAGE-META"},
    "invalid_client_wrong_error": {"OAUTH-INVALID-CLIENT", "SEC-REVOKE-ON-DELETE"},
    "grant_type_not_checked": {"OAUTH-GRANT-TYPE"},
    "token_cacheable": {"OAUTH-NO-STORE"},
    "no_www_authenticate": {"BEARER-CHALLENGE"},
    "tenant_not_isolated": {"SEC-TENANT"},
    "tokens_survive_delete": {"SEC-REVOKE-ON-DELETE"},
    "per_zero_500": {"SEC-NO-5XX"},
    "type_coercion": {"SEC-INPUT-REJECTED"},
}


def expected_failures(fault: str) -> set[str]:
    """The requirements ``fault`` must fail: the one place the matrix reads its expectations from."""
    return EXPECTED_FAILURES[fault]


def certify(tmp_path: Path, *faults: str) -> tuple[int, dict]:
    reports = tmp_path / "reports"
    command = [
        sys.executable,
        "-m",
        "credly_contract.cli",
        "certify",
        "--profile",
        "quick",
        "--reports-dir",
        str(reports),
    ]
    for fault in faults:
        command += ["--fault", fault]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    certificate = json.loads((reports / "certificate.json").read_text())
    return done.returncode, certificate


def statuses(certificate: dict) -> dict[str, str]:
    return {r["id"]: r["status"] for r in certificate["requirements"]}


def test_every_fault_has_an_expectation():
    assert set(EXPECTED_FAILURES) == set(FAULTS)


def test_every_requirement_is_broken_by_some_fault():
    broken = set().union(*(expected_failures(fault) for fault in FAULTS))
    assert broken == set(catalogue.requirements()), set(catalogue.requirements()) - broken


@pytest.mark.slow
def test_the_emulator_without_faults_is_certified(tmp_path):
    code, certificate = certify(tmp_path)
    assert certificate["verdict"] == "certified", statuses(certificate)
    assert set(statuses(certificate).values()) == {"passed"}
    assert code == 0


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_fails_exactly_the_requirements_it_breaks(tmp_path, fault):
    code, certificate = certify(tmp_path, fault)
    failed = {rid for rid, status in statuses(certificate).items() if status == "failed"}
    assert failed == expected_failures(fault)
    assert certificate["verdict"] == "not_certified"
    assert code == 1
    for requirement in certificate["requirements"]:
        if requirement["status"] == "failed":
            assert all(e["message"] for e in requirement["evidence"]), requirement["id"]
