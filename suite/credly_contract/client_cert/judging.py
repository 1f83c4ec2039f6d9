"""certify-client's judging as a pytest run: one test per CLIENT-* requirement (the suite in
``client_cert/certification/``) on the exchanges the integration's run left, fed to the same
:class:`~credly_contract.engine.run.Engine` as a server certification, and so to the same JUnit,
Allure results, certificate and exit code."""

from __future__ import annotations

from typing import NoReturn

import pytest

from credly_contract.checks import CheckFailed
from credly_contract.client_cert.judges import JUDGES, ClientRun, NotJudged
from credly_contract.engine.run import Engine
from credly_contract.facts import ObservationKind


class Judging:
    """The pytest side of judging one client run (a plugin ``certify-client`` hands to pytest): a
    test judges its requirement here. A requirement the run gave nothing to judge is skipped
    (not_run); one whose injection a flag switched off leaves the run's scope."""

    def __init__(self, run: ClientRun, engine: Engine) -> None:
        self.run = run
        self.engine = engine
        self.switched_off: dict[str, str] = {}  # requirement -> the flag that switched it off

    def judge(self, requirement_id: str) -> None:
        """Run the requirement's judge: it returns (held), raises its requirement failure, or is
        skipped with the reason nothing proved it."""
        judge = JUDGES[requirement_id]
        try:
            judge(self.run)
        except CheckFailed:
            raise  # the integration broke the requirement
        except NotJudged as reason:
            if reason.switched_off_by:
                self.switched_off[requirement_id] = reason.switched_off_by
            self.not_judged(requirement_id, str(reason))
        except Exception as error:  # the judge broke: nothing is known of the integration
            self.not_judged(
                requirement_id,
                f"the judge {judge.__name__} stopped on {type(error).__name__}: {error} (a "
                "credly-contract bug, not the integration's: please report it)",
            )

    def not_judged(self, requirement_id: str, reason: str) -> NoReturn:
        """Leave the requirement not_run, with the reason as an observation too."""
        self.engine.results.observe(
            {"kind": ObservationKind.NOT_JUDGED, "detail": f"{requirement_id}: {reason}"}
        )
        pytest.skip(reason)

    @pytest.hookimpl(tryfirst=True)  # before the certification plugin writes the certificate
    def pytest_sessionfinish(self) -> None:
        results = self.engine.results
        for note in self.run.notes:
            results.observe({"kind": ObservationKind.PARTLY_JUDGED, "detail": note})
        if self.switched_off:
            flags = sorted(set(self.switched_off.values()))
            results.limit_scope(
                [rid for rid in results.requirements if rid not in self.switched_off],
                why="switched off by " + ", ".join(flags),
                full_run=f"run certify-client without {' or '.join(flags)} to judge them",
            )


def judging_of(config: pytest.Config) -> Judging:
    """The client run being judged; a clear usage error when these tests run without one."""
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, Judging):
            return plugin
    raise pytest.UsageError(
        "the client certification judges the run of an integration: run it with "
        "`credly-contract certify-client -- COMMAND`"
    )
