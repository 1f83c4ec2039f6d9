"""One staging-like certification (`certify --target live --profile quick`) against an emulator
seeded with neighbours, through a FaultProxy that throttles it now and then: it certifies, leaks no
secret or token, leaves the neighbours byte-for-byte as they were, deletes all it ledgered, stays
inside its budget and waits out 429s; its reports folder, ledger and application names share one
run id; and a server that answers 500 past the last page still gets a complete run and every report.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from credly_contract.emulator import EmulatorServer
from credly_contract.ledger import read_outstanding
from credly_contract.profiles import PROFILES
from tests.cli_process import run_cli
from tests.fault_proxy import FaultProxy
from tests.live_runs import (
    certificate,
    certify_arguments,
    live_env,
    organization_state,
    run_certify,
    slow,
)
from tests.response_rewrites import REWRITES


@pytest.fixture(scope="module")
def seeded_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One staging-like quick run: other applications in the organization, and a target that
    answers 429 (Retry-After: 1) three times along the way."""
    workdir = tmp_path_factory.mktemp("seeded")
    with EmulatorServer(seed_applications=5) as emulator, FaultProxy(emulator.origin) as proxy:
        proxy.throttle_at = {40, 90, 150}
        proxy.retry_after = "1"
        before = organization_state(emulator)
        result = run_certify(live_env(emulator, via=proxy), workdir)
        yield {
            "workdir": workdir,
            "result": result,
            "before": before,
            "after": organization_state(emulator),
            "secrets": emulator.issued_secrets(),
            "throttled": proxy.throttled,
        }


@slow
def test_full_live_run_certifies_the_emulator(seeded_run: dict[str, Any]) -> None:
    result = seeded_run["result"]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert certificate(seeded_run["workdir"])["verdict"] == "certified"


@slow
def test_no_issued_secret_or_token_appears_in_output_or_any_file_the_run_wrote(
    seeded_run: dict[str, Any],
) -> None:
    result = seeded_run["result"]
    written = [p for p in seeded_run["workdir"].rglob("*") if p.is_file()]
    names = {p.name for p in written}
    assert {"certificate.json", "junit.xml"} <= names and any(
        n.startswith("ledger-") for n in names
    )
    assert any("allure-results" in p.parts for p in written)
    secrets = seeded_run["secrets"]
    assert len(secrets) > 20  # the run really obtained tokens and created applications
    haystacks = {"stdout": result.stdout.encode(), "stderr": result.stderr.encode()}
    haystacks.update({str(p): p.read_bytes() for p in written})
    hits = [
        (where, secret[:6] + "...")
        for secret in secrets
        for where, text in haystacks.items()
        if secret.encode() in text
    ]
    assert hits == []


@slow
def test_seeded_neighbours_and_the_bootstrap_application_are_byte_for_byte_unchanged(
    seeded_run: dict[str, Any],
) -> None:
    before, after = seeded_run["before"], seeded_run["after"]
    assert len(before[next(iter(before))]) == 6  # the bootstrap application and 5 seeded ones
    assert after == before


@slow
def test_the_run_deleted_everything_it_ledgered(seeded_run: dict[str, Any]) -> None:
    ledgers = list(seeded_run["workdir"].rglob("ledger-*.jsonl"))
    assert len(ledgers) == 1
    entries = [json.loads(line) for line in ledgers[0].read_text().splitlines()]
    assert any(e["event"] == "created" for e in entries)
    assert read_outstanding(ledgers[0]) == []


@slow
def test_quick_profile_stays_well_inside_its_default_live_budget(
    seeded_run: dict[str, Any],
) -> None:
    sent = certificate(seeded_run["workdir"])["counts"]["requests_sent"]
    assert 0 < sent <= PROFILES["quick"].live_budget * 3 // 4, (
        f"quick sent {sent} requests: re-measure and update live_budget and docs/staging.md"
    )


@slow
def test_429_with_retry_after_is_waited_out_retried_and_reported_not_failed(
    seeded_run: dict[str, Any],
) -> None:
    assert seeded_run["result"].returncode == 0
    report = certificate(seeded_run["workdir"])
    assert report["verdict"] == "certified"
    (throttled,) = [o for o in report["observations"] if o["kind"] == "throttled"]
    assert throttled["count"] == seeded_run["throttled"] == 3


@slow
def test_the_reports_folder_ledger_and_application_names_share_one_run_id(
    emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_cli(*certify_arguments(None), env=live_env(emulator), cwd=tmp_path, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    (folder,) = [p for p in (tmp_path / "reports").iterdir() if not p.is_symlink()]
    run_id = folder.name.rsplit("-", 1)[1]
    (ledger,) = folder.glob("ledger-*.jsonl")
    assert ledger.name == f"ledger-{run_id}.jsonl"
    entries = [json.loads(line) for line in ledger.read_text().splitlines()]
    created = [e for e in entries if e["event"] == "created"]
    assert created and all(e["run_id"] == run_id for e in entries)
    assert all(e["name"].startswith(f"credly-contract {run_id} ") for e in created)
    last = result.stdout.strip().splitlines()[-1]
    assert f"reports/{folder.name}/certificate.html" in last


def junit_testcases(workdir: Path) -> int:
    root = ElementTree.parse(workdir / "reports" / "junit.xml").getroot()
    return sum(1 for _ in root.iter("testcase"))


@slow
def test_a_server_answering_500_past_the_last_page_gets_a_complete_run_and_every_report(
    emulator: EmulatorServer, seeded_run: dict[str, Any], tmp_path: Path
) -> None:
    """As one independent server did: an empty page after the last one answers 500."""
    rewrite = REWRITES["server_error_past_the_last_page"].rewrite()
    with FaultProxy(emulator.origin) as proxy:
        proxy.rewrite = rewrite
        result = run_certify(live_env(emulator, via=proxy), tmp_path)
    output = result.stdout + result.stderr
    assert rewrite.changed, "the run never asked for a page past the end"
    assert not rewrite.errors, rewrite.errors
    assert result.returncode == 1, output[-3000:]
    assert "INTERNALERROR" not in output and "Traceback" not in output
    issued = certificate(tmp_path)
    assert issued["verdict"] == "not_certified"
    assert {r["id"]: r["status"] for r in issued["requirements"]}["SEC-NO-5XX"] == "failed"
    assert junit_testcases(tmp_path) == junit_testcases(seeded_run["workdir"])
