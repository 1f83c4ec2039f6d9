"""Loads the certification plugin for `pytest suite/scenarios`; wraps each scenario in its cassette.

With ``--credly-target replay`` each scenario replays ``<cassettes dir>/<scenario>.yaml`` (no
network); with an emulated or live target and ``--credly-cassettes-dir`` it records them afresh;
with neither it simply runs the scenarios against the target.
"""

import contextlib
from collections.abc import Iterator

import pytest

from credly_contract import plugin
from credly_contract.cassettes import NOT_IN_CASSETTE, PREFLIGHT, Cassettes, explain_mismatch
from credly_contract.checks import CheckFailed
from credly_contract.checks.applications import application_objects_match_schema
from credly_contract.client import Exchange
from credly_contract.plugin import *  # noqa: F403
from credly_contract.session import CertificationRun


def cassette_name(item: pytest.Item) -> str:
    return item.name.removeprefix("test_")


@pytest.fixture(scope="session", autouse=True)
def cassettes(request: pytest.FixtureRequest) -> Iterator[Cassettes]:
    """The session's cassettes; the run's opening requests (preflight) go to preflight.yaml."""
    config = request.config

    def target():  # the run (and so the target) exists only once `certification` is built
        run = config.stash.get(plugin.RUN_KEY, None)
        return run.target if run is not None else None

    session = Cassettes.for_options(
        config.getoption("credly_target"), config.getoption("credly_cassettes_dir"), target
    )
    try:
        with session.use(PREFLIGHT):
            run: CertificationRun = request.getfixturevalue("certification")
    except NOT_IN_CASSETTE as error:
        failure = explain_mismatch(error)
        config.stash[plugin.RESULTS_KEY].error = f"unreachable: {failure}"
        pytest.exit(f"credly-contract: {failure}", returncode=plugin.EXIT_UNREACHABLE)
    session.started(run)
    run.client.on_exchange = _with_contract_checks(
        run.client.on_exchange, run.target.applications_url()
    )
    config.stash[plugin.RESULTS_KEY].observe({
        "kind": "scope",
        "detail": "the cassette scenarios prove the requirements they are tagged with; the others "
                  "are not run by this suite (run `credly-contract certify` for all of them)",
    })  # fmt: skip
    yield session


def _with_contract_checks(passive, applications_url: str):
    """The plugin's passive checks, plus the contract's application schema on every 2xx answer."""

    def on_exchange(exchange: Exchange) -> None:
        if passive is not None:
            passive(exchange)
        if exchange.url.startswith(applications_url) and 200 <= exchange.status < 300:
            try:
                application_objects_match_schema(exchange)
            except CheckFailed as failure:
                plugin.soft_fail(failure)

    return on_exchange


@pytest.fixture(autouse=True)
def scenario_cassette(
    request: pytest.FixtureRequest, cassettes: Cassettes, certification: CertificationRun
) -> Iterator[None]:
    """One cassette per scenario, holding every request it makes (its tokens and cleanup too)."""
    certification.tokens.forget()
    with cassettes.use(cassette_name(request.node)):
        yield
        # A replayed scenario that stopped early may try deletes its recording does not hold.
        with contextlib.suppress(*NOT_IN_CASSETTE):
            certification.resources.cleanup()
    if cassettes.mode == "replay":
        cassettes.leftovers_forgotten(certification.ledger)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    try:
        return (yield)
    except NOT_IN_CASSETTE as error:
        raise explain_mismatch(error) from None
