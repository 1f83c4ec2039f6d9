"""Issue 3, "Done when": a second, independently written implementation of the documented API (stdlib
http.server, other choices where the docs are silent; see tests/second_implementation.py) is
certified by `credly-contract certify --target live` with no false failure.

One certification runs per module; the test asserts exit 0 and every requirement passed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.cli_process import run_cli
from tests.live_runs import FAST
from tests.second_implementation import SCOPES, SecondImplementation


@dataclass
class Certification:
    returncode: int
    stdout: str
    stderr: str
    certificate: dict[str, Any] | None

    def not_passed(self) -> dict[str, dict[str, Any]]:
        assert self.certificate is not None, self.output()
        return {r["id"]: r for r in self.certificate["requirements"] if r["status"] != "passed"}

    def output(self) -> str:
        return f"exit {self.returncode}\n{self.stdout[-3000:]}\n{self.stderr[-3000:]}"


def describe(requirements: dict[str, dict[str, Any]]) -> str:
    lines = []
    for rid, requirement in requirements.items():
        lines.append(f"{rid} ({requirement['status']}):")
        for evidence in requirement.get("evidence") or []:
            lines.append(
                f"  [{evidence.get('test')} / {evidence.get('check')}] {evidence.get('message')}"
            )
    return "\n".join(lines)


@pytest.fixture(scope="module")
def second() -> Iterator[SecondImplementation]:
    with SecondImplementation() as server:
        yield server


@pytest.fixture(scope="module")
def certification(second: SecondImplementation, tmp_path_factory) -> Certification:
    reports = tmp_path_factory.mktemp("second-implementation") / "reports"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CREDLY_")}
    environment.update(second.environment())
    # Unpaced (FAST): what is judged here is the verdict, not the pace (tests/test_latency.py).
    done = run_cli(
        "certify", "--target", "live", "--profile", "quick", "--reports-dir", str(reports), *FAST,
        env=environment, timeout=900,
    )  # fmt: skip
    certificate_file = reports / "certificate.json"
    certificate = json.loads(certificate_file.read_text()) if certificate_file.exists() else None
    return Certification(done.returncode, done.stdout, done.stderr, certificate)


def test_the_second_implementation_answers_as_documented(second):
    """A smoke test of the server itself, so a certification failure is not a dead server."""
    response = httpx.post(
        second.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": second.primary.client_id,
            "client_secret": second.primary.client_secret,
            "scope": " ".join(SCOPES),
        },
        timeout=5,
    )
    assert response.status_code == 200, response.text
    assert "no-store" in response.headers["cache-control"]
    token = response.json()["access_token"]
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    url = f"{second.api_base_url}/organizations/{second.primary.organization_id}/oauth_applications"
    listing = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert listing.status_code == 200
    assert listing.json()["data"][0]["id"] >= 1000
    unauthorized = httpx.get(url, timeout=5)
    assert unauthorized.status_code == 401
    assert unauthorized.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.slow
def test_the_second_implementation_is_certified(certification: Certification):
    failed = certification.not_passed()
    assert not failed, f"{certification.output()}\nnot passed:\n{describe(failed)}"
    assert certification.returncode == 0, certification.output()
    assert certification.certificate["verdict"] == "certified"
