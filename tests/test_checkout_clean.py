"""The project's tests leave the checkout as they found it: a session whose tests wrote into it
fails (tests/conftest.py), `record` puts its certificate beside its cassettes, and .ci/run installs
nothing outside .venv."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.cli_process import run_cli

ROOT = Path(__file__).resolve().parents[1]

LITTERING_TEST = """
from pathlib import Path

def test_writes_into_the_checkout():
    (Path(__file__).resolve().parents[1] / "reports").mkdir(exist_ok=True)
    (Path(__file__).resolve().parents[1] / "reports" / "left-behind.json").write_text("{}")
"""

TIDY_TEST = """
def test_writes_under_tmp_path(tmp_path):
    (tmp_path / "fine.json").write_text("{}")
"""


def _session_in_a_checkout(tmp_path: Path, test: str) -> subprocess.CompletedProcess[str]:
    checkout = tmp_path / "checkout"
    (checkout / "tests").mkdir(parents=True)
    for helper in (ROOT / "tests").glob("*.py"):  # conftest.py and the modules it loads
        if not helper.name.startswith("test_"):
            shutil.copy(helper, checkout / "tests" / helper.name)
    (checkout / "tests" / "test_one.py").write_text(test, encoding="utf-8")
    (checkout / ".gitignore").write_text("reports/*\n__pycache__/\n", encoding="utf-8")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=checkout, check=True)
    subprocess.run([*git, "add", "."], cwd=checkout, check=True)
    subprocess.run([*git, "commit", "-qm", "start"], cwd=checkout, check=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", "tests"],
        cwd=checkout, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_session_whose_test_writes_into_the_checkout_fails_naming_what_it_left(tmp_path):
    done = _session_in_a_checkout(tmp_path, LITTERING_TEST)
    assert done.returncode == 1, done.stdout[-2000:]
    assert "the tests changed the checkout" in done.stdout
    assert "reports/left-behind.json" in done.stdout


def test_a_session_whose_tests_write_under_tmp_path_passes(tmp_path):
    done = _session_in_a_checkout(tmp_path, TIDY_TEST)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "changed the checkout" not in done.stdout


def test_record_writes_its_certificate_beside_its_cassettes_and_nothing_where_it_runs(tmp_path):
    work, cassettes = tmp_path / "work", tmp_path / "recording"
    work.mkdir()
    done = run_cli("record", "--cassettes-dir", str(cassettes), cwd=work)
    assert done.returncode == 0, done.stdout + done.stderr
    certificate = json.loads(
        (tmp_path / "recording-certificate" / "certificate.json").read_text(encoding="utf-8")
    )
    assert certificate["verdict"] == "passed_in_scope"
    assert list(work.iterdir()) == []


def test_ci_run_installs_no_system_packages():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for installer in ("apt-get", "apt ", "yum", "dnf", "apk add", "brew", "sudo"):
        assert installer not in script, installer
