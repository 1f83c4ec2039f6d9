"""`certify-client` on a Node.js integration: tests/integrations/node/with_simple_oauth2.mjs, written
from the README of simple-oauth2 (npm) with Node's global fetch. The careful variant certifies and
the naive one fails exactly what the Python naive integrations fail (tests/test_client_libraries.py),
each in every one of a few certifications run side by side. It runs unmodified over HTTPS: Node
trusts the run's CA only through the NODE_EXTRA_CA_CERTS that certify-client sets (docs/client.md,
"HTTPS").

Needs `node` on PATH and the integration's packages installed (`npm ci --prefix
tests/integrations/node`, which .ci/run does); skipped otherwise, with what to run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from credly_contract.emulator.server import LoopbackTLS
from credly_contract.targets import emulated_target
from tests.cli_process import run_cli
from tests.test_client_libraries import NAIVE_FAILS, NAIVE_NOT_RUN

NODE_PROJECT = Path(__file__).resolve().parent / "integrations" / "node"
SCRIPT = NODE_PROJECT / "with_simple_oauth2.mjs"
NODE = shutil.which("node")
RUNS = 3  # certifications of each variant, all at once
VARIANTS = {"careful": [], "naive": ["--naive"]}
# The careful run with nothing injected, as (method, status): a token, three pages of applications
# (121 seeded), then create, read, rename and delete one.
TASK = [
    ("POST", 200),
    *[("GET", 200)] * 3,
    ("POST", 201),
    ("GET", 200),
    ("PUT", 200),
    ("DELETE", 204),
]
# What could make Node trust a certificate other than through certify-client's NODE_EXTRA_CA_CERTS:
# the outer shell's own NODE_EXTRA_CA_CERTS, NODE_TLS_REJECT_UNAUTHORIZED=0, or
# NODE_OPTIONS=--use-openssl-ca (which would read certify-client's SSL_CERT_FILE instead).
LOOSENERS = ("NODE_EXTRA_CA_CERTS", "NODE_TLS_REJECT_UNAUTHORIZED", "NODE_OPTIONS")

pytestmark = [
    pytest.mark.skipif(
        NODE is None,
        reason="node is not on PATH: install Node.js 18 or later (Debian/Ubuntu: sudo apt-get "
        "install nodejs npm), then run: npm ci --prefix tests/integrations/node",
    ),
    pytest.mark.skipif(
        not (NODE_PROJECT / "node_modules").is_dir(),
        reason="the Node integration's packages are not installed: "
        "run npm ci --prefix tests/integrations/node",
    ),
]


def _environment() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if not k.startswith("CREDLY_") and k not in LOOSENERS
    }


def _certify(job: tuple[str, int, Path]) -> tuple[str, dict[str, Any], int]:
    variant, number, root = job
    reports = root / f"{variant}-{number}"
    done = run_cli(
        "certify-client", "--profile", "standard", "--reports-dir", str(reports),
        "--", str(NODE), str(SCRIPT), *VARIANTS[variant],
        env=_environment(), timeout=300,
    )  # fmt: skip
    certificate = json.loads((reports / "certificate.json").read_text(encoding="utf-8"))
    return variant, certificate, done.returncode


def _outcome(
    certificate: dict[str, Any], code: int
) -> tuple[int, tuple[str, ...], tuple[str, ...]]:
    statuses = {r["id"]: r["status"] for r in certificate["requirements"]}
    failed = tuple(sorted(rid for rid, status in statuses.items() if status == "failed"))
    not_run = tuple(sorted(rid for rid, status in statuses.items() if status == "not_run"))
    return code, failed, not_run


@pytest.fixture(scope="module")
def certifications(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, list[tuple[dict[str, Any], int]]]:
    """Each variant certified RUNS times, every certification at once."""
    root = tmp_path_factory.mktemp("node")
    jobs = [(variant, number, root) for number in range(RUNS) for variant in VARIANTS]
    found: dict[str, list[tuple[dict[str, Any], int]]] = {variant: [] for variant in VARIANTS}
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        for variant, certificate, code in pool.map(_certify, jobs):
            found[variant].append((certificate, code))
    return found


@pytest.mark.slow
def test_a_careful_node_integration_on_simple_oauth2_certifies_every_time(certifications):
    runs = certifications["careful"]
    assert [_outcome(*run) for run in runs] == [(0, (), ())] * RUNS
    assert [certificate["verdict"] for certificate, _ in runs] == ["certified"] * RUNS


@pytest.mark.slow
def test_a_naive_node_integration_fails_exactly_what_the_python_naive_ones_fail(certifications):
    expected = (1, tuple(sorted(NAIVE_FAILS)), tuple(sorted(NAIVE_NOT_RUN)))
    assert [_outcome(*run) for run in certifications["naive"]] == [expected] * RUNS


@pytest.mark.slow
def test_the_node_integration_spoke_https_to_the_emulator_and_completed(certifications):
    for certificate, _ in certifications["careful"]:
        target = certificate["target"]
        assert target["scheme"] == "https"
        assert target["api_base_url"].startswith("https://127.0.0.1:")
        assert target["token_url"].startswith("https://127.0.0.1:")
        statuses = {r["id"]: r["status"] for r in certificate["requirements"]}
        assert statuses["CLIENT-COMPLETES"] == "passed"
        assert certificate["integration"]["run_without_injections"]["exit_code"] == 0
        # Past the TLS handshake to real answers: a token, then every API call of its task.
        clean = [e for e in certificate["timeline"] if e["phase"] == "clean"]
        assert clean[0]["target"] == "/oauth/token"
        assert [(e["method"], e["status"]) for e in clean] == TASK


def _run_node(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [str(NODE), str(SCRIPT)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_node_trusts_the_runs_ca_only_through_node_extra_ca_certs(make_emulator):
    """The hand-over certify-client relies on: without NODE_EXTRA_CA_CERTS, Node refuses the run's
    certificate before anything reaches the emulator; with it naming the CA, the task completes."""
    with LoopbackTLS() as tls:
        emulator = make_emulator(tls=tls)
        env = _environment() | emulated_target(emulator).environment()

        untrusted = _run_node(env)
        assert untrusted.returncode == 1
        assert "unable to verify the first certificate" in untrusted.stderr
        assert emulator.store.tokens == {}
        trusted = _run_node(env | {"NODE_EXTRA_CA_CERTS": str(tls.ca_file)})
        assert trusted.returncode == 0, trusted.stderr
        assert "created, read, renamed and deleted one" in trusted.stdout
