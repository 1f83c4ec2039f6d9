"""No pass without evidence: a requirement passes only when its checks judged at least one exchange
of the kind it is about. Against python's plain static file server (which never issues a token and
never answers 401) the passive checks judge nothing, so OAUTH-NO-STORE and BEARER-CHALLENGE cannot
pass there, whatever the tests that carry them say; against the emulator they do."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from credly_contract.catalogue import Requirement
from credly_contract.checks import CheckFailed, Tally, tallying
from credly_contract.checks.oauth import token_response_not_cacheable
from credly_contract.checks.security import no_server_error, unauthorized_carries_bearer_challenge
from credly_contract.config import Target
from credly_contract.http_client import ApiClient, Exchange
from credly_contract.results import NOT_RUN, PASSED, Results
from credly_contract.targets import emulated_target

PASSIVE = ("OAUTH-NO-STORE", "BEARER-CHALLENGE")


class QuietStaticFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def static_server(tmp_path: Path) -> Iterator[str]:
    site = tmp_path / "site"
    (site / "v1").mkdir(parents=True)
    (site / "index.html").write_text("<html>a static site</html>", encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietStaticFiles, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def passive_checks(exchange: Exchange, token_url: str) -> None:
    """What the plugin runs on every exchange (plugin.Certification.passive_checks); a failure is
    recorded there, and only the tally matters here."""
    checks = [no_server_error]
    if exchange.url.startswith(token_url):
        checks.append(token_response_not_cacheable)
    elif exchange.status == 401:
        checks.append(unauthorized_carries_bearer_challenge)
    for run_check in checks:
        with contextlib.suppress(CheckFailed):
            run_check(exchange)


def judge_traffic(target: Target) -> Results:
    """Token requests and unauthenticated API requests through the passive checks; tests that
    carry the passive requirements all "passed"."""
    tally = Tally()
    client = ApiClient(target)
    with tallying(tally):
        for scope in ("oauth_applications", "issued_badges"):
            passive_checks(client.request_token(scope), target.token_url)
        for _ in range(3):
            passive_checks(client.get(target.applications_url()), target.token_url)
            # A check called by a test on whatever came back judges only what is of its kind.
            with contextlib.suppress(CheckFailed):
                unauthorized_carries_bearer_challenge(client.get(target.api_base_url + "/"))
    client.close()
    results = Results()
    results.count_checks(tally.counts())
    for rid in PASSIVE:
        results.record(f"test_{rid}", [rid], [], completed=True)
    return results


def test_a_static_file_server_proves_neither_no_store_nor_the_bearer_challenge(static_server):
    target = Target(
        kind="live",
        api_base_url=static_server + "/v1",
        token_url=static_server + "/",
        organization_id="org",
        client_id="client",
        client_secret="evidence-test-secret-000000000",
    )
    results = judge_traffic(target)
    for rid in PASSIVE:
        assert results.outcomes[rid].status == PASSED  # what its tests said
        assert results.unjudged(rid)
        assert results.status_of(rid) == NOT_RUN, rid
        assert "judged no exchange" in results.not_run_reason(rid)
    assert results.verdict().value == "not_certified"


def test_the_emulator_gives_both_requirements_their_evidence(emulator):
    results = judge_traffic(emulated_target(emulator))
    for rid in PASSIVE:
        assert not results.unjudged(rid)
        assert results.status_of(rid) == PASSED, rid


def test_a_requirement_proven_by_its_tests_alone_needs_no_check_judgement():
    team = Requirement(id="TEAM-X", level="MUST", feature="team", title="t", source="s")
    results = Results({"TEAM-X": team})
    results.record("test_team_x", ["TEAM-X"], [], completed=True)
    assert results.status_of("TEAM-X") == PASSED
