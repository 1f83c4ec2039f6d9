"""The certification's pytest plugin: options, fixtures, the requirement marker, requirement outcomes,
scrubbed failure reports, the certificate and the exit code.

pytest loads it through the ``pytest11`` entry point ``credly_contract``. It stays inert (no hooks
act, no files are written) until a run asks for it: ``--credly-target`` (or ``CREDLY_TARGET``), or
the certification and scenario suites, whose conftests activate it. Once active, one
:class:`Certification` object registered on the pytest config holds the run's state, and
`credly-contract certify` reads its results after ``pytest.main`` returns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from credly_contract import catalogue, fixtures
from credly_contract.catalogue import Requirement
from credly_contract.checks import CheckFailed, PrerequisiteFailed
from credly_contract.checks.oauth import token_response_not_cacheable
from credly_contract.checks.observations import undocumented_behaviour
from credly_contract.checks.security import no_server_error, unauthorized_carries_bearer_challenge
from credly_contract.config import ConfigError, Target, TargetUnreachable
from credly_contract.engine.settings import (
    RunSettings,
    add_pytest_options,
    from_pytest,
    requested_target,
)
from credly_contract.engine.targets import live_target
from credly_contract.fixtures import CERTIFICATION_KEY
from credly_contract.http_client import Exchange, Limits, ReadOnlyViolation
from credly_contract.interrupts import Interrupts
from credly_contract.profiles import PROFILES
from credly_contract.report.allure_labels import label_test, report_failures
from credly_contract.request_plan import CLEANUP, SETUP
from credly_contract.results import NOT_RUN, Results
from credly_contract.scrub import scrub
from credly_contract.session import CertificationRun
from credly_contract.targets import emulated_target
from credly_contract.verdict import ErrorKind, ExitCode, RunError, Verdict

PLUGIN_NAME = "credly-certification"
FAILURES_KEY = pytest.StashKey[list[CheckFailed]]()
# Where an xdist controller hands its workers the run's settings (RunSettings.facts()).
SETTINGS_INPUT = "credly_settings"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(
        "credly", "credly-contract certification (inert without --credly-target)"
    )
    add_pytest_options(group)  # the one table of run options (engine/settings.py)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(*ids): the requirement ids a test proves")
    if requested_target(config.option):
        activate(config)


def activate(config: pytest.Config, *, scoped: bool = False) -> Certification:
    """Make this pytest run a certification (once): the suites' conftests call it; so does
    ``--credly-target``. ``scoped``: the run proves only the requirements its tests are tagged with."""
    plugin = config.stash.get(CERTIFICATION_KEY, None)
    if plugin is None:
        # `credly-contract` hands its own object in through pytest.main(plugins=[...]).
        given = [p for p in config.pluginmanager.get_plugins() if isinstance(p, Certification)]
        plugin = given[0] if given else Certification()
        plugin.configure(config)
        if not config.pluginmanager.is_registered(plugin):
            config.pluginmanager.register(plugin, PLUGIN_NAME)
        # The fixtures exist only in a certification run: other pytest runs never see their names.
        if not config.pluginmanager.is_registered(fixtures):
            config.pluginmanager.register(fixtures, "credly-fixtures")
        config.stash[CERTIFICATION_KEY] = plugin
    plugin.scoped = plugin.scoped or scoped
    return plugin


class Certification:
    """One certification run's state, registered on the pytest config as a plugin (the way pytest's
    junitxml plugin is): its results, the run, the test being run, and the certificate written."""

    def __init__(
        self,
        settings: RunSettings | None = None,
        *,
        target: Target | None = None,
        driven_by_cli: bool = False,
    ) -> None:
        # `credly-contract certify` hands in the settings it built (and the live target it proved);
        # under plain pytest they are built from the --credly-* options in configure().
        self.settings = settings
        self.given_target = target
        self.driven_by_cli = driven_by_cli
        self.scoped = False
        self.config: pytest.Config | None = None
        self.results = Results()
        self.run: CertificationRun | None = None
        self.current: pytest.Item | None = None
        self.interrupts = Interrupts()
        self.cleanup_note: str | None = None
        self.reports_dir: Path | None = None
        self.certificate: dict[str, Any] | None = None
        self.worker_facts: dict[str, Any] | None = None
        self._teardown_of = "session teardown"
        self._late_failures: dict[str, list[CheckFailed]] = {}
        # What teardowns found, as recorded: an xdist worker hands it to the controller.
        self._recorded_late: dict[str, list[dict[str, Any]]] = {}
        # Who pays for the requests sent now: a test (and its requirements) or a bucket.
        self._charged: tuple[str, list[str]] = (SETUP, [])

    # -- set-up ------------------------------------------------------------------------------------

    def configure(self, config: pytest.Config) -> None:
        self.config = config
        facts = getattr(config, "workerinput", {}).get(SETTINGS_INPUT)
        try:
            if facts is not None:  # an xdist worker: the controller's settings, already built
                self.settings = RunSettings.from_facts(facts)
            elif self.settings is None:
                self.settings = from_pytest(config.option)
            requirements = catalogue.with_extra(self.settings.requirements)
        except (ConfigError, ValueError) as error:
            raise pytest.UsageError(f"credly-contract: {error}") from None
        self.results = Results(requirements)
        self.reports_dir = self.settings.run_folder
        if not hasattr(config, "workerinput"):
            self.interrupts.install()

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist controller: every worker certifies with this run's settings (and run id)."""
        assert self.settings is not None
        node.workerinput[SETTINGS_INPUT] = self.settings.facts()

    def requirement(self, requirement_id: str) -> Requirement:
        try:
            return self.results.requirements[requirement_id]
        except KeyError:
            raise pytest.UsageError(
                f"requirement {requirement_id} is in no catalogue: use one of credly-contract's ids "
                "or declare your own in a file passed with --credly-requirements"
            ) from None

    def requirement_ids(self, item: pytest.Item) -> list[str]:
        ids = [rid for marker in item.iter_markers("requirement") for rid in marker.args]
        for rid in ids:
            self.requirement(rid)
        return list(dict.fromkeys(ids))

    def start_run(self) -> CertificationRun:
        """The run's target (and emulator), client and ledger, with its configuration proven."""
        try:
            run = self._build_run()
        except ConfigError as error:
            self.fail(RunError(ErrorKind.CONFIGURATION, scrub(str(error))))
        self.run = run
        run.client.on_exchange = self.passive_checks
        try:
            run.preflight()
        except ConfigError as error:
            self.shutdown(run)
            self.fail(RunError(ErrorKind.CONFIGURATION, scrub(str(error))))
        except TargetUnreachable as error:
            self.shutdown(run)
            self.fail(RunError(ErrorKind.UNREACHABLE, scrub(str(error))))
        except KeyboardInterrupt:
            self.shutdown(run)
            raise
        return run

    def fail(self, error: RunError) -> Any:
        """End the run for a reason that leaves nothing to judge."""
        self.results.fail_run(error)
        pytest.exit(f"credly-contract: {error}", returncode=int(error.exit_code))

    def _build_run(self) -> CertificationRun:
        assert self.settings is not None and self.config is not None
        settings = self.settings
        profile = PROFILES[settings.profile_name]
        emulator = None
        if settings.target == "emulated":
            from credly_contract.emulator import EmulatorServer

            emulator = EmulatorServer(
                faults=settings.fault,
                seed_applications=settings.seed_applications,
                organization_id=settings.target_settings.get("organization_id"),
                latency_ms=settings.latency,
            ).start()
            target = emulated_target(emulator)
        elif settings.target == "live":
            target = self.given_target or live_target(settings)
        else:
            from credly_contract.cassettes.target_file import replay_target

            target = replay_target(settings.cassettes_dir)[0]
        limits = Limits(
            timeout=settings.timeout,
            budget=settings.request_budget,
            min_interval=settings.min_interval,
        ).shared_by(_workers_of_this_run(self.config))
        return CertificationRun(
            target, profile, settings.run_identity, settings.run_folder, limits, emulator
        )

    # -- teardown ----------------------------------------------------------------------------------

    def shutdown(self, run: CertificationRun) -> None:
        """Delete what the run created (a second Ctrl-C skips it) and note what was left."""
        results, interrupts = self.results, self.interrupts
        self.charge_requests_to(CLEANUP)
        created = len(run.ledger.outstanding())
        skipped = interrupts.skip_cleanup
        if interrupts.interrupted and not skipped:
            self.say(
                f"{interrupts.describe()}: deleting the {created} application(s) this run "
                "created (press Ctrl-C again to skip)"
                if created
                else f"{interrupts.describe()}: nothing this run created is left to delete"
            )
        left: list[dict[str, Any]] = []
        if not skipped:
            try:
                with interrupts.cleanup():
                    left = run.close()
            except KeyboardInterrupt:
                skipped = True
        if skipped:
            run.client.close()
            left = run.ledger.outstanding()
        results.requests_sent = run.client.requests_sent
        results.count_checks(run.tally.counts())
        self.charge_requests_to(CLEANUP)
        self._observe_client(run)
        if left:
            why = "cleanup skipped (second Ctrl-C)" if skipped else "cleanup could not delete all"
            ids = ", ".join(str(entry["application_id"]) for entry in left)
            message = (
                f"{why}: {len(left)} application(s) this run created are left in organization "
                f"{run.target.organization_id}: ids {ids}; they are recorded in {run.ledger.path}; "
                f"run `credly-contract sweep --run {run.run_id}` to delete them"
            )
            self.cleanup_note = message
            results.observe({"kind": "cleanup", "detail": message, "items": left})
        elif created:
            self.cleanup_note = f"cleanup: deleted the {created} application(s) still in the ledger"
        if run.emulator is not None:
            run.emulator.stop()

    def say(self, line: str) -> None:
        terminal = self.config.pluginmanager.get_plugin("terminalreporter") if self.config else None
        if terminal is not None:
            terminal.write_line(f"credly-contract: {line}")

    def _observe_client(self, run: CertificationRun) -> None:
        """What the client absorbed without failing a requirement: throttling, gateway errors and
        connections closed under idempotent requests."""
        client = run.client
        if client.throttled:
            self.results.observe(
                {
                    "kind": "throttled",
                    "count": client.throttled,
                    "detail": f"the target answered 429 {client.throttled} time(s); the client "
                    "waited for Retry-After and retried (not a contract failure)",
                }
            )
        if client.gateway_errors:
            self.results.observe(
                {
                    "kind": "gateway_errors",
                    "count": client.gateway_errors,
                    "detail": f"the target answered 502/503/504 {client.gateway_errors} time(s); "
                    "the client retried",
                }
            )
        if client.dropped_connections:
            self.results.observe(
                {
                    "kind": "dropped_connections",
                    "count": client.dropped_connections,
                    "detail": f"a connection closed under an idempotent request "
                    f"{client.dropped_connections} time(s) before an answer came; the client sent "
                    "it again on a new connection (RFC 9112 §9.3.1)",
                }
            )

    # -- findings ----------------------------------------------------------------------------------

    def charge_requests_to(self, who: str, requirement_ids: list[str] | None = None) -> None:
        """Charge the requests sent so far to whoever was paying, and from now on to ``who``."""
        if self.run is not None:
            self.results.spent.charge(self.run.client.requests_sent, *self._charged)
        self._charged = (who, requirement_ids or [])

    def passive_checks(self, exchange: Exchange) -> None:
        """Rules every response must keep, checked on every exchange of every test (and of
        fixtures' set-up and teardown)."""
        run = self.run
        if run is not None:
            self.results.spent.charge(run.client.requests_sent, *self._charged)
        checks: list[Callable[[Exchange], None]] = [no_server_error]
        if run is not None and exchange.url.startswith(run.target.token_url):
            checks.append(token_response_not_cacheable)
        elif exchange.status == 401:
            checks.append(unauthorized_carries_bearer_challenge)
        for check in checks:
            try:
                check(exchange)
            except CheckFailed as failure:
                self.soft_fail(failure)
        if run is not None:
            for observation in undocumented_behaviour(exchange, run.target.token_url):
                self.results.observe(observation)

    def soft_fail(self, failure: CheckFailed) -> None:
        """Record a failure without stopping anything: against the running test, or, outside a
        test's set-up and call (fixture teardown, cleanup), against that teardown."""
        if self.current is not None:
            self.current.stash.setdefault(FAILURES_KEY, []).append(failure)
        else:
            self._late_failures.setdefault(self._teardown_of, []).append(failure)

    def _record_late_failures(self) -> None:
        for where, failures in self._late_failures.items():
            payload = [{"requirement": f.requirement, **f.evidence()} for f in failures]
            self.results.record(where, [], payload, completed=False)
            self._recorded_late.setdefault(where, []).extend(payload)
            for failure in failures:
                self.say(f"{where}: {failure.describe().splitlines()[0]}")
        self._late_failures.clear()

    # -- pytest hooks ------------------------------------------------------------------------------

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        ids = [rid for item in items for rid in self.requirement_ids(item)]
        if self.scoped:
            self.results.limit_scope(ids)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.current = item
        self.charge_requests_to(item.nodeid, self.requirement_ids(item))
        label_test([self.requirement(rid) for rid in self.requirement_ids(item)])

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        # The test's report is built: what teardown finds belongs to the teardown, not the test.
        self.current = None
        self._teardown_of = f"{item.nodeid} (teardown)"

    def pytest_runtest_logfinish(self) -> None:
        self.current = None
        self.charge_requests_to(SETUP)
        self._record_late_failures()
        self._teardown_of = "session teardown"

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> Generator[None, Any, Any]:
        """A session fixture's requests (tokens, scratch applications) serve every test: they are
        charged to setup, not to the test that happened to need them first."""
        if fixturedef.scope != "session":
            return (yield)
        paying = self._charged
        self.charge_requests_to(SETUP)
        try:
            return (yield)
        finally:
            self.charge_requests_to(*paying)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, Any]:
        report = yield
        if call.when == "call" or (call.when == "setup" and not report.passed):
            self._judge(item, call, report)
        report.longrepr = _scrubbed_longrepr(report)
        return report

    def _judge(self, item: pytest.Item, call: pytest.CallInfo[None], report: Any) -> None:
        ids = self.requirement_ids(item)
        recorded: list[CheckFailed] = item.stash.get(FAILURES_KEY, [])
        failures = list(recorded)
        completed = not report.skipped
        if call.excinfo is not None and not call.excinfo.errisinstance(pytest.skip.Exception):
            found, others = _failures_from(call.excinfo.value)
            failures += found
            if any(isinstance(failure, PrerequisiteFailed) for failure in found):
                # Its setup met a contract break: the test never got to prove its own rules.
                completed = False
            for other in others:
                completed = False
                if isinstance(other, KeyboardInterrupt):
                    # Ctrl-C or SIGTERM that a library turned into a failed test (Hypothesis may):
                    # nothing about the target was learnt; end the run the way the signal meant.
                    self._note_interrupt()
                    item.session.shouldstop = f"credly-contract: {self.results.error}"
                    report.outcome = "skipped"
                    report.longrepr = (str(item.path), 0, f"Skipped: {self.results.error}")
                elif isinstance(other, ReadOnlyViolation):
                    # Refused before it was sent: under the read-only profile this test cannot run.
                    report.outcome = "skipped"
                    report.longrepr = (str(item.path), 0, f"Skipped: {other}")
                elif isinstance(other, TargetUnreachable | ConfigError):
                    kind = (
                        ErrorKind.CONFIGURATION
                        if isinstance(other, ConfigError)
                        else ErrorKind.UNREACHABLE
                    )
                    self.results.fail_run(RunError(kind, scrub(str(other))))
                    # The rest would fail the same way: end the run, keep its teardown.
                    item.session.shouldstop = f"credly-contract: {self.results.error}"
                else:
                    failures += [
                        CheckFailed(rid, f"the test stopped on {type(other).__name__}: {other}")
                        for rid in ids
                    ]
        skipped = _skip_reason(report)
        if failures:
            # A requirement broke, whatever else happened to the test (even a skip after it).
            text = "\n\n".join(f.describe() for f in failures)
            if skipped:
                report.longrepr = f"{text}\n\n(then the test skipped: {skipped})"
            elif completed:
                report.longrepr = text
            report.outcome = "failed"
        evidence = [{"requirement": f.requirement, **f.evidence()} for f in failures]
        payload = {
            "requirements": ids,
            "completed": completed and not report.skipped,
            "skipped": skipped,
            "failures": evidence,
        }
        report.user_properties.append(("credly", json.dumps(payload)))
        report.user_properties.append(("requirements", " ".join(ids)))
        report_failures(item.config, evidence)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.results.count(report.when, report.outcome)
        for name, value in report.user_properties:
            if name == "credly":
                payload = json.loads(str(value))
                self.results.record(
                    report.nodeid + _param(report),
                    payload["requirements"],
                    payload["failures"],
                    payload["completed"],
                    payload.get("skipped"),
                )

    def _note_interrupt(self) -> None:
        received = self.interrupts.received
        self.results.fail_run(
            RunError(
                ErrorKind.INTERRUPTED,
                f"interrupted by {self.interrupts.describe() or 'Ctrl-C'}: the run did not finish",
                received[0] if received else None,
            )
        )

    @pytest.hookimpl(trylast=True)
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        if self.interrupts.interrupted:
            self._note_interrupt()
        # One line instead of pytest's "!!! KeyboardInterrupt !!!" block (a separator, the crash
        # location and a --full-trace hint), which reads as a crash. `credly-contract` prints that
        # line itself, with the verdict; under plain pytest the terminal reporter prints it.
        terminal: Any = (
            self.config.pluginmanager.get_plugin("terminalreporter") if self.config else None
        )
        if self.interrupts.interrupted and hasattr(terminal, "_report_keyboardinterrupt"):
            line = f"credly-contract: {self.results.error}"

            def one_line() -> None:
                if not self.driven_by_cli:
                    terminal.write_line(line)

            terminal._report_keyboardinterrupt = one_line

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.interrupts.restore()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        results = self.results
        write = terminalreporter.write_line
        if any(o.tests for o in results.outcomes.values()):
            terminalreporter.section("credly-contract requirements")
            out_of_scope = 0
            for rid, outcome in results.outcomes.items():
                why = ""
                if outcome.status == NOT_RUN:
                    in_scope = results.in_scope(rid)
                    out_of_scope += not in_scope
                    why = (
                        "  (outside this run's scope)"
                        if not in_scope
                        else f"  ({results.not_run_reason(rid)})"
                    )
                write(f"{outcome.status.upper():8} {rid}{why}")
            if out_of_scope:
                write(
                    f"credly-contract: {out_of_scope} requirement(s) are NOT_RUN because they are "
                    "outside this run's scope: the cassette scenarios do not prove them; "
                    "`credly-contract certify` does"
                )
            elif unproven := sum(o.status == NOT_RUN for o in results.outcomes.values()):
                write(
                    f"credly-contract: {unproven} requirement(s) are NOT_RUN: no test of this run "
                    "proved them (not collected, skipped by the profile, or stopped); a "
                    "certification needs every one"
                )
        if self.cleanup_note:
            write(f"credly-contract: {self.cleanup_note}")
        if self.certificate is not None and not self.driven_by_cli:
            from credly_contract.report import verdict_lines

            for line in verdict_lines(self.certificate, self.reports_dir):
                write(line)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: merge a finished worker's run facts into the session's results."""
        raw = getattr(node, "workeroutput", {}).get("credly")
        if not raw:
            return
        facts = json.loads(raw)
        results = self.results
        results.requests_sent += facts["requests_sent"]
        results.count_checks(facts["checks"])
        results.spent.merge(facts["spent"])
        for observation in facts["observations"]:
            results.observe(observation)
        if facts["error"]:
            error = facts["error"]
            results.fail_run(RunError(ErrorKind(error["kind"]), error["detail"]))
        for where, failures in facts["late_failures"].items():
            results.record(where, [], failures, completed=False)
        if facts["target"] is not None:
            earlier = self.worker_facts
            if earlier is None or facts["started_at"] < earlier["started_at"]:
                self.worker_facts = facts

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        config = session.config
        results = self.results
        self._record_late_failures()
        if not any(o.tests for o in results.outcomes.values()) and not results.error:
            return
        if hasattr(config, "workeroutput"):
            # An xdist worker: hand the run's facts to the controller, which writes the artefacts.
            run = self.run
            config.workeroutput["credly"] = json.dumps(
                {
                    "target": run.target.public() if run else None,
                    "started_at": run.started_at if run else None,
                    "requests_sent": results.requests_sent,
                    "checks": results.check_counts,
                    "spent": results.spent.to_facts(),
                    "observations": results.observations,
                    "error": results.error.public() if results.error else None,
                    "late_failures": self._recorded_late,
                }
            )
            return
        from credly_contract.report import write_run_artifacts

        assert self.reports_dir is not None
        self.certificate = write_run_artifacts(
            self.reports_dir,
            results,
            self.run or _WorkerRun.from_facts(self.worker_facts),
            profile=self.settings.profile_name if self.settings else "",
            waivers_file=self.settings.waivers if self.settings else None,
        )
        session.exitstatus = self.exit_code()

    def exit_code(self) -> ExitCode:
        """The run's exit code: the error that stopped it, or its verdict's."""
        if self.results.error is not None:
            return self.results.error.exit_code
        if self.certificate is not None:
            return Verdict(self.certificate["verdict"]).exit_code
        return ExitCode.CONFIG


def _workers_of_this_run(config: pytest.Config) -> int:
    """How many xdist workers certify side by side in this run (1 without xdist). xdist tells its
    own workers; an environment variable would also reach a run started from inside another
    pytest-xdist session (a CI job, the project's tests) and split this run's budget for nothing."""
    workerinput = getattr(config, "workerinput", None)
    return int(workerinput["workercount"]) if workerinput else 1


def _scrubbed_longrepr(report: Any) -> Any:
    """The report's failure text with credentials scrubbed, in the form pytest's reporters expect:
    a skip keeps its (path, line, message) tuple (junitxml asserts it), anything else that is not
    a failure keeps its object."""
    longrepr = report.longrepr
    if longrepr is None:
        return None
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        path, line, message = longrepr
        return (path, line, scrub(str(message)))
    if report.failed:
        return scrub(str(longrepr))
    return longrepr


def _skip_reason(report: Any) -> str | None:
    """Why a skipped test did not run, as pytest words it ("Skipped: " left out)."""
    if not report.skipped or not isinstance(report.longrepr, tuple):
        return None
    reason: str = scrub(str(report.longrepr[2]))
    return reason.removeprefix("Skipped: ")


def _failures_from(exc: BaseException) -> tuple[list[CheckFailed], list[BaseException]]:
    """Split an exception (or group) into requirement failures and anything else."""
    from credly_contract.st import failure_to_check

    if isinstance(exc, CheckFailed):
        return [exc], []
    mapped = failure_to_check(exc)
    if mapped is not None:
        return [mapped], []
    if isinstance(exc, BaseExceptionGroup):
        checks: list[CheckFailed] = []
        others: list[BaseException] = []
        for inner in exc.exceptions:
            found, other = _failures_from(inner)
            checks += found
            others += other
        return checks, others
    return [], [exc]


def _param(report: pytest.TestReport) -> str:
    # schemathesis items share one nodeid; their location names the operation.
    name = report.location[2] if report.location else ""
    return name[name.index("[") :] if "[" in name and "[" not in report.nodeid else ""


class _WorkerRun:
    """What the xdist controller knows of the run its workers held: public target facts only."""

    def __init__(self, facts: dict[str, Any]) -> None:
        self.started_at = facts["started_at"]
        self.target = _PublicTarget(facts["target"])

    @classmethod
    def from_facts(cls, facts: dict[str, Any] | None) -> _WorkerRun | None:
        return None if facts is None else cls(facts)


class _PublicTarget:
    def __init__(self, public: dict[str, Any]) -> None:
        self._public = public

    def public(self) -> dict[str, Any]:
        return self._public
