"""Makes `pytest suite/credly_contract/scenarios` a certification run scoped to the requirements its scenarios are
tagged with (never a full certification), and wraps each scenario in its cassette.

With ``--credly-target replay`` each scenario replays ``<cassettes dir>/<scenario>.yaml`` (no
network); with an emulated or live target and ``--credly-cassettes-dir`` it records them afresh;
with neither it simply runs the scenarios against the target.
"""

import contextlib
from collections.abc import Callable, Iterator

import pytest

from credly_contract.cassettes.target_file import PREFLIGHT
from credly_contract.cassettes.vcr_session import NOT_IN_CASSETTE, Cassettes, explain_mismatch
from credly_contract.checks import CheckFailed
from credly_contract.checks.applications import application_objects_match_schema
from credly_contract.config import Target
from credly_contract.engine.run import Engine
from credly_contract.facts import ObservationKind
from credly_contract.fixtures import engine_of, stop_run
from credly_contract.http_client import Exchange
from credly_contract.plugin import activate
from credly_contract.session import CertificationRun
from credly_contract.verdict import ErrorKind, RunError


def pytest_configure(config: pytest.Config) -> None:
    activate(config, scoped=True)


def cassette_name(item: pytest.Item) -> str:
    return item.name.removeprefix("test_")


@pytest.fixture(scope="session", autouse=True)
def cassettes(request: pytest.FixtureRequest) -> Iterator[Cassettes]:
    """The session's cassettes; the run's opening requests (preflight) go to preflight.yaml."""
    config = request.config
    engine = engine_of(config)

    def target() -> (
        Target | None
    ):  # the run (and so the target) exists only once `certification` is built
        return engine.run.target if engine.run is not None else None

    settings = engine.settings
    session = Cassettes.for_options(settings.target, settings.cassettes_dir, target)
    try:
        with session.use(PREFLIGHT):
            run: CertificationRun = request.getfixturevalue("certification")
    except NOT_IN_CASSETTE as error:
        stop_run(engine, RunError(ErrorKind.UNREACHABLE, str(explain_mismatch(error))))
    session.started(run)
    run.client.on_exchange = _with_contract_checks(engine, run.target.applications_url())
    engine.results.observe({
        "kind": ObservationKind.SCOPE,
        "detail": "the cassette scenarios prove the requirements they are tagged with; the others "
                  "are not run by this suite (run `credly-contract certify` for all of them)",
    })  # fmt: skip
    yield session


def _with_contract_checks(engine: Engine, applications_url: str) -> Callable[[Exchange], None]:
    """The engine's passive checks, plus the contract's application schema on every 2xx answer."""

    def on_exchange(exchange: Exchange) -> None:
        engine.passive_checks(exchange)
        if exchange.url.startswith(applications_url) and 200 <= exchange.status < 300:
            try:
                application_objects_match_schema(exchange)
            except CheckFailed as failure:
                engine.soft_fail(failure)

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
