"""`certify-client` on integrations written from the documentation of the libraries partners use
(tests/integrations/with_*.py): each careful integration certifies, and each naive one (no retry
handling) fails exactly what it breaks, with the same verdict in each of 5 certifications while 4
certifications run at a time. Jittered waits (stamina, tenacity's wait_random_exponential) included:
a verdict must not depend on timing jitter or machine load (docs/client.md, "Timing").
"""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.cli_process import run_cli

INTEGRATIONS = Path(__file__).resolve().parent / "integrations"
RUNS = 5  # certifications of each integration
PARALLEL = 4  # certifications at a time
CAREFUL = {
    "requests_retry": ["with_requests_retry.py"],
    "requests_oauthlib": ["with_requests_oauthlib.py"],
    "authlib": ["with_authlib.py"],
    "stamina": ["with_stamina.py"],
    "tenacity_random_exponential": ["with_tenacity.py"],
    "tenacity_exponential": ["with_tenacity.py", "--wait", "exponential"],
}
NAIVE = {f"{name}_naive": [script, "--naive"] for name, (script, *_) in CAREFUL.items()}
NAIVE.pop("tenacity_exponential_naive")  # the same script as tenacity_random_exponential_naive
# A naive integration does its job (every MUST holds, CLIENT-COMPLETES too) but stops at the first
# 429; the reactions it never reached are not run, with the reason.
NAIVE_FAILS = {"CLIENT-RESILIENT"}
NAIVE_NOT_RUN = {"CLIENT-RETRY-AFTER", "CLIENT-BACKOFF", "CLIENT-RENEWAL"}


def _environment() -> dict[str, str]:
    # Nothing that loosens a library: requests-oauthlib certifies over HTTPS as it ships, never
    # with OAUTHLIB_INSECURE_TRANSPORT.
    unwanted = ("CREDLY_", "OAUTHLIB_")
    return {k: v for k, v in os.environ.items() if not k.startswith(unwanted)}


def _certify(job: tuple[str, int, Path]) -> tuple[str, int, tuple[str, ...], tuple[str, ...]]:
    name, number, root = job
    script, *options = (CAREFUL | NAIVE)[name]
    reports = root / f"{name}-{number}"
    done = run_cli(
        "certify-client", "--profile", "standard", "--reports-dir", str(reports),
        "--", sys.executable, str(INTEGRATIONS / script), *options,
        env=_environment(), timeout=300,
    )  # fmt: skip
    certificate = json.loads((reports / "certificate.json").read_text(encoding="utf-8"))
    statuses = {r["id"]: r["status"] for r in certificate["requirements"]}
    failed = tuple(sorted(rid for rid, status in statuses.items() if status == "failed"))
    not_run = tuple(sorted(rid for rid, status in statuses.items() if status == "not_run"))
    return name, done.returncode, failed, not_run


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple]]:
    """Every integration certified RUNS times, PARALLEL certifications at a time, interleaved."""
    root = tmp_path_factory.mktemp("libraries")
    jobs = [(name, number, root) for number in range(RUNS) for name in CAREFUL | NAIVE]
    found: dict[str, list[tuple]] = {name: [] for name in CAREFUL | NAIVE}
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        for name, code, failed, not_run in pool.map(_certify, jobs):
            found[name].append((code, failed, not_run))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name", CAREFUL)
def test_a_careful_integration_on_a_partners_library_certifies_every_time(name, verdicts):
    assert verdicts[name] == [(0, (), ())] * RUNS


@pytest.mark.slow
@pytest.mark.parametrize("name", NAIVE)
def test_a_naive_integration_fails_exactly_what_it_breaks_every_time(name, verdicts):
    expected = (1, tuple(sorted(NAIVE_FAILS)), tuple(sorted(NAIVE_NOT_RUN)))
    assert verdicts[name] == [expected] * RUNS
