"""The contract and the emulator agree under the stock fuzzer: schemathesis's own CLI, with every check
it has, run against a real emulator on 127.0.0.1 with openapi/credly.yaml, finds no failure.

The only exclusion is the token operation: the contract gives it its own server (www.credly.com),
which ``--url`` overrides with the API's base URL, so the stock run would post to a path that does not
exist there. The suite's own token tests cover it."""

from __future__ import annotations

import subprocess
import sys

import httpx

from credly_contract import spec
from credly_contract.emulator import EmulatorServer

# The `st` console script, run by this interpreter (whatever folder the venv's scripts are in).
STOCK_CLI = "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())"
TOKEN_OPERATION = "createAccessToken"
# About 20-30 s on 2 shared cores; the run used 100.
MAX_EXAMPLES = 50


def test_stock_schemathesis_with_all_checks_finds_no_disagreement(
    emulator: EmulatorServer, tmp_path
):
    bootstrap = emulator.bootstrap
    issued = httpx.post(
        emulator.token_url,
        data={
            "client_id": bootstrap.client_id,
            "client_secret": bootstrap.client_secret,
            "grant_type": "client_credentials",
            "scope": " ".join(spec.api_scopes()),
        },
        timeout=10,
    )
    token = issued.json()["access_token"]
    # Generated calls address the bootstrap's organization, or they would all be refused (403).
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f'[parameters]\n"path.organization_id" = "{bootstrap.organization_id}"\n', encoding="utf-8"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            STOCK_CLI,
            "--config-file",
            str(config),
            "run",
            str(spec.SPEC_PATH),
            "--url",
            emulator.api_base_url,
            "-H",
            f"Authorization: Bearer {token}",
            "--checks",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--exclude-operation-id",
            TOKEN_OPERATION,
            "--report-dir",
            str(tmp_path / "report"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-8000:]
    assert "6 selected / 7 total" in output, output[-3000:]
    assert "Authentication failed" not in output, output[-3000:]
