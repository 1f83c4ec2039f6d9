"""The certification's fixtures (the run, its target, client, tokens and applications), registered
by the plugin only when a run is a certification, so other pytest runs never see their names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import pytest

from credly_contract.checks import CheckFailed, Expect, tallying
from credly_contract.config import Target
from credly_contract.engine.run import Engine, RunStopped
from credly_contract.http_client import ApiClient
from credly_contract.profiles import Profile
from credly_contract.session import CertificationRun, Resources, Tokens
from credly_contract.verdict import RunError

ENGINE_KEY = pytest.StashKey[Engine]()


def engine_of(config: pytest.Config) -> Engine:
    """The run's engine; a clear usage error outside a certification run."""
    engine = config.stash.get(ENGINE_KEY, None)
    if engine is None:
        raise pytest.UsageError(
            "the credly-contract fixtures need a certification run: pass --credly-target "
            "emulated|live|replay (or set CREDLY_TARGET)"
        )
    return engine


def stop_run(engine: Engine, error: RunError) -> NoReturn:
    """End the run for a reason that leaves nothing to judge, with the error's exit code."""
    engine.stop(error)
    pytest.exit(f"credly-contract: {error}", returncode=int(error.exit_code))


@pytest.fixture(scope="session")
def certification(pytestconfig: pytest.Config) -> Iterator[CertificationRun]:
    """The run: target, client, tokens, the applications it creates (deleted at the end)."""
    engine = engine_of(pytestconfig)
    try:
        run = engine.start_run()
    except RunStopped as stopped:
        stop_run(engine, stopped.error)
    with tallying(run.tally):  # every check judgement of the run, cleanup's included, is counted
        yield run
        engine.shutdown(run)


@pytest.fixture
def expect(pytestconfig: pytest.Config) -> Expect:
    """Run a check softly: a failure is recorded and the test goes on to its other checks."""
    engine = engine_of(pytestconfig)

    def run(check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return check(*args, **kwargs)
        except CheckFailed as failure:
            engine.soft_fail(failure)
            return None

    return run


@pytest.fixture(scope="session")
def target(certification: CertificationRun) -> Target:
    return certification.target


@pytest.fixture(scope="session")
def api(certification: CertificationRun) -> ApiClient:
    return certification.client


@pytest.fixture(scope="session")
def tokens(certification: CertificationRun) -> Tokens:
    return certification.tokens


@pytest.fixture(scope="session")
def apps(certification: CertificationRun) -> Resources:
    return certification.resources


@pytest.fixture(scope="session")
def profile(certification: CertificationRun) -> Profile:
    return certification.profile


@pytest.fixture
def mutating(certification: CertificationRun) -> None:
    """Skip a test that creates or changes data under a read-only profile."""
    if certification.profile.read_only:
        pytest.skip("the read-only profile creates nothing")
