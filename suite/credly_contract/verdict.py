"""The one vocabulary of a run's outcome: its verdict, the exit code each command returns, and the
typed errors that end a run early. The console, the certificate, JUnit, Allure, `--help` and the
README all speak it; nothing else defines an exit code."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from enum import Enum, IntEnum, StrEnum


class ExitCode(IntEnum):
    """What `credly-contract` returns. CI keys on these: 1 is a contract break, 3 a target that gave no
    HTTP answer (infrastructure: retry)."""

    CERTIFIED = 0
    """certify: every requirement held; replay: every requirement in its scope held; report: the
    run folder verified; sweep: nothing left behind; cassettes diff: no drift."""
    NOT_COMPLIANT = 1
    """A requirement failed (or was not run); sweep: something could not be deleted;
    cassettes diff: the recordings differ."""
    CONFIG = 2
    """Usage or configuration error; the message names the setting to fix."""
    UNREACHABLE = 3
    """No HTTP answer: timeouts (DNS ones too), refused connections, repeated 502/503/504. Retry
    later. A host that does not exist or an untrusted certificate is CONFIG: a retry cannot fix it."""
    REPORT_INVALID = 4
    """report: the run folder does not verify (manifest mismatch, inconsistent or unreadable
    certificate)."""
    INTERRUPTED = 130
    """Ctrl-C (128 + SIGINT)."""
    TERMINATED = 143
    """SIGTERM, e.g. CI cancelling the job (128 + SIGTERM)."""
    OUTPUT_CLOSED = 141
    """Whatever read the output went away (`| head`), as shells report SIGPIPE (128 + 13)."""

    @classmethod
    def for_signal(cls, signum: int) -> ExitCode:
        return cls.TERMINATED if signum == signal.SIGTERM else cls.INTERRUPTED


def exit_codes_help(meanings: dict[ExitCode, str]) -> str:
    """A command's help line on its exit codes, their numbers read from ExitCode:
    ``exit codes: 0 <meaning>, 1 <meaning>, ...``."""
    return "exit codes: " + ", ".join(
        f"{int(code)} {meaning}" for code, meaning in meanings.items()
    )


class Verdict(StrEnum):
    """certificate.json's ``verdict``."""

    CERTIFIED = "certified"
    """Every requirement of the catalogue was proven and none failed (waived SHOULDs aside)."""
    NOT_CERTIFIED = "not_certified"
    """A requirement failed, or one in the run's scope was not run."""
    PASSED_IN_SCOPE = "passed_in_scope"
    """A run that by design proves only part of the catalogue (a cassette replay or recording):
    every requirement in its scope held; the others were not run. Never a certification."""
    ERROR = "error"
    """The target could not be tested: no HTTP answer, a configuration error, an interruption."""

    @property
    def exit_code(self) -> ExitCode:
        return {
            Verdict.CERTIFIED: ExitCode.CERTIFIED,
            Verdict.PASSED_IN_SCOPE: ExitCode.CERTIFIED,
            Verdict.NOT_CERTIFIED: ExitCode.NOT_COMPLIANT,
            Verdict.ERROR: ExitCode.UNREACHABLE,
        }[self]

    @property
    def word(self) -> str:
        """How the console and the HTML say it."""
        return self.value.replace("_", " ")


class ErrorKind(Enum):
    """Why a run ended without a judgement."""

    CONFIGURATION = "configuration"
    UNREACHABLE = "unreachable"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class RunError:
    """What stopped a run before it could judge the target; ``message`` is already scrubbed text."""

    kind: ErrorKind
    message: str
    signum: int | None = None

    @property
    def exit_code(self) -> ExitCode:
        if self.kind is ErrorKind.CONFIGURATION:
            return ExitCode.CONFIG
        if self.kind is ErrorKind.INTERRUPTED:
            return ExitCode.for_signal(self.signum or signal.SIGINT)
        return ExitCode.UNREACHABLE

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.message}"

    def public(self) -> dict[str, str]:
        return {"kind": self.kind.value, "detail": self.message}


EXIT_CODES_HELP = f"""exit codes:
  {ExitCode.CERTIFIED:<4} certified: every requirement held (replay: passed_in_scope, every requirement its
       recordings prove held; the others are listed as NOT_RUN and judged only by certify)
  {ExitCode.NOT_COMPLIANT:<4} not compliant: a requirement failed or was not run (see the certificate)
  {ExitCode.CONFIG:<4} usage or configuration error (the message names the setting to fix)
  {ExitCode.UNREACHABLE:<4} no HTTP answer: timeouts (DNS too), refused connections, repeated 502/503/504 (retry later;
       any HTTP answer that breaks the contract is exit {ExitCode.NOT_COMPLIANT}, never {ExitCode.UNREACHABLE})
  {ExitCode.REPORT_INVALID:<4} report: the run folder does not verify (manifest mismatch, inconsistent or unreadable
       certificate)
  {ExitCode.INTERRUPTED:<4} interrupted (Ctrl-C); {ExitCode.TERMINATED} terminated (SIGTERM); {ExitCode.OUTPUT_CLOSED} the output's reader went away

verdicts (certificate.json, console, JUnit): certified, not_certified, passed_in_scope
(a replay: only the requirements its recordings prove), error (the target could not be tested)."""
