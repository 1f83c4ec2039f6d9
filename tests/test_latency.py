"""Latency-aware runs: the emulator can answer late like a distant server (`emulate --latency MS`,
`certify --latency MS`), and clients that run side by side share one pace and one budget."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from credly_contract.emulator import EmulatorServer
from credly_contract.http_client import Limits
from tests.cli_process import run_cli
from tests.live_runs import live_env, run_certify


def _timed_token_request(server: EmulatorServer) -> float:
    started = time.monotonic()
    response = httpx.post(
        server.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": server.bootstrap.client_id,
            "client_secret": server.bootstrap.client_secret,
            "scope": "oauth_applications",
        },
    )
    assert response.status_code == 200
    return time.monotonic() - started


# The waits are long next to a loopback request so that a loaded machine (CI runners, a parallel
# suite) cannot flip these tests: a lower bound is exact (the emulator sleeps at least that long), and
# the upper bounds leave seconds for scheduling, not milliseconds.
LATENCY = 1.5


def test_the_emulator_answers_each_request_the_given_latency_late():
    with EmulatorServer(latency_ms=int(LATENCY * 1000)) as slow, EmulatorServer() as fast:
        assert _timed_token_request(slow) >= LATENCY
        assert _timed_token_request(fast) < LATENCY


def test_requests_sent_side_by_side_wait_side_by_side():
    """The wait is the network's, not the server's CPU: four requests at once take about one wait."""
    with EmulatorServer(latency_ms=int(LATENCY * 1000)) as slow:
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: _timed_token_request(slow), range(4)))
        # One after another, they would take at least 4 * LATENCY.
        assert time.monotonic() - started < 4 * LATENCY


def test_a_negative_latency_is_refused():
    with pytest.raises(ValueError, match="latency"):
        EmulatorServer(latency_ms=-1)


@pytest.mark.parametrize(
    "arguments",
    [
        ["emulate", "--latency", "-5", "--port", "0"],
        ["certify", "--latency", "-5"],
        ["certify", "--target", "replay", "--latency", "100"],
    ],
    ids=["emulate-negative", "certify-negative", "certify-not-emulated"],
)
def test_a_wrong_latency_gets_one_line_naming_the_option(arguments):
    done = run_cli(*arguments, timeout=60)
    assert done.returncode == 2
    assert "--latency" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_pace_and_budget_are_totals_across_clients_side_by_side():
    """Four xdist workers at a 20-per-second pace send 5 per second each, never 20 each."""
    limits = Limits(min_interval=0.05, budget=601)
    shared = limits.shared_by(4)
    assert shared.min_interval == pytest.approx(0.2)
    assert 4 / shared.min_interval == pytest.approx(1 / limits.min_interval)
    assert shared.budget == 150  # rounded down: together never more than the budget
    assert limits.shared_by(1) is limits


@pytest.mark.slow
def test_a_run_started_inside_another_xdist_session_keeps_its_whole_budget(make_emulator, tmp_path):
    """The CI job's (or these tests') own xdist workers are not this run's: at a budget of 600 split
    eight ways, quick (about 190 requests) would stop at 75."""
    emulator = make_emulator()
    env = live_env(emulator, PYTEST_XDIST_WORKER_COUNT="8", PYTEST_XDIST_WORKER="gw7")
    done = run_certify(env, tmp_path, "--max-requests", "600")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr


@pytest.mark.slow
def test_workers_of_one_run_share_its_budget(make_emulator, tmp_path):
    """Two workers with a budget of 150 get 75 each; quick needs about 190 in all, so one stops:
    a setting to raise (exit 2), not an outage to retry."""
    emulator = make_emulator()
    done = run_certify(live_env(emulator), tmp_path, "--workers", "2", "--max-requests", "150")
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr
    assert "request budget of 75 requests (this worker's share" in done.stdout + done.stderr
    assert "raise --max-requests" in done.stderr
