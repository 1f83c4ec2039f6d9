"""`credly-contract sweep` deletes only old leftovers of runs (by name or by ledger), never a
neighbour or the bootstrap application, and refuses production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from credly_contract import cli
from credly_contract.emulator import EmulatorServer
from credly_contract.ledger import Ledger, read_outstanding
from credly_contract.sweep import parse_age
from tests.live_runs import (
    live_env,
    made_up_target,
    one_line,
    sweep,
)


def test_sweep_deletes_only_old_run_leftovers_never_neighbours_or_the_bootstrap(
    emulator: EmulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, org = emulator.store, emulator.bootstrap.organization_id
    for name in [
        "credly-contract 1234abcd app 1",
        "credly-contract 1234abcd st x",
        "Neighbour",
        "credly-contract not-a-run-id app",
        "My credly-contract 1234abcd app",
    ]:
        store.create_application(org, {"name": name})
    # A ledgered application whose name carries no prefix (a server that renamed it, say).
    ledgered = store.create_application(org, {"name": "renamed by the server"})
    Ledger(tmp_path / "reports" / "run" / "ledger-feedf00d.jsonl", "feedf00d").created(
        org, ledgered.id, "renamed by the server"
    )
    # A ledgered id that now belongs to something else must be passed over.
    other = store.create_application(org, {"name": "someone else's"})
    Ledger(tmp_path / "reports" / "run" / "ledger-0ddba11a.jsonl", "0ddba11a").created(
        org, other.id, "credly-contract 0ddba11a app 1"
    )
    keep = {
        "Bootstrap application",
        "Neighbour",
        "credly-contract not-a-run-id app",
        "My credly-contract 1234abcd app",
        "someone else's",
    }
    env = live_env(emulator)

    assert sweep(env, tmp_path, monkeypatch, "--older-than", "0", "--dry-run") == 0
    listed = capsys.readouterr().out
    assert listed.count("would delete") == 3
    assert len(store.list_applications(org)) == 8

    assert sweep(env, tmp_path, monkeypatch, "--older-than", "0") == 0
    assert {a.name for a in store.list_applications(org)} == keep
    assert read_outstanding(tmp_path / "reports" / "run" / "ledger-feedf00d.jsonl") == []
    assert "passed over" in capsys.readouterr().out


def test_sweep_leaves_applications_younger_than_older_than_unless_their_run_is_named(
    emulator: EmulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, org = emulator.store, emulator.bootstrap.organization_id
    old = store.create_application(org, {"name": "credly-contract 1234abcd app 1"})
    store.create_application(org, {"name": "credly-contract 5678cdef app 1"})
    store.create_application(org, {"name": "credly-contract 9999aaaa app 1"})
    env = live_env(emulator)
    (tmp_path / "reports").mkdir()

    def names() -> set[str]:
        return {a.name for a in store.list_applications(org)} - {"Bootstrap application"}

    assert sweep(env, tmp_path, monkeypatch, "--dry-run") == 0  # --older-than 1h by default
    said = capsys.readouterr().out
    assert "0 leftover application(s) older than 3600s" in said
    assert "not showing 3 newer leftover application(s)" in said
    assert "1234abcd, 5678cdef, 9999aaaa" in said and "--run RUN_ID" in said
    assert len(names()) == 3
    old.created_at -= 2 * 3600
    assert sweep(env, tmp_path, monkeypatch) == 0
    assert names() == {"credly-contract 5678cdef app 1", "credly-contract 9999aaaa app 1"}
    assert sweep(env, tmp_path, monkeypatch, "--run", "5678cdef") == 0
    assert names() == {"credly-contract 9999aaaa app 1"}


def test_sweep_refuses_production_hosts(
    credly_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    credly_env(**made_up_target("https://api.credly.com"))
    assert cli.main(["sweep"]) == 2
    assert "refusing to sweep production" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("text", "seconds"), [("1h", 3600), ("30m", 1800), ("2d", 172800), ("45s", 45), ("0", 0)]
)
def test_older_than_reads_durations(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds
