"""A lost answer doesn't cost the run: a test whose judged exchange was lost on the way (the server
may have acted, but its answer never came) is run again, up to RERUNS times, and nothing of the
attempt that lost it is judged. The client repeats what may be repeated and raises AnswerLost for the
rest (http_client); a create is reconciled by its name first (session.Resources.create).

Registered by the certification plugin with an explicit call (``register``); it drives pytest's
own test phases once per attempt (``_attempt``) and reports only the last one, as pytest-rerunfailures does.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from _pytest.reports import TestReport
from _pytest.runner import call_and_report

from credly_contract.http_client import AnswerLost
from credly_contract.session import CertificationRun

# Times a test is run again after an attempt that lost an answer it judges. Losses are independent,
# so each rerun multiplies the chance of losing again: a test of 5 non-repeatable requests (the
# refused bad bodies) loses one in 23% of attempts at a 5% loss; two reruns make all three attempts
# lost 1.2% of the time, one rerun 5%. Past the bound the run ends with exit 3 (no answer to judge).
RERUNS = 2
LOST_KEY = pytest.StashKey[int]()  # the attempts of a test that lost an answer


def lost(error: BaseException | None, depth: int = 0) -> bool:
    """Whether ``error`` is, or holds (a group of Hypothesis's, a cause), an AnswerLost."""
    if error is None or depth > 5:
        return False
    if isinstance(error, AnswerLost):
        return True
    inner = [*getattr(error, "exceptions", ()), error.__cause__]
    return any(lost(nested, depth + 1) for nested in inner)


class LostAnswerReruns:
    """Runs each test until an attempt loses no answer it judges, at most RERUNS + 1 times."""

    def __init__(self, run: Callable[[], CertificationRun | None]) -> None:
        self.run = run  # the run, once the certification has started it

    def _forgive(self) -> None:
        """The loss is settled (the test ends, or runs again): requests may go out again."""
        if (run := self.run()) is not None:
            run.client.lost = None

    def will_rerun(self, item: pytest.Item, when: str, error: BaseException | None) -> bool:
        """Whether the attempt whose ``when`` phase raised ``error`` lost an answer and the test
        runs again; the certification then judges nothing of it. A teardown is never the reason:
        the attempt is over, and what it lost there is a teardown error."""
        if error is None or when == "teardown" or item.stash.get(LOST_KEY, 0) >= RERUNS:
            return False
        run = self.run()
        # The client remembers a loss until the test ends: a test that lost an answer and then
        # failed for another reason failed because of it. Hypothesis's state machine, stopped
        # short by AnswerLost, raises its own FlakyStrategyDefinition, which holds no AnswerLost.
        if not (lost(error) or (run is not None and run.client.lost is not None)):
            return False
        item.stash[LOST_KEY] = item.stash.get(LOST_KEY, 0) + 1
        return True

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool:
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        item.stash[LOST_KEY] = 0
        while True:
            attempts = item.stash[LOST_KEY]
            reports = _attempt(item, nextitem, attempts)
            if item.stash[LOST_KEY] == attempts:  # nothing lost: this attempt is the test's
                break
            if (run := self.run()) is not None:
                run.client.lost_answers.reruns += 1
            _forget_failed_fixtures(item)  # _attempt gives the next attempt a new request
        for report in reports:
            item.ihook.pytest_runtest_logreport(report=report)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._forgive()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self._forgive()  # fixtures' teardown deletes what the test created


def _attempt(item: pytest.Item, nextitem: pytest.Item | None, attempts: int) -> list[TestReport]:
    """One attempt of a test, as pytest's ``runtestprotocol`` runs it, except where the attempt
    lost an answer and the test runs again: then only the test's own fixtures are torn down. The
    session's run and a module's shared applications stay for the next attempt; torn down after
    the last test of the session, they would end the run and start a second one."""
    if hasattr(item, "_request") and not item._request:
        item._initrequest()  # type: ignore[attr-defined]  # a new request for the next attempt
    reports = [call_and_report(item, "setup", log=False)]
    if reports[0].passed:
        reports.append(call_and_report(item, "call", log=False))
    again = item.stash[LOST_KEY] != attempts
    stopping = item.session.shouldfail or item.session.shouldstop
    # teardown_exact keeps what the given node needs: the test's parent keeps all but the test's.
    keep = None if stopping else item.parent if again else nextitem
    reports.append(call_and_report(item, "teardown", log=False, nextitem=keep))
    if hasattr(item, "_request"):  # as runtestprotocol: the attempt's request and funcargs go
        item._request = False
        item.funcargs = None  # type: ignore[attr-defined]
    return reports


def _forget_failed_fixtures(item: pytest.Item) -> None:
    """Drop the cached failure of a fixture whose set-up lost an answer (a module's shared
    application), so the next attempt sets it up again instead of failing with the cached error."""
    info = getattr(item, "_fixtureinfo", None)
    for definitions in getattr(info, "name2fixturedefs", {}).values():
        for definition in definitions:
            cached = definition.cached_result
            if cached is not None and cached[2] is not None:
                definition.cached_result = None


def register(config: pytest.Config, run: Callable[[], CertificationRun | None]) -> LostAnswerReruns:
    reruns = LostAnswerReruns(run)
    config.pluginmanager.register(reruns, "credly-lost-answers")
    return reruns
