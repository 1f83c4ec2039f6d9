"""The client judges' numbers, on recorded exchanges made up to the millisecond: each mainstream
client's documented retry timing passes, and a clear hot loop, endless retries and a Retry-After that
was not waited out fail. Every number in the client catalogue names its source or its reason."""

from __future__ import annotations

import itertools
import re

import pytest

from credly_contract.catalogue import client_requirements
from credly_contract.checks import CheckFailed
from credly_contract.client_cert.exchanges import API, Observed
from credly_contract.client_cert.injections import Injector
from credly_contract.client_cert.judges import JUDGES, ClientRun
from credly_contract.client_cert.runner import Outcome

PAGE = "/v1/organizations/org/oauth_applications"


def _call(index: int, started: float, status: int, injection: str | None = None) -> Observed:
    headers = {"retry-after": "1"} if status == 429 else {}
    return Observed(
        index=index,
        kind=API,
        method="GET",
        path=PAGE,
        query="page=2",
        headers={"authorization": "Bearer a-token-of-this-run"},
        body=b"",
        started=started,
        finished=started + 0.002,
        status=status,
        response_headers=headers,
        injection=injection,
    )


def _retries(waits: list[float], failing: int, first_status: int = 503) -> ClientRun:
    """A call answered ``first_status``, then retries after each wait in ``waits`` (measured from
    the previous answer); the first ``failing`` retries are answered 503 too, the rest 200."""
    calls = [_call(0, 0.0, first_status, "unavailable")]
    for number, wait in enumerate(waits, start=1):
        status = 503 if number <= failing else 200
        calls.append(_call(number, calls[-1].finished + wait, status))
    outcome = Outcome(returncode=0, timed_out=False, stdout=b"", stderr=b"", seconds=1.0)
    return ClientRun(calls, Injector.for_profile("quick", set()), outcome, "secret", [], "/v1")


@pytest.mark.parametrize(
    ("waits", "failing"),
    [
        ([0.0, 1.0], 1),  # urllib3 Retry(backoff_factor=0.5): at once, then 0.5 * 2**1
        ([0.0, 0.2, 0.4], 2),  # urllib3 Retry(backoff_factor=0.1): 0, 0.2, 0.4
        ([0.101, 0.2], 1),  # stamina's defaults, the least jitter: 0.1 s, then 0.2 s and more
        ([0.001, 0.003, 1.2], 2),  # tenacity wait_random_exponential, two near-zero draws
        ([1.0], 0),  # tenacity wait_exponential(): 1 s
        ([0.2, 0.4, 0.8], 2),  # a plain loop with short, growing waits
    ],
    ids=["urllib3-0.5", "urllib3-0.1", "stamina", "tenacity-random", "tenacity-exp", "plain-loop"],
)
def test_mainstream_retry_timings_are_no_hot_loop(waits, failing):
    JUDGES["CLIENT-BACKOFF"](_retries(waits, failing))


def test_six_retries_of_one_request_within_a_second_are_a_hot_loop():
    with pytest.raises(CheckFailed, match=r"CLIENT-BACKOFF: 6 retries of one request within"):
        JUDGES["CLIENT-BACKOFF"](_retries([0.01] * 6, failing=6))


def test_retries_that_do_not_stop_fail_even_when_spaced():
    with pytest.raises(CheckFailed, match=r"retried more than 10 times in a row"):
        JUDGES["CLIENT-BACKOFF"](_retries([0.3] * 11, failing=11))


@pytest.mark.parametrize(
    ("wait", "holds"),
    [(1.0, True), (0.96, True), (0.9, False), (0.0, False)],
    ids=["waited", "within-the-slack", "too-early", "at-once"],
)
def test_retry_after_is_waited_out_within_the_written_slack(wait, holds):
    run = _retries([wait], failing=0, first_status=429)
    run.injector.fired["rate_limited"] = run.exchanges[0]

    if holds:
        JUDGES["CLIENT-RETRY-AFTER"](run)
    else:
        with pytest.raises(CheckFailed, match=r"after a 429 with Retry-After: 1"):
            JUDGES["CLIENT-RETRY-AFTER"](run)


def test_every_number_in_a_client_requirement_has_a_source_or_a_written_reason():
    for requirement in client_requirements().values():
        cited = requirement.source + " " + requirement.threshold
        for number in re.findall(r"\d+(?:\.\d+)?", requirement.title):
            assert number in cited, f"{requirement.id}: {number} has no source nor reason"


def _outage(gaps: list[float], pace: float, transport: float) -> list[int]:
    """The statuses an Injector gives API calls: two ordinary calls ``pace`` apart, then the
    injected 503 at call #4 and retries each ``gap`` after the previous answer; every call takes
    ``transport`` seconds."""
    injector = Injector.for_profile("quick", {"--no-429", "--no-expire-token"})
    statuses, clock = [], 0.0
    for number, gap in enumerate([0.0, pace, pace, pace, *gaps]):
        call = _call(number, clock + gap, 200)
        injected = injector.next_api_call(call)
        call.status = 503 if injected is not None else 200
        call.finished = call.started + transport
        statuses.append(call.status)
        clock = call.finished
    return statuses[3:]


@pytest.mark.parametrize("transport", [0.002, 0.15], ids=["fast", "tls-on-a-loaded-machine"])
def test_the_outage_goes_on_while_the_client_retries_without_waiting(transport):
    assert _outage([transport] * 20, pace=transport, transport=transport) == [503] * 12 + [200] * 9


@pytest.mark.parametrize("transport", [0.002, 0.15], ids=["fast", "tls-on-a-loaded-machine"])
def test_a_client_that_waits_is_through_the_outage_after_a_few_retries(transport):
    # urllib3 Retry(total=5, backoff_factor=0.1): at once, then 0.2 s, 0.4 s, 0.8 s (plus its
    # transport): through before its retries run out
    waits = [transport + wait for wait in (0.0, 0.2, 0.4, 0.8)]
    assert _outage(waits, pace=transport, transport=transport)[-1] == 200


HTTPX_TRACEBACK = b"""Traceback (most recent call last):
  File "sync.py", line 9, in <module>
httpx.HTTPStatusError: Client error '429 Too Many Requests' for url 'https://127.0.0.1/v1/x'
For more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/429
"""


def test_a_working_integration_that_stops_at_an_injection_is_not_resilient_but_not_broken():
    run = _retries([], failing=0, first_status=429)
    run.exchanges[0].injection = "rate_limited"
    run.injector.fired["rate_limited"] = run.exchanges[0]
    run.clean_outcome = run.outcome  # it finished with nothing injected
    run.outcome = Outcome(
        returncode=1, timed_out=False, stdout=b"", stderr=HTTPX_TRACEBACK, seconds=1
    )

    JUDGES["CLIENT-COMPLETES"](run)
    with pytest.raises(
        CheckFailed,
        match=r"CLIENT-RESILIENT: the integration exited 1 \(httpx.HTTPStatusError: Client error "
        r"'429 Too Many Requests'.*\), with the injections; the last before it stopped: rate_limited",
    ):
        JUDGES["CLIENT-RESILIENT"](run)


def test_injections_never_stack_on_one_request():
    """After an injected answer the client gets a clean one before the next condition: a careful
    client retrying one call (tenacity's stop_after_attempt(6)) once met an outage, a revoked token
    and an expired one in a row on the same request and ran out of attempts."""
    injector = Injector.for_profile("standard", set())
    injected, clock = [], 0.0
    for number in range(40):  # one request retried after every failure, 0.6 s apart: no hammering
        call = _call(number, clock, 200)
        fired = injector.next_api_call(call)
        injected.append(fired.name if fired is not None else None)
        clock = call.finished + 0.6
    names = [name for name in injected if name is not None]
    assert len(set(names)) == len(injector.planned)  # every planned injection fired
    for before, after in itertools.pairwise(injected):
        assert before is None or after is None or before == after == "unavailable", injected
