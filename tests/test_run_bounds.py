"""Numbers a run cannot mean are usage errors (exit 2) naming the flag, found before anything is
sent; the dry run shows the budget the real run would keep; --workers works on a plain install."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest

from credly_contract import cli
from credly_contract.verdict import ExitCode


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--timeout", "0"], "--timeout must be more than 0"),
        (["--timeout", "-1"], "--timeout must be more than 0"),
        (["--timeout", "nan"], "--timeout takes a finite number"),
        (["--timeout", "inf"], "--timeout takes a finite number"),
        (["--rate-limit", "0"], "--rate-limit must be more than 0"),
        (["--rate-limit", "-5"], "--rate-limit must be more than 0"),
        (["--max-requests", "0"], "--max-requests must be at least 1"),
        (["--max-requests", "3", "--workers", "4"], "--max-requests 3 is smaller than --workers"),
        (["--workers", "0"], "--workers must be at least 1"),
    ],
)
@pytest.mark.parametrize("target", ["emulated", "live"])
def test_a_number_out_of_bounds_is_a_usage_error_naming_the_flag_before_anything_is_sent(
    flags, named, target, capsys, monkeypatch
):
    # A live target with no CREDLY_* settings: the bounds are checked before the target is built.
    for name in ("API_BASE_URL", "TOKEN_URL", "ORGANIZATION_ID", "CLIENT_ID", "CLIENT_SECRET"):
        monkeypatch.delenv(f"CREDLY_{name}", raising=False)
    code = cli.main(["certify", "--target", target, *flags])
    err = capsys.readouterr().err
    assert code == ExitCode.CONFIG
    assert named in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_the_plugin_refuses_the_same_numbers_naming_its_own_option(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--credly-target", "emulated",
         "--credly-timeout", "0", "--credly-reports-dir", str(tmp_path / "reports")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stderr
    assert "--credly-timeout must be more than 0" in result.stderr
    assert not (tmp_path / "reports").exists()


def test_the_dry_run_shows_the_budget_the_run_keeps(capsys):
    assert cli.main(["certify", "--dry-run", "--profile", "quick", "--max-requests", "42"]) == 0
    assert "request budget: 42 (--max-requests)" in capsys.readouterr().out


def test_pytest_xdist_is_a_runtime_dependency_so_workers_works_on_a_plain_install():
    requires = importlib.metadata.requires("credly-contract") or []
    runtime = [r for r in requires if "extra ==" not in r]
    assert any(r.replace("_", "-").startswith("pytest-xdist") for r in runtime), runtime
