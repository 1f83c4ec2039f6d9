"""The `credly-contract` command: a thin layer that turns flags into the certification plugin's options
(and runs the emulator, recordings, reports and sweeps).

Exit codes: 0 certified, 1 not compliant, 2 usage or configuration error, 3 target unreachable or broken.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from credly_contract import __version__
from credly_contract.config import (
    ENVIRONMENT,
    ConfigError,
    Target,
    TargetUnreachable,
    guard_production,
    live_target,
)
from credly_contract.profiles import PROFILES
from credly_contract.scrub import scrub

EXIT_CERTIFIED, EXIT_NOT_COMPLIANT, EXIT_CONFIG, EXIT_UNREACHABLE = 0, 1, 2, 3
CERTIFICATION_DIR = Path(__file__).resolve().parent / "certification"
CREDENTIAL_FLAGS = ("client_secret",)

EPILOG = """exit codes:
  0  certified: every requirement held
  1  not compliant: a requirement failed (see the certificate)
  2  usage or configuration error (the message names the setting to fix)
  3  target unreachable or broken (timeouts, DNS, refused connections, repeated 502/503)

live targets read CREDLY_API_BASE_URL, CREDLY_TOKEN_URL, CREDLY_ORGANIZATION_ID, CREDLY_CLIENT_ID,
CREDLY_CLIENT_SECRET (or CREDLY_CLIENT_SECRET_FILE, a file holding it) and optionally
CREDLY_FOREIGN_ORGANIZATION_ID and CREDLY_FOREIGN_APPLICATION_ID (flags of the same names override)."""


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _add_target_flags(parser: argparse.ArgumentParser) -> None:
    for key, variable in ENVIRONMENT.items():
        parser.add_argument(
            "--" + key.replace("_", "-"),
            dest=key,
            default=None,
            metavar=variable,
            help=f"overrides ${variable}",
        )
    parser.add_argument(
        "--allow-production",
        action="store_true",
        help="allow production hosts (only with --profile readonly)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="credly-contract",
        description=__doc__.split("\n\n")[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"credly-contract {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    certify = commands.add_parser(
        "certify",
        help="certify a target against the contract",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    certify.add_argument("--target", choices=["emulated", "live", "replay"], default="emulated")
    certify.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=None,
        help="quick (pull requests; the default for live targets, ~330 requests), "
        "standard (the default otherwise), thorough (nightly), "
        "readonly (creates nothing)",
    )
    certify.add_argument(
        "--reports-dir", default=None, help="default reports/<UTC timestamp>-<run id>/"
    )
    certify.add_argument("--cassettes-dir", default=None, help="for --target replay")
    certify.add_argument("--waivers", default=None, help="waivers.yaml for known SHOULD failures")
    certify.add_argument(
        "--fault",
        action="append",
        default=[],
        help="emulated target only: break one rule (see emulate --list-faults)",
    )
    certify.add_argument("--workers", type=int, default=1, help="parallel pytest-xdist workers")
    certify.add_argument(
        "--max-requests",
        type=int,
        default=None,
        help="request budget for live targets (default per profile: quick 600, "
        "standard 1800, thorough 9000, readonly 200)",
    )
    certify.add_argument("--rate-limit", type=float, default=None, help="requests per second")
    certify.add_argument("--timeout", type=float, default=10.0, help="per-request timeout (s)")
    certify.add_argument("-v", "--verbose", action="store_true", help="show every test")
    _add_target_flags(certify)

    emulate = commands.add_parser("emulate", help="run the Credly emulator locally")
    emulate.add_argument("--host", default="127.0.0.1")
    emulate.add_argument("--port", type=int, default=8000)
    emulate.add_argument(
        "--seed-organization",
        default=None,
        metavar="ID",
        help="the primary organization's id (default: a random UUID)",
    )
    emulate.add_argument("--seed-applications", type=int, default=0, metavar="N")
    emulate.add_argument("--fault", action="append", default=[])
    emulate.add_argument("--token-lifetime", type=int, default=None, metavar="SECONDS")
    emulate.add_argument("--list-faults", action="store_true")

    record = commands.add_parser("record", help="record the cassette scenarios against a target")
    record.add_argument("--target", choices=["emulated", "live"], default="emulated")
    record.add_argument("--cassettes-dir", default=None)
    _add_target_flags(record)

    cassettes = commands.add_parser("cassettes", help="compare recordings")
    cassette_commands = cassettes.add_subparsers(
        dest="cassettes_command", metavar="ACTION", parser_class=_Parser
    )
    diff = cassette_commands.add_parser("diff", help="what changed between two recordings")
    diff.add_argument("a")
    diff.add_argument("b")

    report = commands.add_parser("report", help="re-render an existing run's report")
    report.add_argument("run_dir", metavar="DIR")

    from credly_contract.client_cert.command import add_parser as add_certify_client

    add_certify_client(commands)

    sweep = commands.add_parser("sweep", help="delete leftovers of earlier runs")
    sweep.add_argument("--older-than", default="1h")
    sweep.add_argument("--dry-run", action="store_true")
    sweep.add_argument(
        "--run",
        default=None,
        metavar="RUN_ID",
        help="only that run's leftovers, whatever their age",
    )
    sweep.add_argument("--ledger-dir", default="reports")
    _add_target_flags(sweep)
    return parser


def _flag_overrides(args: argparse.Namespace) -> dict[str, str | None]:
    return {key: getattr(args, key, None) for key in ENVIRONMENT}


def _warn_credential_flags(args: argparse.Namespace) -> None:
    if any(getattr(args, key, None) for key in CREDENTIAL_FLAGS):
        print(
            "credly-contract: warning: --client-secret on the command line lands in shell history; "
            "prefer CREDLY_CLIENT_SECRET or CREDLY_CLIENT_SECRET_FILE",
            file=sys.stderr,
        )


def certify(args: argparse.Namespace) -> int:
    # A shared staging organization pays for every request: live runs default to the quick profile.
    args.profile = args.profile or ("quick" if args.target == "live" else "standard")
    if args.target == "replay":
        from credly_contract.cassettes import replay

        return replay(args)
    if args.fault and args.target != "emulated":
        raise ConfigError("--fault only applies to --target emulated")
    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {args.workers}")
    if args.target == "live":
        _warn_credential_flags(args)
        target = live_target(_flag_overrides(args))
        guard_production(target, args.allow_production, PROFILES[args.profile].read_only)
        # Prove the settings before pytest starts: a wrong one costs a second and prints one line.
        _preflight(target, args.timeout)
    if args.fault:
        from credly_contract.emulator.faults import Faults

        Faults(args.fault)
    if args.waivers:
        from credly_contract.report.waivers import load_waivers

        load_waivers(args.waivers)  # a malformed file stops the run here, before anything is sent
    # Hypothesis keeps a Unicode table (~2 s to build) in its storage directory: keep it in a per-user
    # cache rather than in whatever folder the command runs from.
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "credly-contract"
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(cache / "hypothesis"))
    import pytest

    from credly_contract import plugin

    options = [
        str(CERTIFICATION_DIR),
        "-c",
        str(CERTIFICATION_DIR / "pytest.ini"),
        "--rootdir",
        str(CERTIFICATION_DIR),
        "-p",
        "no:cacheprovider",
        "--credly-target",
        args.target,
        "--credly-profile",
        args.profile,
        "--credly-timeout",
        str(args.timeout),
        "-q" if not args.verbose else "-v",
        "--tb=line" if not args.verbose else "--tb=short",
        "-W",
        "ignore",
        # Plain asserts: rewriting the suite's dependencies on every start costs seconds where no
        # bytecode cache is kept, and the checks raise their own messages anyway.
        "--assert=plain",
        # Its five gc.collect() passes at exit cost ~0.4 s and guard nothing the suite relies on.
        "-p",
        "no:unraisableexception",
    ]
    reports_dir = plugin.reports_dir_for(args.reports_dir)
    options += [
        "--credly-reports-dir",
        str(reports_dir),
        "--junitxml",
        str(reports_dir / "junit.xml"),
        "--alluredir",
        str(reports_dir / "allure-results"),
    ]
    for fault in args.fault:
        options += ["--credly-fault", fault]
    for name in ("max_requests", "rate_limit", "waivers", "cassettes_dir"):
        value = getattr(args, name, None)
        if value is not None:
            options += ["--credly-" + name.replace("_", "-"), str(value)]
    if args.allow_production:
        options.append("--credly-allow-production")
    for key, value in _flag_overrides(args).items():
        if value:
            options += ["--credly-" + key.replace("_", "-"), value]
    if args.workers > 1:
        options += ["-p", "xdist", "-n", str(args.workers)]
    code = plugin.exit_code(int(pytest.main(options)))
    results = plugin.LAST_RESULTS[0] if plugin.LAST_RESULTS else None
    if results is not None and results.error:
        print(f"credly-contract: {scrub(results.error)}", file=sys.stderr)
    return code


def _preflight(target: Target, timeout: float) -> None:
    from credly_contract.client import ApiClient, Limits
    from credly_contract.session import Tokens, preflight

    client = ApiClient(target, Limits(timeout=timeout))
    try:
        preflight(client, Tokens(client))
    finally:
        client.close()


def emulate(args: argparse.Namespace) -> int:
    from credly_contract.emulator import FAULTS, EmulatorServer

    if args.list_faults:
        width = max(map(len, FAULTS))
        for name, description in FAULTS.items():
            print(f"{name:<{width}}  {description}")
        return 0
    try:
        server = EmulatorServer(
            host=args.host,
            port=args.port,
            faults=args.fault,
            token_lifetime=args.token_lifetime,
            organization_id=args.seed_organization,
            seed_applications=args.seed_applications,
        )
    except OSError as error:
        raise ConfigError(
            f"cannot listen on {args.host}:{args.port}: {error.strerror}; choose another --port"
        ) from None
    bootstrap = server.bootstrap
    print(f"Credly emulator on {server.origin} (Ctrl-C to stop)")
    if args.fault:
        print(f"faults: {', '.join(args.fault)}")
    print("Point the suite or your integration at it:")
    print(f"  export CREDLY_API_BASE_URL={server.api_base_url}")
    print(f"  export CREDLY_TOKEN_URL={server.token_url}")
    print(f"  export CREDLY_ORGANIZATION_ID={bootstrap.organization_id}")
    print(f"  export CREDLY_CLIENT_ID={bootstrap.client_id}")
    # The emulator's own throwaway bootstrap secret: printing it is this command's purpose.
    print(f"  export CREDLY_CLIENT_SECRET={bootstrap.client_secret}")
    print(f"  export CREDLY_FOREIGN_ORGANIZATION_ID={server.foreign.organization_id}")
    print(f"  export CREDLY_FOREIGN_APPLICATION_ID={server.foreign_application_id}")
    sys.stdout.flush()
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_CONFIG
        if args.command == "certify":
            return certify(args)
        if args.command == "emulate":
            return emulate(args)
        if args.command == "certify-client":
            from credly_contract.client_cert.command import run as certify_client

            return certify_client(args)
        if args.command == "record":
            from credly_contract.cassettes import record

            return record(args)
        if args.command == "cassettes":
            from credly_contract.cassettes import diff_command

            return diff_command(args)
        if args.command == "report":
            from credly_contract.report import report_command

            return report_command(args)
        if args.command == "sweep":
            from credly_contract.sweep import sweep_command

            _warn_credential_flags(args)
            return sweep_command(args)
        raise UsageError(f"unknown command {args.command}")
    except UsageError as error:
        print(str(error), file=sys.stderr)
        return EXIT_CONFIG
    except ConfigError as error:
        print(f"credly-contract: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except TargetUnreachable as error:
        print(f"credly-contract: target unreachable: {error}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except KeyboardInterrupt:
        print("credly-contract: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
