"""The `credly-contract` command: a thin layer that turns flags into the certification plugin's options
(and runs the emulator, recordings, reports and sweeps).

Each subcommand is a :class:`Subcommand`: a function adding its parser and a function running it. A
new one is an entry in ``SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from credly_contract import __version__
from credly_contract.client_cert import command as certify_client
from credly_contract.config import ENVIRONMENT, ConfigError, TargetUnreachable
from credly_contract.interrupts import Terminated
from credly_contract.verdict import EXIT_CODES_HELP, ExitCode, exit_codes_help

if TYPE_CHECKING:
    from credly_contract.engine.settings import RunSettings

CREDENTIAL_FLAGS = ("client_secret",)
TARGETS_HELP = """live targets read CREDLY_API_BASE_URL, CREDLY_TOKEN_URL, CREDLY_ORGANIZATION_ID,
CREDLY_CLIENT_ID, CREDLY_CLIENT_SECRET (or CREDLY_CLIENT_SECRET_FILE, a file holding it) and
optionally CREDLY_FOREIGN_ORGANIZATION_ID and CREDLY_FOREIGN_APPLICATION_ID (flags of the same
names override). Every HTTP client of a run trusts the CA bundle of --ca-bundle, CREDLY_CA_BUNDLE,
SSL_CERT_FILE or REQUESTS_CA_BUNDLE (the first set) and takes HTTPS_PROXY, HTTP_PROXY, ALL_PROXY
and NO_PROXY the same way."""
EPILOG = f"{EXIT_CODES_HELP}\n\n{TARGETS_HELP}"


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


@dataclass(frozen=True)
class Subcommand:
    """A subcommand: ``add_parser(commands)`` declares its flags, ``run(args)`` returns an exit code."""

    name: str
    add_parser: Callable[[Any], argparse.ArgumentParser]
    run: Callable[[argparse.Namespace], int]


def _command_parser(
    commands: Any, name: str, help: str, epilog: str | None = None
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _add_target_flags(parser: argparse.ArgumentParser, production_help: str | None) -> None:
    for key, variable in ENVIRONMENT.items():
        parser.add_argument(
            "--" + key.replace("_", "-"),
            dest=key,
            default=None,
            metavar=variable,
            help=f"overrides ${variable}",
        )
    if production_help is not None:
        parser.add_argument("--allow-production", action="store_true", help=production_help)


def _warn_credential_flags(args: argparse.Namespace) -> None:
    if any(getattr(args, key, None) for key in CREDENTIAL_FLAGS):
        print(
            "credly-contract: warning: --client-secret on the command line lands in shell history; "
            "prefer CREDLY_CLIENT_SECRET or CREDLY_CLIENT_SECRET_FILE",
            file=sys.stderr,
        )


# --- certify --------------------------------------------------------------------------------------


def add_certify(commands: Any) -> argparse.ArgumentParser:
    from credly_contract.engine.settings import add_cli_flags

    certify = _command_parser(
        commands, "certify", "certify a target against the contract", epilog=EPILOG
    )
    add_cli_flags(certify)  # the one table of run options (engine/settings.py)
    return certify


def certify(args: argparse.Namespace) -> int:
    from credly_contract.engine.settings import from_cli
    from credly_contract.invocation import CERTIFICATION_DIR, run_suite
    from credly_contract.preflight import check_target

    settings = from_cli(args)
    if settings.target == "replay" and settings.dry_run:
        print("--target replay sends nothing: it replays the recorded cassettes offline")
        return ExitCode.CERTIFIED
    if settings.target == "replay":
        from credly_contract.cassette_commands import replay

        return replay(settings)
    target = None
    if settings.target == "live":
        from credly_contract.engine.targets import live_target

        _warn_credential_flags(args)
        target = live_target(settings)
        # Prove the settings before pytest starts: a wrong one costs a second and prints one line.
        if not settings.dry_run:
            check_target(target, settings.timeout)
    if settings.dry_run:
        return _print_request_plan(settings)
    code, _ = run_suite(CERTIFICATION_DIR, settings, target)
    return code


def _print_request_plan(settings: RunSettings) -> int:
    """``certify --dry-run``: the measured request plan of the chosen profile; nothing is sent."""
    from credly_contract import catalogue
    from credly_contract.request_plan import plan_lines

    for line in plan_lines(settings.profile_name, catalogue.requirements()):
        print(line)
    budget = settings.request_budget
    if budget is not None:
        print(f"request budget: {budget} (--max-requests)")
    return ExitCode.CERTIFIED


# --- emulate --------------------------------------------------------------------------------------


def add_emulate(commands: Any) -> argparse.ArgumentParser:
    emulate = _command_parser(commands, "emulate", "run the Credly emulator locally")
    emulate.add_argument("--host", default="127.0.0.1", help="interface to listen on (127.0.0.1)")
    emulate.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    emulate.add_argument(
        "--seed-organization",
        default=None,
        metavar="ID",
        help="the primary organization's id (default: a random UUID)",
    )
    emulate.add_argument(
        "--seed-applications",
        type=int,
        default=0,
        metavar="N",
        help="create N applications in the organization at start (default 0)",
    )
    emulate.add_argument(
        "--fault",
        action="append",
        default=[],
        help="break one documented rule, to see a certification fail (repeatable; see --list-faults)",
    )
    emulate.add_argument(
        "--token-lifetime",
        type=int,
        default=None,
        metavar="SECONDS",
        help="access token lifetime (default: the emulator's, like Credly's)",
    )
    emulate.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="MS",
        help="answer every request MS milliseconds late, like a distant server (default 0)",
    )
    emulate.add_argument(
        "--https",
        action="store_true",
        help="serve HTTPS with a certificate authority made for this run (printed: trust it "
        "with the variables shown; its key never leaves the process)",
    )
    emulate.add_argument(
        "--list-faults", action="store_true", help="list the faults --fault accepts and exit"
    )
    return emulate


def emulate(args: argparse.Namespace) -> int:
    from credly_contract.emulator import FAULTS
    from credly_contract.emulator.server import LoopbackTLS
    from credly_contract.interrupts import Interrupts

    if args.list_faults:
        width = max(map(len, FAULTS))
        for name, description in FAULTS.items():
            print(f"{name:<{width}}  {description}")
        return ExitCode.CERTIFIED
    tls = LoopbackTLS() if args.https else None
    # SIGTERM ends the emulator as Ctrl-C does, so the CA's temp folder is removed either way.
    interrupts = Interrupts()
    interrupts.install()
    try:
        return _serve_emulator(args, tls)
    finally:
        interrupts.restore()
        if tls is not None:
            tls.close()


def _serve_emulator(args: argparse.Namespace, tls: Any) -> int:
    from credly_contract.emulator import EmulatorServer
    from credly_contract.targets import emulated_target

    try:
        server = EmulatorServer(
            host=args.host,
            port=args.port,
            faults=args.fault,
            token_lifetime=args.token_lifetime,
            organization_id=args.seed_organization,
            seed_applications=args.seed_applications,
            latency_ms=args.latency,
            tls=tls,
        )
    except ValueError as error:
        raise ConfigError(f"--latency: {error}") from None
    except OSError as error:
        raise ConfigError(
            f"cannot listen on {args.host}:{args.port}: {error.strerror}; choose another --port"
        ) from None
    print(f"Credly emulator on {server.origin} (Ctrl-C to stop)")
    if args.fault:
        print(f"faults: {', '.join(args.fault)}")
    if args.latency:
        print(f"latency: {args.latency:g} ms added to every request")
    print("Point the suite or your integration at it:")
    target = dataclasses.replace(
        emulated_target(server), foreign_application_id=str(server.foreign_application_id)
    )
    # CREDLY_CLIENT_SECRET is the emulator's own throwaway bootstrap secret: printing it is this
    # command's purpose.
    for variable, value in target.environment().items():
        print(f"  export {variable}={value}")
    if tls is not None:
        print("Trust its certificate authority (made for this run, gone when it stops):")
        for name, value in tls.environment().items():
            print(f"  export {name}={value}")
    sys.stdout.flush()
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return ExitCode.CERTIFIED


# --- record, cassettes diff -----------------------------------------------------------------------


def add_record(commands: Any) -> argparse.ArgumentParser:
    record = _command_parser(
        commands,
        "record",
        "record the cassette scenarios against a target",
        epilog=exit_codes_help(
            {
                ExitCode.CERTIFIED: "recorded and every requirement the scenarios prove held "
                "(passed_in_scope)",
                ExitCode.NOT_COMPLIANT: "recorded with failures (the cassettes hold the evidence)",
                ExitCode.CONFIG: "configuration error",
                ExitCode.UNREACHABLE: "no HTTP answer (nothing recorded)",
            }
        ),
    )
    record.add_argument(
        "--target",
        choices=["emulated", "live"],
        default="emulated",
        help="emulated (default; a reproducible recording) or live (CREDLY_* variables; "
        "never production)",
    )
    record.add_argument(
        "--cassettes-dir",
        default=None,
        help="where the recording goes (default cassettes/emulator or cassettes/<API host>)",
    )
    record.add_argument(
        "--reports-dir",
        default=None,
        help="the recording's certificate folder (default: beside the cassettes, "
        "<cassettes-dir>-certificate)",
    )
    _add_target_flags(record, None)  # recording creates applications: never on production
    return record


def run_record(args: argparse.Namespace) -> int:
    from credly_contract.cassette_commands import record

    _warn_credential_flags(args)
    return record(args)


def add_cassettes(commands: Any) -> argparse.ArgumentParser:
    cassettes = _command_parser(commands, "cassettes", "compare recordings")
    actions = cassettes.add_subparsers(
        dest="cassettes_command", metavar="ACTION", parser_class=_Parser
    )
    diff = actions.add_parser(
        "diff",
        help="what changed between two recordings "
        f"(exit {ExitCode.CERTIFIED:d} equivalent, {ExitCode.NOT_COMPLIANT:d} drift)",
        description="What changed between two recordings: statuses, fields, types, headers and "
        "values with OAuth or paging meaning (ids and timestamps are not compared).",
    )
    diff.add_argument("a", help="the first recording folder (e.g. cassettes/emulator)")
    diff.add_argument("b", help="the second recording folder")
    return cassettes


def run_cassettes(args: argparse.Namespace) -> int:
    from credly_contract.cassettes.diff import diff_command

    return diff_command(args)


# --- report, sweep --------------------------------------------------------------------------------


def add_report(commands: Any) -> argparse.ArgumentParser:
    report = _command_parser(
        commands,
        "report",
        "verify a run's folder and summarise it (optionally re-render it elsewhere)",
        epilog=exit_codes_help(
            {
                ExitCode.CERTIFIED: "the folder verifies (manifest, certificate schema and "
                "arithmetic, agreement with junit.xml and certificate.html, --public-key's "
                "signature)",
                ExitCode.NOT_COMPLIANT: "it verifies but its verdict is not --require's",
                ExitCode.CONFIG: "not a run folder, a bad --output or key",
                ExitCode.REPORT_INVALID: "the folder does not verify (edited, inconsistent, "
                "unsigned or unreadable)",
            }
        )
        + ". A run folder is never rewritten.",
    )
    report.add_argument("run_dir", metavar="DIR", help="a run folder, e.g. reports/latest")
    report.add_argument(
        "--output",
        default=None,
        metavar="NEW",
        help="render the verified certificate into this new (or empty) folder",
    )
    report.add_argument(
        "--require",
        choices=["certified"],
        default=None,
        help="exit 1 unless the verified verdict is this (a CI gate on a folder)",
    )
    report.add_argument(
        "--public-key",
        default=None,
        metavar="FILE",
        help="also check manifest.sig against this Ed25519 public key (PEM; see certify --sign-key)",
    )
    return report


def run_report(args: argparse.Namespace) -> int:
    from credly_contract.report import report_command

    return report_command(args)


def add_sweep(commands: Any) -> argparse.ArgumentParser:
    sweep = _command_parser(
        commands,
        "sweep",
        "delete leftovers of earlier runs",
        epilog=exit_codes_help(
            {
                ExitCode.CERTIFIED: "nothing left behind",
                ExitCode.NOT_COMPLIANT: "something could not be deleted",
                ExitCode.CONFIG: "configuration error",
                ExitCode.UNREACHABLE: "no HTTP answer",
            }
        ),
    )
    sweep.add_argument(
        "--older-than",
        default="1h",
        help="only leftovers older than this (30m, 1h, 2d; default 1h), so running runs keep theirs",
    )
    sweep.add_argument("--dry-run", action="store_true", help="list what would be deleted")
    sweep.add_argument(
        "--run",
        default=None,
        metavar="RUN_ID",
        help="only that run's leftovers, whatever their age (the id in its reports folder name)",
    )
    sweep.add_argument(
        "--ledger-dir", default="reports", help="where runs' ledgers are (default reports)"
    )
    _add_target_flags(sweep, "with --dry-run only: list leftovers on a production host")
    return sweep


def run_sweep(args: argparse.Namespace) -> int:
    from credly_contract.sweep import sweep_command

    _warn_credential_flags(args)
    return sweep_command(args)


SUBCOMMANDS: list[Subcommand] = [
    Subcommand("certify", add_certify, certify),
    Subcommand("emulate", add_emulate, emulate),
    Subcommand("record", add_record, run_record),
    Subcommand("cassettes", add_cassettes, run_cassettes),
    Subcommand("report", add_report, run_report),
    Subcommand("sweep", add_sweep, run_sweep),
    Subcommand("certify-client", certify_client.add_parser, certify_client.run),
]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="credly-contract",
        description=__doc__.split("\n\n")[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"credly-contract {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for subcommand in SUBCOMMANDS:
        subcommand.add_parser(commands).set_defaults(handler=subcommand.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return ExitCode.CONFIG
        return int(args.handler(args))
    except UsageError as error:
        print(str(error), file=sys.stderr)
        return ExitCode.CONFIG
    except ConfigError as error:
        print(f"credly-contract: {error}", file=sys.stderr)
        return ExitCode.CONFIG
    except TargetUnreachable as error:
        print(f"credly-contract: target unreachable: {error}", file=sys.stderr)
        return ExitCode.UNREACHABLE
    except KeyboardInterrupt as interrupted:  # outside a run's own handling (its last moments)
        print("credly-contract: interrupted", file=sys.stderr)
        terminated = isinstance(interrupted, Terminated)
        return ExitCode.for_signal(signal.SIGTERM if terminated else signal.SIGINT)
    except BrokenPipeError:
        # `credly-contract report DIR | head`: stop quietly, and keep Python's exit-time flush of
        # the closed pipe from printing a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OUTPUT_CLOSED


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
