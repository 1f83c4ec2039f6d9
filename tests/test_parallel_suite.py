"""The project's own test suite runs on every core (pytest-xdist through pyproject.toml's addopts), and
tests that share a module-scoped fixture stay on one worker, so the fixture (often a whole
certification) is built once (tests/conftest.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_command_runs_on_every_core_balancing_by_group(pytestconfig: pytest.Config):
    options = pytestconfig.getini("addopts")
    assert "-n" in options and options[options.index("-n") + 1] == "auto", options
    assert "--dist" in options and options[options.index("--dist") + 1] == "loadgroup", options


def test_auto_means_two_workers_per_core_unless_the_environment_says(pytestconfig, monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    workers = pytestconfig.hook.pytest_xdist_auto_num_workers(config=pytestconfig)
    assert workers == 2 * len(os.sched_getaffinity(0))
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "3")
    assert pytestconfig.hook.pytest_xdist_auto_num_workers(config=pytestconfig) == 3


def test_tests_sharing_a_module_fixture_run_on_one_worker():
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_spec.py", "-v", "-n", "2", "-k",
         "documented_example_is_the_contract_example"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    results = re.findall(r"^\[(gw\d)\] \[.*?\] (?:PASSED|SKIPPED) (.+?)\s*$", done.stdout, re.M)
    assert len(results) == 5, done.stdout[-2000:]
    assert len({worker for worker, _ in results}) == 1, results
    assert all(nodeid.endswith("@test_spec:documented_examples") for _, nodeid in results), results
