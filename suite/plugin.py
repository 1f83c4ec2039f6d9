"""The certification's pytest plugin: options, fixtures, the requirement marker, requirement outcomes,
scrubbed failure reports, and the exit code. `credly-contract certify` is a thin layer over it, and
`pytest suite/certification --credly-target ...` runs the same thing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from credly_contract import catalogue
from credly_contract.checks import CheckFailed
from credly_contract.checks.oauth import token_response_not_cacheable
from credly_contract.checks.observations import undocumented_behaviour
from credly_contract.checks.security import no_server_error, unauthorized_carries_bearer_challenge
from credly_contract.client import Exchange, Limits, ReadOnlyViolation
from credly_contract.config import (
    ENVIRONMENT,
    ConfigError,
    Target,
    TargetUnreachable,
    guard_production,
    live_target,
)
from credly_contract.interrupts import Interrupts
from credly_contract.profiles import PROFILES
from credly_contract.report.allure_labels import label_test, report_failures
from credly_contract.results import Results
from credly_contract.scrub import scrub
from credly_contract.session import CertificationRun, new_run_id

EXIT_CERTIFIED, EXIT_NOT_COMPLIANT, EXIT_CONFIG, EXIT_UNREACHABLE = 0, 1, 2, 3
RESULTS_KEY = pytest.StashKey[Results]()
RUN_KEY = pytest.StashKey[CertificationRun]()
FAILURES_KEY = pytest.StashKey[list[CheckFailed]]()
INTERRUPTS_KEY = pytest.StashKey[Interrupts]()
CLEANUP_KEY = pytest.StashKey[str]()
_current_item: pytest.Item | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("credly", "credly-contract certification")
    group.addoption("--credly-target", default="emulated", choices=["emulated", "live", "replay"])
    group.addoption("--credly-profile", default="standard", choices=sorted(PROFILES))
    group.addoption("--credly-reports-dir", default=None, help="where the run's artefacts go")
    group.addoption("--credly-run-id", default=None)
    group.addoption("--credly-fault", action="append", default=[], help="emulator fault (emulated)")
    group.addoption("--credly-seed-applications", type=int, default=0)
    group.addoption("--credly-cassettes-dir", default=None)
    group.addoption("--credly-waivers", default=None)
    group.addoption("--credly-allow-production", action="store_true")
    group.addoption("--credly-max-requests", type=int, default=None)
    group.addoption("--credly-rate-limit", type=float, default=None, help="requests per second")
    group.addoption("--credly-timeout", type=float, default=10.0)
    for key in ENVIRONMENT:
        group.addoption("--credly-" + key.replace("_", "-"), dest="credly_" + key, default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(*ids): the requirement ids a test proves")
    config.stash[RESULTS_KEY] = Results()
    if not config.getoption("credly_run_id"):
        config.option.credly_run_id = new_run_id()


def reports_dir_for(chosen: str | None, run_id: str | None = None) -> Path:
    """The run's artefact folder: the chosen one, or reports/<UTC timestamp>-<run id>/."""
    if chosen:
        return Path(chosen)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return Path("reports") / f"{stamp}-{run_id or new_run_id()}"


def reports_dir(config: pytest.Config) -> Path:
    path = reports_dir_for(
        config.getoption("credly_reports_dir"), config.getoption("credly_run_id")
    )
    config.option.credly_reports_dir = str(path)
    return path


def exit_code(pytest_code: int) -> int:
    """The CLI's exit code for a finished pytest session."""
    results = LAST_RESULTS[0] if LAST_RESULTS else None
    if results is not None and results.error:
        if results.error.startswith("interrupted"):
            return 143 if "SIGTERM" in results.error else 130
        return EXIT_CONFIG if results.error.startswith("configuration") else EXIT_UNREACHABLE
    if pytest_code in (EXIT_CERTIFIED, EXIT_NOT_COMPLIANT, EXIT_UNREACHABLE):
        return pytest_code
    if pytest_code == pytest.ExitCode.INTERRUPTED:
        return 130
    return EXIT_CONFIG


def _build_run(config: pytest.Config) -> CertificationRun:
    option = config.getoption
    profile = PROFILES[option("credly_profile")]
    kind = option("credly_target")
    emulator = None
    if kind == "emulated":
        from credly_contract.emulator import EmulatorServer

        emulator = EmulatorServer(
            faults=option("credly_fault"),
            seed_applications=option("credly_seed_applications"),
            organization_id=option("credly_organization_id"),
        ).start()
        target = Target(
            kind="emulated",
            api_base_url=emulator.api_base_url,
            token_url=emulator.token_url,
            organization_id=emulator.bootstrap.organization_id,
            client_id=emulator.bootstrap.client_id,
            client_secret=emulator.bootstrap.client_secret,
            foreign_organization_id=emulator.foreign.organization_id,
        )
    elif kind == "live":
        overrides = {k: option("credly_" + k) for k in ENVIRONMENT}
        target = live_target(overrides)
        guard_production(target, option("credly_allow_production"), profile.read_only)
    else:
        from credly_contract.cassettes import replay_target

        # The recorded run id is part of the recorded request bodies (application names).
        target, config.option.credly_run_id = replay_target(option("credly_cassettes_dir"))
    rate = option("credly_rate_limit")
    budget = option("credly_max_requests")
    if budget is None and kind == "live":
        budget = profile.live_budget
    limits = Limits(
        timeout=option("credly_timeout"),
        budget=budget,
        min_interval=1.0 / rate if rate else (0.05 if kind == "live" else 0.0),
    )
    work_dir = reports_dir(config)
    return CertificationRun(target, profile, option("credly_run_id"), work_dir, limits, emulator)


@pytest.fixture(scope="session")
def certification(pytestconfig: pytest.Config) -> Iterator[CertificationRun]:
    results = pytestconfig.stash[RESULTS_KEY]
    try:
        run = _build_run(pytestconfig)
    except ConfigError as error:
        results.error = f"configuration: {error}"
        pytest.exit(f"credly-contract: {error}", returncode=EXIT_CONFIG)
    pytestconfig.stash[RUN_KEY] = run
    run.client.on_exchange = _passive_checks
    try:
        run.preflight()
    except ConfigError as error:
        _shutdown(pytestconfig, run)
        results.error = f"configuration: {error}"
        pytest.exit(f"credly-contract: {error}", returncode=EXIT_CONFIG)
    except TargetUnreachable as error:
        _shutdown(pytestconfig, run)
        results.error = f"unreachable: {error}"
        pytest.exit(f"credly-contract: target unreachable: {error}", returncode=EXIT_UNREACHABLE)
    except KeyboardInterrupt:
        _shutdown(pytestconfig, run)
        raise
    yield run
    _shutdown(pytestconfig, run)


def _shutdown(config: pytest.Config, run: CertificationRun) -> None:
    results = config.stash[RESULTS_KEY]
    interrupts = config.stash.get(INTERRUPTS_KEY, None) or Interrupts()
    created = len(run.ledger.outstanding())
    skipped = interrupts.skip_cleanup
    if interrupts.interrupted and created and not skipped:
        _say(
            config,
            f"{interrupts.describe()}: deleting the {created} application(s) this run "
            "created (press Ctrl-C again to skip)",
        )
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
    _observe_client(results, run)
    if left:
        why = "cleanup skipped (second Ctrl-C)" if skipped else "cleanup could not delete all"
        ids = ", ".join(str(entry["application_id"]) for entry in left)
        message = (
            f"{why}: {len(left)} application(s) this run created are left in organization "
            f"{run.target.organization_id}: ids {ids}; they are recorded in {run.ledger.path}; "
            f"run `credly-contract sweep --run {run.run_id}` to delete them"
        )
        config.stash[CLEANUP_KEY] = message
        results.observe({"kind": "cleanup", "detail": message, "items": left})
    elif created:
        config.stash[CLEANUP_KEY] = (
            f"cleanup: deleted the {created} application(s) still in the ledger"
        )
    if run.emulator is not None:
        run.emulator.stop()


def _say(config: pytest.Config, line: str) -> None:
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:
        terminal.write_line(f"credly-contract: {line}")


def _observe_client(results: Results, run: CertificationRun) -> None:
    """What the client absorbed without failing a requirement: throttling and gateway errors."""
    client = run.client
    if client.throttled:
        results.observe(
            {
                "kind": "throttled",
                "count": client.throttled,
                "detail": f"the target answered 429 {client.throttled} time(s); the client waited for "
                "Retry-After and retried (not a contract failure)",
            }
        )
    if client.gateway_errors:
        results.observe(
            {
                "kind": "gateway_errors",
                "count": client.gateway_errors,
                "detail": f"the target answered 502/503/504 {client.gateway_errors} time(s); "
                "the client retried",
            }
        )


def _passive_checks(exchange: Exchange) -> None:
    """Rules every response must keep, checked on every exchange of every test."""
    run = _current_item.config.stash.get(RUN_KEY, None) if _current_item else None
    checks: list[Callable[[Exchange], None]] = [no_server_error]
    if run is not None and exchange.url.startswith(run.target.token_url):
        checks.append(token_response_not_cacheable)
    elif exchange.status == 401:
        checks.append(unauthorized_carries_bearer_challenge)
    for check in checks:
        try:
            check(exchange)
        except CheckFailed as failure:
            soft_fail(failure)
    if run is not None and _current_item is not None:
        results = _current_item.config.stash[RESULTS_KEY]
        for observation in undocumented_behaviour(exchange, run.target.token_url):
            results.observe(observation)


def soft_fail(failure: CheckFailed) -> None:
    """Record a failure against the running test without stopping it."""
    if _current_item is not None:
        _current_item.stash.setdefault(FAILURES_KEY, []).append(failure)


@pytest.fixture
def expect() -> Callable[..., Any]:
    """Run a check softly: a failure is recorded and the test goes on to its other checks."""

    def run(check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return check(*args, **kwargs)
        except CheckFailed as failure:
            soft_fail(failure)
            return None

    return run


@pytest.fixture(scope="session")
def target(certification: CertificationRun) -> Target:
    return certification.target


@pytest.fixture(scope="session")
def api(certification: CertificationRun) -> Any:
    return certification.client


@pytest.fixture(scope="session")
def tokens(certification: CertificationRun) -> Any:
    return certification.tokens


@pytest.fixture(scope="session")
def apps(certification: CertificationRun) -> Any:
    return certification.resources


@pytest.fixture(scope="session")
def profile(certification: CertificationRun) -> Any:
    return certification.profile


@pytest.fixture
def mutating(certification: CertificationRun) -> None:
    """Skip a test that creates or changes data under a read-only profile."""
    if certification.profile.read_only:
        pytest.skip("the read-only profile creates nothing")


def requirement_ids(item: pytest.Item) -> list[str]:
    ids: list[str] = []
    for marker in item.iter_markers("requirement"):
        for rid in marker.args:
            catalogue.get(rid)
            ids.append(rid)
    return list(dict.fromkeys(ids))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    global _current_item
    _current_item = item
    label_test(requirement_ids(item))


def _failures_from(exc: BaseException) -> tuple[list[CheckFailed], list[BaseException]]:
    """Split an exception (or group) into requirement failures and anything else."""
    from credly_contract.st import failure_to_check

    if isinstance(exc, CheckFailed):
        return [exc], []
    if isinstance(exc, BaseExceptionGroup):
        checks: list[CheckFailed] = []
        others: list[BaseException] = []
        for inner in exc.exceptions:
            mapped = failure_to_check(inner)
            if mapped is not None:
                checks.append(mapped)
                continue
            c, o = _failures_from(inner)
            checks += c
            others += o
        return checks, others
    mapped = failure_to_check(exc)
    if mapped is not None:
        return [mapped], []
    return [], [exc]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    results = item.config.stash[RESULTS_KEY]
    ids = requirement_ids(item)
    if call.when == "call" or (call.when == "setup" and report.failed):
        failures = list(item.stash.get(FAILURES_KEY, []))
        completed = True
        if call.excinfo is not None and not call.excinfo.errisinstance(pytest.skip.Exception):
            found, others = _failures_from(call.excinfo.value)
            failures += found
            for other in others:
                if isinstance(other, ReadOnlyViolation):
                    # Refused before it was sent: under the read-only profile this test cannot run.
                    report.outcome = "skipped"
                    report.longrepr = (str(item.path), 0, f"Skipped: {other}")
                    completed = False
                elif isinstance(other, TargetUnreachable | ConfigError):
                    kind = "configuration" if isinstance(other, ConfigError) else "unreachable"
                    results.error = results.error or f"{kind}: {other}"
                    # The rest would fail the same way: end the run, keep its teardown.
                    item.session.shouldstop = f"credly-contract: {results.error}"
                    completed = False
                else:
                    completed = False
                    for rid in ids:
                        failures.append(
                            CheckFailed(rid, f"the test stopped on {type(other).__name__}: {other}")
                        )
        if failures and report.passed:
            report.outcome = "failed"
        if failures and completed:
            report.longrepr = "\n\n".join(f.describe() for f in failures)
        if report.skipped:
            completed = False
        payload = {
            "requirements": ids,
            "completed": completed and not report.skipped,
            "failures": [{"requirement": f.requirement, **f.evidence()} for f in failures],
        }
        report.user_properties.append(("credly", json.dumps(payload)))
        report.user_properties.append(("requirements", " ".join(ids)))
        report_failures(item.config, payload["failures"])
    if report.longrepr is not None and not isinstance(report.longrepr, tuple):
        report.longrepr = scrub(str(report.longrepr))
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _session_results() is not None:
        _session_results().count(report.when, report.outcome)
    for name, value in report.user_properties:
        if name == "credly":
            payload = json.loads(value)
            results = _session_results()
            if results is None:
                return
            results.record(
                report.nodeid + _param(report),
                payload["requirements"],
                payload["failures"],
                payload["completed"],
            )


def _param(report: pytest.TestReport) -> str:
    # schemathesis items share one nodeid; their location names the operation.
    name = report.location[2] if report.location else ""
    return name[name.index("[") :] if "[" in name and "[" not in report.nodeid else ""


_CONFIG: list[pytest.Config] = []
LAST_RESULTS: list[Results] = []


def _session_results() -> Results | None:
    return _CONFIG[0].stash[RESULTS_KEY] if _CONFIG else None


def pytest_sessionstart(session: pytest.Session) -> None:
    _CONFIG[:] = [session.config]
    interrupts = Interrupts()
    interrupts.install()
    session.config.stash[INTERRUPTS_KEY] = interrupts


def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    config = _CONFIG[0] if _CONFIG else None
    interrupts = config.stash.get(INTERRUPTS_KEY, None) if config else None
    if interrupts is not None and interrupts.interrupted:
        results = config.stash[RESULTS_KEY]
        results.error = f"interrupted by {interrupts.describe()}: the run did not finish"


def pytest_unconfigure(config: pytest.Config) -> None:
    interrupts = config.stash.get(INTERRUPTS_KEY, None)
    if interrupts is not None:
        interrupts.restore()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    results = config.stash[RESULTS_KEY]
    write = terminalreporter.write_line
    if any(o.tests for o in results.outcomes.values()):
        terminalreporter.section("credly-contract requirements")
        for rid, outcome in results.outcomes.items():
            write(f"{outcome.status.upper():8} {rid}")
    cleanup = config.stash.get(CLEANUP_KEY, None)
    if cleanup:
        write(f"credly-contract: {cleanup}")


class WorkerRun:
    """What the xdist controller knows of the run its workers held: public target facts only."""

    def __init__(self, facts: dict[str, Any]) -> None:
        self.started_at = facts["started_at"]
        self.target = _PublicTarget(facts["target"])


class _PublicTarget:
    def __init__(self, public: dict[str, Any]) -> None:
        self._public = public

    def public(self) -> dict[str, Any]:
        return self._public


WORKER_RUN_KEY = pytest.StashKey[WorkerRun]()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: merge a finished worker's run facts into the session's results."""
    raw = getattr(node, "workeroutput", {}).get("credly")
    if not raw:
        return
    facts = json.loads(raw)
    results = node.config.stash[RESULTS_KEY]
    results.requests_sent += facts["requests_sent"]
    for observation in facts["observations"]:
        results.observe(observation)
    results.error = results.error or facts["error"]
    if facts["target"] is not None:
        earlier = node.config.stash.get(WORKER_RUN_KEY, None)
        if earlier is None or facts["started_at"] < earlier.started_at:
            node.config.stash[WORKER_RUN_KEY] = WorkerRun(facts)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    results = config.stash[RESULTS_KEY]
    LAST_RESULTS[:] = [results]
    if not any(o.tests for o in results.outcomes.values()) and not results.error:
        return
    from credly_contract.report import write_run_artifacts

    run = config.stash.get(RUN_KEY, None) or config.stash.get(WORKER_RUN_KEY, None)
    if hasattr(config, "workeroutput"):
        # An xdist worker: hand the run's facts to the controller, which writes the artefacts.
        config.workeroutput["credly"] = json.dumps(
            {
                "target": run.target.public() if run else None,
                "started_at": run.started_at if run else None,
                "requests_sent": results.requests_sent,
                "observations": results.observations,
                "error": results.error,
            }
        )
    verdict = write_run_artifacts(config, results, run)
    if results.error and results.error.startswith("configuration"):
        session.exitstatus = EXIT_CONFIG
    elif results.error and results.error.startswith("interrupted"):
        session.exitstatus = pytest.ExitCode.INTERRUPTED
    elif verdict == "error":
        session.exitstatus = EXIT_UNREACHABLE
    elif verdict == "certified":
        session.exitstatus = EXIT_CERTIFIED
    else:
        session.exitstatus = EXIT_NOT_COMPLIANT
