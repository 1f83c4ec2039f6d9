"""A run that is stopped (Ctrl-C, SIGTERM, a second Ctrl-C, an exhausted budget) still leaves the
organization as it found it, or says exactly what it left and how `sweep` removes it."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from credly_contract.emulator import EmulatorServer
from credly_contract.http_client import (
    BudgetExhausted,
    Limits,
)
from credly_contract.ledger import read_outstanding
from credly_contract.profiles import PROFILES
from tests.fault_proxy import FaultProxy
from tests.live_runs import (
    certificate,
    certify_command,
    emulator_target,
    live_env,
    organization_state,
    run_applications,
    run_created_anything,
    slow,
    sweep,
    wait_for,
)


@slow
@pytest.mark.parametrize(
    ("signum", "code", "named"),
    [(signal.SIGINT, 130, "Ctrl-C (SIGINT)"), (signal.SIGTERM, 143, "SIGTERM")],
)
def test_a_signal_mid_run_stops_it_and_still_deletes_what_it_created(
    emulator: EmulatorServer, tmp_path: Path, signum: int, code: int, named: str
) -> None:
    before = organization_state(emulator)
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            certify_command(tmp_path / "reports"),
            env=live_env(emulator),
            cwd=tmp_path,
            stdout=stdout,
            stderr=stderr,
            text=True,
        )
        wait_for(lambda: run_created_anything(emulator))
        process.send_signal(signum)
        assert process.wait(60) == code
    assert f"interrupted by {named}" in out.read_text() + err.read_text()
    assert "Traceback" not in err.read_text()
    for block in ("KeyboardInterrupt", "--full-trace", "Terminated"):
        assert block not in out.read_text() + err.read_text(), "pytest's interrupt block is back"
    # The run may itself have deleted all it created by the time the signal lands (its delete
    # tests do): either way it says what cleanup had to do, and the organization is as it was.
    said = out.read_text()
    assert "deleting the" in said or "nothing this run created is left to delete" in said
    assert organization_state(emulator) == before
    assert certificate(tmp_path)["verdict"] == "error"


@slow
def test_a_second_ctrl_c_skips_cleanup_and_says_what_was_left_and_sweep_removes_it(
    emulator: EmulatorServer, proxy: FaultProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = organization_state(emulator)
    out = tmp_path / "out"
    with out.open("w") as stdout:
        process = subprocess.Popen(
            certify_command(tmp_path / "reports"),
            env=live_env(emulator, via=proxy),
            cwd=tmp_path,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_for(lambda: len(run_applications(emulator)) >= 2)  # cleanup has work to do
        proxy.hold_deletes = 3.0  # cleanup's deletes hang, as on a slow target
        process.send_signal(signal.SIGINT)
        assert proxy.delete_held.wait(60)
        process.send_signal(signal.SIGINT)
        assert process.wait(60) != 0
    text = out.read_text()
    assert run_applications(emulator)
    (ledger,) = (tmp_path / "reports").glob("ledger-*.jsonl")
    run_id = ledger.stem.removeprefix("ledger-")
    assert "cleanup skipped" in text
    assert str(ledger) in text and f"credly-contract sweep --run {run_id}" in text
    assert all(str(entry["application_id"]) in text for entry in read_outstanding(ledger))

    proxy.hold_deletes = 0
    assert sweep(live_env(emulator), tmp_path, monkeypatch, "--run", run_id) == 0
    assert organization_state(emulator) == before
    assert read_outstanding(ledger) == []


def test_cleanup_is_not_stopped_by_an_exhausted_budget(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    from credly_contract.session import CertificationRun

    run = CertificationRun(
        emulator_target(emulator), PROFILES["quick"], "0badc0de", tmp_path, Limits(budget=4)
    )
    run.preflight()
    run.resources.new_application()
    with pytest.raises(BudgetExhausted):
        run.client.get(run.target.applications_url())
    assert run.close() == []
    assert not run_created_anything(emulator)
