"""Proof that every requirement check can fail: certify the emulator once per fault and require that
exactly the requirements the fault breaks are reported failed (and the run exits 1); with no fault the
run certifies and exits 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from credly_contract import catalogue
from credly_contract.emulator.faults import FAULTS
from tests.cli_process import run_cli


def expected_failures(fault: str) -> set[str]:
    """The requirements ``fault`` must fail, as it declares next to its definition (faults.py)."""
    return set(FAULTS[fault].breaks)


def certify(tmp_path: Path, *faults: str) -> tuple[int, dict, str]:
    reports = tmp_path / "reports"
    arguments = ["certify", "--profile", "quick", "--reports-dir", str(reports)]
    for fault in faults:
        arguments += ["--fault", fault]
    done = run_cli(*arguments, timeout=600)
    output = f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
    assert (reports / "certificate.json").exists(), output
    certificate = json.loads((reports / "certificate.json").read_text())
    return done.returncode, certificate, output


def statuses(certificate: dict) -> dict[str, str]:
    return {r["id"]: r["status"] for r in certificate["requirements"]}


def test_every_fault_declares_requirements_of_the_catalogue():
    known = set(catalogue.requirements())
    for name, fault in FAULTS.items():
        assert fault.breaks, f"{name} declares no requirement it breaks"
        assert fault.breaks <= known, (name, set(fault.breaks - known))


def test_every_requirement_is_broken_by_some_fault():
    broken = set().union(*(expected_failures(fault) for fault in FAULTS))
    assert broken == set(catalogue.requirements()), set(catalogue.requirements()) - broken


@pytest.mark.slow
def test_the_emulator_without_faults_is_certified(tmp_path):
    code, certificate, output = certify(tmp_path)
    assert certificate["verdict"] == "certified", output
    assert set(statuses(certificate).values()) == {"passed"}
    assert code == 0


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_fails_exactly_the_requirements_it_breaks(tmp_path, fault):
    code, certificate, output = certify(tmp_path, fault)
    failed = {rid for rid, status in statuses(certificate).items() if status == "failed"}
    assert failed == expected_failures(fault), output
    assert certificate["verdict"] == "not_certified", output
    assert code == 1, output
    for requirement in certificate["requirements"]:
        if requirement["status"] == "failed":
            assert all(e["message"] for e in requirement["evidence"]), requirement["id"]
