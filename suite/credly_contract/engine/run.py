"""The engine of one certification run, independent of pytest: it opens the run's target, charges
every request to whoever is paying (a test and its requirements, set-up or cleanup), runs the
passive checks on every exchange, turns what a test raised into requirement outcomes, cleans up what
the run created, merges xdist workers' facts, and writes the certificate and the exit code.

The pytest plugin (``credly_contract.plugin``) only turns pytest's events into calls of
:class:`Engine`; a test is named by a string id throughout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import get_args

from credly_contract import catalogue
from credly_contract.catalogue import Requirement
from credly_contract.checks import CheckFailed, PrerequisiteFailed
from credly_contract.checks.oauth import token_response_not_cacheable
from credly_contract.checks.observations import undocumented_behaviour
from credly_contract.checks.security import no_server_error, unauthorized_carries_bearer_challenge
from credly_contract.config import ConfigError, Target, TargetUnreachable
from credly_contract.engine.settings import RunSettings
from credly_contract.engine.targets import open_target
from credly_contract.facts import Counted, Failure, Observation, ObservationKind, RunFacts
from credly_contract.http_client import Exchange, Limits, LostAnswers, ReadOnlyViolation
from credly_contract.interrupts import Interrupts
from credly_contract.profiles import PROFILES
from credly_contract.report.certificate import Certificate
from credly_contract.report.waivers import Waiver, describe, load_waivers, waiving
from credly_contract.request_plan import CLEANUP, SETUP
from credly_contract.results import Results
from credly_contract.scrub import scrub
from credly_contract.session import CertificationRun
from credly_contract.verdict import ErrorKind, ExitCode, RunError, Verdict

SESSION_TEARDOWN = "session teardown"


class UnknownRequirement(ConfigError):
    """A test is tagged with an id that no catalogue of the run declares."""


class RunStopped(Exception):
    """The run ended for a reason that leaves nothing to judge; ``error`` is in the results."""

    def __init__(self, error: RunError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class Subject:
    """A run the engine judges without sending anything itself: certify-client's, whose
    integration has already run. Its catalogue, profile and parsed waivers stand in for the server
    certification's; ``facts`` are what the run met (target, start, requests, an error that
    stopped it); ``certificate`` adds the run's own keys to certificate.json and ``files`` are
    written beside it as JSON (scrubbed; each an artefact report.manifest hashes)."""

    requirements: Mapping[str, Requirement]
    profile: str
    waivers: list[Waiver]
    facts: RunFacts
    certificate: Mapping[str, object] = field(default_factory=dict)
    files: Mapping[str, object] = field(default_factory=dict)


@dataclass
class Judgement:
    """What a test's end means for its requirements: the failures it met, whether it ran to the end
    (and so proved the requirements it did not fail), a reason to report it skipped instead, and
    whether the rest of the run would fail the same way (``stop``)."""

    failures: list[CheckFailed] = field(default_factory=list)
    completed: bool = True
    skip: str | None = None
    stop: bool = False


class Engine:
    """One run: its settings, results, target and client, and what it found outside the tests."""

    def __init__(
        self,
        settings: RunSettings,
        target: Target | None = None,
        *,
        workers: int = 1,
        say: Callable[[str], None] = lambda line: None,
        subject: Subject | None = None,
    ) -> None:
        self.settings = settings
        self.subject = subject
        # credly-contract's catalogue and a team's (--credly-requirements; a ValueError if broken),
        # or the subject's.
        self.results = Results(
            subject.requirements if subject else catalogue.with_extra(settings.requirements)
        )
        self.run: CertificationRun | None = None
        self.interrupts = Interrupts()
        self.cleanup_note: str | None = None
        self.certificate: Certificate | None = None
        self.say = say
        self._given_target = target  # the live target `certify` proved before pytest started
        self._workers = workers
        self._facts_of_run: RunFacts | None = None  # the earliest worker's, under xdist
        self._test_failures: list[CheckFailed] | None = None  # the running test's soft failures
        self._teardown_of = SESSION_TEARDOWN
        self._late_failures: dict[str, list[CheckFailed]] = {}
        self._recorded_late: dict[str, list[Failure]] = {}
        self._charged: tuple[str, list[str]] = (SETUP, [])
        # The waivers in force (RunSettings.build refused any that cannot apply): a test whose only
        # failures they waive is reported skipped, with the waiver (waived_note).
        self.waivers: list[Waiver] = []
        if subject:
            self.waivers = subject.waivers
            self.merge(subject.facts)
        elif settings.waivers:
            self.waivers = load_waivers(settings.waivers, self.results.requirements)

    # -- the run -----------------------------------------------------------------------------------

    def start_run(self) -> CertificationRun:
        """Open the target (and emulator), client and ledger, and prove the configuration; raises
        RunStopped when it is wrong or nothing answers."""
        settings = self.settings
        try:
            target, emulator = open_target(settings, self._given_target)
        except ConfigError as error:
            raise self.stop(run_error(error)) from None
        limits = Limits(
            timeout=settings.timeout,
            budget=settings.request_budget,
            min_interval=settings.min_interval,
        ).shared_by(self._workers)
        run = CertificationRun(
            target,
            PROFILES[settings.profile_name],
            settings.run_identity,
            settings.run_folder,
            limits,
            emulator,
        )
        self.run = run
        run.client.on_exchange = self.passive_checks
        try:
            run.preflight()
        except (ConfigError, TargetUnreachable) as error:
            self.shutdown(run)
            raise self.stop(run_error(error)) from None
        except KeyboardInterrupt:
            self.shutdown(run)
            raise
        return run

    def stop(self, error: RunError) -> RunStopped:
        """End the run for ``error`` (a scenario's cassette that cannot answer, ...): the caller
        raises what this returns, or stops its runner with the error's exit code."""
        self.results.fail_run(error)
        return RunStopped(error)

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
        left: list[dict[str, object]] = []
        if not skipped:
            try:
                with interrupts.shielded(
                    "cleaning up what this run created; press Ctrl-C again to skip it"
                ):
                    left = run.close()
            except KeyboardInterrupt:
                skipped = True
        if skipped:
            run.client.close()
            left = run.ledger.outstanding()
        results.requests_sent = run.client.requests_sent
        results.count_checks(run.tally.counts())
        self.charge_requests_to(CLEANUP)
        for observation in client_observations(run):
            results.observe(observation)
        if left:
            why = "cleanup skipped (second Ctrl-C)" if skipped else "cleanup could not delete all"
            ids = ", ".join(str(entry["application_id"]) for entry in left)
            message = (
                f"{why}: {len(left)} application(s) this run created are left in organization "
                f"{run.target.organization_id}: ids {ids}; they are recorded in {run.ledger.path}; "
                f"run `credly-contract sweep --run {run.run_id}` to delete them"
            )
            self.cleanup_note = message
            results.observe({"kind": ObservationKind.CLEANUP, "detail": message, "items": left})
        elif created:
            self.cleanup_note = f"cleanup: deleted the {created} application(s) still in the ledger"
        if run.emulator is not None:
            run.emulator.stop()

    # -- who pays, and what every exchange must keep -----------------------------------------------

    def charge_requests_to(self, who: str, requirement_ids: list[str] | None = None) -> None:
        """Charge the requests sent so far to whoever was paying, and from now on to ``who``."""
        if self.run is not None:
            self.results.spent.charge(self.run.client.requests_sent, *self._charged)
        self._charged = (who, requirement_ids or [])

    @contextmanager
    def paid_by_setup(self) -> Iterator[None]:
        """Charge what is sent meanwhile to set-up (a session fixture's requests serve every
        test), then go back to whoever was paying."""
        paying = self._charged
        self.charge_requests_to(SETUP)
        try:
            yield
        finally:
            self.charge_requests_to(*paying)

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

    # -- a test's life -----------------------------------------------------------------------------

    def known(self, requirement_ids: Iterable[str]) -> list[str]:
        """``requirement_ids`` once each, in order; UnknownRequirement for one in no catalogue."""
        ids = list(dict.fromkeys(requirement_ids))
        for rid in ids:
            if rid not in self.results.requirements:
                raise UnknownRequirement(
                    f"requirement {rid} is in no catalogue: use one of credly-contract's ids or "
                    "declare your own in a file passed with --credly-requirements"
                )
        return ids

    def begin_test(self, test_id: str, requirement_ids: list[str]) -> None:
        """A test's set-up starts: its requests and soft failures are its own from now on."""
        self._test_failures = []
        self.charge_requests_to(test_id, requirement_ids)

    def begin_teardown(self, test_id: str) -> None:
        """The test's report is built: what its teardown finds belongs to the teardown."""
        self._test_failures = None
        self._teardown_of = f"{test_id} (teardown)"

    def end_test(self) -> None:
        self._test_failures = None
        self.charge_requests_to(SETUP)
        self.record_late_failures()
        self._teardown_of = SESSION_TEARDOWN

    def soft_fail(self, failure: CheckFailed) -> None:
        """Record a failure without stopping anything: against the running test, or, outside a
        test's set-up and call (fixture teardown, cleanup), against that teardown."""
        if self._test_failures is not None:
            self._test_failures.append(failure)
        else:
            self._late_failures.setdefault(self._teardown_of, []).append(failure)

    def record_late_failures(self) -> None:
        for where, failures in self._late_failures.items():
            payload = [evidence_of(f) for f in failures]
            self.results.record(where, [], payload, completed=False)
            self._recorded_late.setdefault(where, []).extend(payload)
            for failure in failures:
                self.say(f"{where}: {failure.describe().splitlines()[0]}")
        self._late_failures.clear()

    def judge(self, requirement_ids: list[str], raised: BaseException | None) -> Judgement:
        """What a test's end (its call, or a set-up that did not pass) means for its requirements:
        the soft failures it recorded plus what it raised (``raised``; None when it passed or
        skipped)."""
        judgement = Judgement(failures=list(self._test_failures or []))
        if raised is None:
            return judgement
        found, others = failures_in(raised)
        judgement.failures += found
        if any(isinstance(failure, PrerequisiteFailed) for failure in found):
            # Its setup met a contract break: the test never got to prove its own rules.
            judgement.completed = False
        for other in others:
            judgement.completed = False
            if isinstance(other, KeyboardInterrupt):
                # Ctrl-C or SIGTERM that a library turned into a failed test (Hypothesis may):
                # nothing about the target was learnt; end the run the way the signal meant.
                self.note_interrupt()
                judgement.skip, judgement.stop = str(self.results.error), True
            elif isinstance(other, ReadOnlyViolation):
                # Refused before it was sent: under the read-only profile this test cannot run.
                judgement.skip = str(other)
            elif isinstance(other, TargetUnreachable | ConfigError):
                self.results.fail_run(run_error(other))
                judgement.stop = True  # the rest would fail the same way; keep its teardown
            else:
                judgement.failures += [
                    CheckFailed(rid, f"the test stopped on {type(other).__name__}: {other}")
                    for rid in requirement_ids
                ]
        return judgement

    def note_interrupt(self) -> None:
        received = self.interrupts.received
        self.results.fail_run(
            RunError(
                ErrorKind.INTERRUPTED,
                f"interrupted by {self.interrupts.describe() or 'Ctrl-C'}: the run did not finish",
                received[0] if received else None,
            )
        )

    # -- the end -----------------------------------------------------------------------------------

    def facts(self) -> RunFacts:
        """What this process knew of the run (an xdist worker hands it to the controller)."""
        run, results = self.run, self.results
        return RunFacts(
            target=run.target.public() if run else None,
            started_at=run.started_at if run else None,
            requests_sent=results.requests_sent,
            checks=results.check_counts,
            spent=results.spent.to_facts(),
            observations=results.observations,
            error=results.error,
            late_failures=self._recorded_late,
        )

    def _add_counts(self, observation: Observation) -> None:
        """Add a worker's counted observation to the one of its kind the run already holds."""
        kind = ObservationKind(observation["kind"])
        observations = self.results.observations
        held = next((o for o in observations if o["kind"] == kind), None)
        if held is not None:
            observations.remove(held)

        def total(key: Counted) -> int:
            return observation.get(key, 0) + (held.get(key, 0) if held else 0)

        counts = {key: total(key) for key in get_args(Counted) if key in observation}
        observations.append(counted_observation(kind, **counts))

    def merge(self, facts: RunFacts) -> None:
        """xdist controller: add a finished worker's facts to the run's results."""
        results = self.results
        results.requests_sent += facts.requests_sent
        results.count_checks(facts.checks)
        results.spent.merge(facts.spent)
        for observation in facts.observations:
            if observation.get("kind") in COUNTED:
                self._add_counts(observation)
            else:
                results.observe(observation)
        if facts.error:
            results.fail_run(facts.error)
        for where, failures in facts.late_failures.items():
            results.record(where, [], failures, completed=False)
        if facts.target is not None:
            earlier = self._facts_of_run
            if earlier is None or (facts.started_at or 0) < (earlier.started_at or 0):
                self._facts_of_run = facts

    def judged_anything(self) -> bool:
        return any(o.tests for o in self.results.outcomes.values()) or bool(self.results.error)

    def finish(self, *, unfinished: bool = False) -> Certificate:
        """Write the run's artefacts (certificate, HTML, manifest); returns the certificate.
        ``unfinished``: the test runner stopped on an error of its own (its console output closed,
        as under ``| head``, is one), so the run is an error whatever its tests had shown."""
        if unfinished:
            self.results.fail_run(
                RunError(
                    ErrorKind.INTERRUPTED,
                    "the run stopped before its tests ended: the test runner met an error of its "
                    "own (the console's output closed, as under `| head`, is one cause)",
                )
            )
        from credly_contract.report import write_run_artifacts

        facts = self.facts() if self.run is not None else self._facts_of_run
        subject = self.subject
        # The tests are over: a signal now lets the certificate be written (a second one stops).
        with self.interrupts.shielded("writing the certificate; press Ctrl-C again to stop"):
            self.certificate = write_run_artifacts(
                self.settings.run_folder,
                self.results,
                facts,
                profile=subject.profile if subject else self.settings.profile_name,
                waivers=self.waivers,
                sign_key=self.settings.sign_key,
                extra=subject.certificate if subject else {},
                files=subject.files if subject else {},
            )
        return self.certificate

    def exit_code(self) -> ExitCode:
        """The run's exit code: the error that stopped it, or its verdict's."""
        if self.results.error is not None:
            return self.results.error.exit_code
        if self.certificate is not None:
            return Verdict(self.certificate["verdict"]).exit_code
        return ExitCode.CONFIG

    def waived_note(self, failures: list[Failure]) -> str | None:
        """``WAIVED <id> (reason, until <date>)`` for each failed requirement when waivers cover
        every failure of a test (which is then reported skipped), else None."""
        waived = waiving({f["requirement"] for f in failures}, self.waivers)
        return "; ".join(describe(waiver) for waiver in waived) if waived else None


def run_error(error: ConfigError | TargetUnreachable) -> RunError:
    """What stops a run: its configuration is wrong (exit 2), or no answer came (exit 3)."""
    kind = ErrorKind.CONFIGURATION if isinstance(error, ConfigError) else ErrorKind.UNREACHABLE
    return RunError(kind, scrub(str(error)))


def evidence_of(failure: CheckFailed) -> Failure:
    """A requirement failure as results and the certificate record it."""
    return {"requirement": failure.requirement, **failure.evidence()}


def failures_in(raised: BaseException) -> tuple[list[CheckFailed], list[BaseException]]:
    """Split an exception (or group) into requirement failures and anything else."""
    if isinstance(raised, CheckFailed):
        return [raised], []
    from credly_contract.st import failure_to_check  # schemathesis loads only when it is needed

    mapped = failure_to_check(raised)
    if mapped is not None:
        return [mapped], []
    if isinstance(raised, BaseExceptionGroup):
        checks: list[CheckFailed] = []
        others: list[BaseException] = []
        for inner in raised.exceptions:
            found, other = failures_in(inner)
            checks += found
            others += other
        return checks, others
    return [], [raised]


def client_observations(run: CertificationRun) -> list[Observation]:
    """What the client absorbed without failing a requirement: throttling, gateway errors and
    answers lost on the way."""
    client, lost = run.client, run.client.lost_answers
    found = [
        counted_observation(ObservationKind.THROTTLED, count=client.throttled),
        counted_observation(ObservationKind.GATEWAY_ERRORS, count=client.gateway_errors),
        counted_observation(
            ObservationKind.LOST_ANSWERS,
            count=lost.lost,
            repeated=lost.repeated,
            reconciled=lost.reconciled,
            reruns=lost.reruns,
        ),
    ]
    return [observation for observation in found if observation["count"]]


def counted_observation(kind: ObservationKind, **counts: int) -> Observation:
    """A client observation that counts: the one place its detail is worded, so that the xdist
    controller can add up the workers' counts into one observation (see ``Engine.merge``)."""
    if kind == ObservationKind.THROTTLED:
        detail = (
            f"the target answered 429 {counts['count']} time(s); the client waited for "
            "Retry-After and retried (not a contract failure)"
        )
    elif kind == ObservationKind.GATEWAY_ERRORS:
        detail = f"the target answered 502/503/504 {counts['count']} time(s); the client retried"
    else:
        detail = LostAnswers(
            lost=counts["count"],
            repeated=counts["repeated"],
            reconciled=counts["reconciled"],
            reruns=counts["reruns"],
        ).describe()
    observation: Observation = {"kind": kind, "detail": detail, "count": counts["count"]}
    if kind == ObservationKind.LOST_ANSWERS:
        observation |= {
            "repeated": counts["repeated"],
            "reconciled": counts["reconciled"],
            "reruns": counts["reruns"],
        }
    return observation


COUNTED = (ObservationKind.THROTTLED, ObservationKind.GATEWAY_ERRORS, ObservationKind.LOST_ANSWERS)
