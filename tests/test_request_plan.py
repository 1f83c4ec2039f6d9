"""The request plan: what a run spends per requirement, counted while it runs (certificate.json and
.html) and planned before it runs (the shipped table, `certify --dry-run`, which sends nothing)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from credly_contract import catalogue
from credly_contract.profiles import PROFILES
from credly_contract.report.verify import consistency_problems, schema_problems
from credly_contract.request_plan import CLEANUP, SETUP, RequestAccounting, load_plan, planned
from tests.cli_process import run_cli


def test_requests_are_charged_to_the_running_test_and_its_requirements():
    spent = RequestAccounting()
    spent.charge(2, SETUP)  # preflight
    spent.charge(5, "test_a", ["APP-LIST", "PAGE-META"])  # 3 more while test_a ran
    spent.charge(6, "test_b", ["APP-LIST"])  # 1 more while test_b ran
    spent.charge(6, "test_b", ["APP-LIST"])  # nothing new: nothing charged
    spent.charge(9, CLEANUP)
    assert spent.tests == {"test_a": 3, "test_b": 1}
    assert spent.buckets == {SETUP: 2, CLEANUP: 3}
    assert spent.total == 9
    assert spent.by_requirement() == {
        "APP-LIST": {"requests": 4, "share": 2.5},  # 3 shared with PAGE-META (1.5 each) + 1
        "PAGE-META": {"requests": 3, "share": 1.5},
    }


def test_a_workers_accounting_adds_to_the_controllers():
    controller, worker = RequestAccounting(), RequestAccounting()
    controller.charge(3, "test_a", ["APP-LIST"])
    worker.charge(1, SETUP)
    worker.charge(4, "test_a", ["APP-LIST"])
    controller.merge(json.loads(json.dumps(worker.to_facts())))
    assert controller.tests == {"test_a": 6}
    assert controller.buckets[SETUP] == 1
    assert controller.total == 7


def test_the_shipped_plan_prices_every_requirement_on_every_profile():
    plan = load_plan()
    assert set(plan["profiles"]) >= {"quick", "standard", "thorough"}
    for name, measured in plan["profiles"].items():
        assert set(measured["requirements"]) == set(catalogue.requirements()), name
        assert all(cost["requests"] > 0 for cost in measured["requirements"].values()), name
        assert measured["total"] >= sum(c["share"] for c in measured["requirements"].values()) - 23


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_dry_run_prints_each_requirements_cost_and_sends_nothing():
    """Against a live target that would refuse every connection: a request would exit 3."""
    port = _closed_port()
    env = os.environ | {
        "CREDLY_API_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "CREDLY_TOKEN_URL": f"http://127.0.0.1:{port}/oauth/token",
        "CREDLY_ORGANIZATION_ID": "00000000-0000-0000-0000-000000000000",
        "CREDLY_CLIENT_ID": "dry-run-client",
        "CREDLY_CLIENT_SECRET": "dry-run-secret-0000000000000000",
    }
    done = run_cli("certify", "--target", "live", "--dry-run", env=env, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    plan = load_plan()["profiles"]["quick"]  # live targets default to quick
    lines = done.stdout.splitlines()
    for rid in catalogue.requirements():
        (line,) = [line for line in lines if line.split()[:1] == [rid]]
        assert int(line.split()[1]) == plan["requirements"][rid]["requests"], line
    assert f"total: about {plan['total']} requests" in done.stdout
    assert "request budget: 600" in done.stdout
    assert "dry-run-secret" not in done.stdout + done.stderr


def test_dry_run_with_a_wrong_setting_still_names_it(tmp_path):
    done = run_cli("certify", "--dry-run", "--profile", "no-such-profile", timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_the_certificate_shows_what_each_requirement_cost(tmp_path: Path):
    reports = tmp_path / "reports"
    done = run_cli("certify", "--profile", "quick", "--reports-dir", str(reports), timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    certificate = json.loads((reports / "certificate.json").read_text())
    assert schema_problems(certificate) == []
    assert consistency_problems(certificate) == []
    spent = certificate["request_plan"]["spent"]
    assert spent["total"] == certificate["counts"]["requests_sent"]
    assert spent["setup"] > 0 and spent["cleanup"] > 0
    assert set(spent["requirements"]) == set(catalogue.requirements())
    assert sum(spent["tests"].values()) + spent["setup"] + spent["cleanup"] == spent["total"]
    assert (
        certificate["request_plan"]["planned"]["total"] == load_plan()["profiles"]["quick"]["total"]
    )
    html = (reports / "certificate.html").read_text()
    assert "Requests per requirement" in html
    assert f"<th>{spent['total']}</th>" in html
    # Only the state machine's sequences are drawn; its allowance bounds them, and so the run.
    quick = PROFILES["quick"]
    assert quick.stateful_sequence_requests is not None
    machine = "test_state_machine.py::test_any_sequence_of_operations_agrees_with_the_model"
    most = quick.stateful_examples * quick.stateful_sequence_requests
    assert spent["tests"][machine] <= most
    assert spent["total"] - spent["tests"][machine] + most <= 200


def test_the_profile_help_quotes_the_measured_plan():
    """certify --help once said quick sends ~330 requests long after it sent ~190: the numbers in
    the help come from request_plan.json now."""
    done = run_cli("certify", "--help")
    for profile in ("quick", "standard", "thorough"):
        total = planned(profile)["total"]
        assert f"~{round(total, -1)} requests" in " ".join(done.stdout.split())
