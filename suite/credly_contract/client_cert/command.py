"""`credly-contract certify-client`: run a partner's integration against a fresh emulator (or through a
recording proxy to a live target), inject what real Credly does, judge every CLIENT-* requirement and
write the same artefacts as a server certification.

Exit codes are `credly_contract.verdict.ExitCode`s; EPILOG says which this command returns.
"""

from __future__ import annotations

import argparse
import signal
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from credly_contract.catalogue import client_requirements
from credly_contract.client_cert.exchanges import CLEAN, INJECTED
from credly_contract.client_cert.injections import INJECTION_PROFILES, INJECTIONS, Injector
from credly_contract.config import ConfigError, Target
from credly_contract.facts import RunFacts
from credly_contract.interrupts import Terminated
from credly_contract.scrub import basic_credentials, register, scrub
from credly_contract.targets import guarded_live_target
from credly_contract.verdict import ErrorKind, ExitCode, RunError, exit_codes_help

if TYPE_CHECKING:  # the recorder and the runner load only when certify-client runs
    from credly_contract.client_cert.middleware import Recorder
    from credly_contract.client_cert.runner import Outcome

CATALOGUE_FILE = "suite/credly_contract/client_requirements.yaml"  # as error messages name it
DEFAULT_TIMEOUT_SECONDS = 120.0
OFF_FLAGS = {"no_expire_token": "--no-expire-token", "no_429": "--no-429", "no_503": "--no-503"}
EPILOG = (
    """injections (each named in the certificate; a flag turns it off):
"""
    + "\n".join(f"  {i.name:<14} {i.description} ({i.flag})" for i in INJECTIONS.values())
    + f"""
  quick injects {", ".join(INJECTION_PROFILES["quick"])}; standard adds {", ".join(INJECTION_PROFILES["standard"][3:])}

the integration runs with CREDLY_API_BASE_URL, CREDLY_TOKEN_URL, CREDLY_ORGANIZATION_ID,
CREDLY_CLIENT_ID and CREDLY_CLIENT_SECRET; --upstream live reads the same variables as the live target.
Over HTTPS (the default) it is told to trust the run's throwaway certificate authority through
SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, NODE_EXTRA_CA_CERTS and CREDLY_CA_BUNDLE.

a switched-off injection leaves its requirement not_run, outside the run's scope: the verdict is
then passed_in_scope (exit {ExitCode.CERTIFIED:d}) when everything else held, never certified.

"""
    + textwrap.fill(
        exit_codes_help(
            {
                ExitCode.CERTIFIED: "certified (or passed_in_scope)",
                ExitCode.NOT_COMPLIANT: "not compliant",
                ExitCode.CONFIG: "usage or configuration error",
                ExitCode.UNREACHABLE: "the live target gave no usable answer (none, or "
                "502/503/504 three times in a row)",
                ExitCode.INTERRUPTED: "Ctrl-C",
                ExitCode.TERMINATED: "SIGTERM (the integration is stopped too)",
            }
        ),
        width=100,
    )
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `certify-client` on the CLI's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "certify-client",
        help="certify a client integration: run it against the emulator and judge how it behaves",
        description="Run a partner's integration against a fresh emulator (or through a recording "
        "proxy to a live target), inject what real Credly does, judge every CLIENT-* requirement "
        "and write the same artefacts as a server certification.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--profile",
        choices=sorted(INJECTION_PROFILES),
        default="quick",
        help="which injections are planned (below; default quick)",
    )
    parser.add_argument(
        "--reports-dir",
        default=None,
        help="where the artefacts go (default reports/<UTC timestamp>-<run id>/)",
    )
    parser.add_argument(
        "--upstream",
        choices=["emulated", "live"],
        default="emulated",
        help="a fresh emulator (default), or a recording proxy in front of the live target the "
        "CREDLY_* variables name (never production)",
    )
    parser.add_argument(
        "--scheme",
        choices=["https", "http"],
        default="https",
        help="serve the integration HTTPS with a certificate authority made for the run (default: "
        "real Credly is HTTPS only), or plain HTTP",
    )
    parser.add_argument(
        "--timeout-seconds",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help=f"time limit of the integration's run (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    for dest, flag in OFF_FLAGS.items():
        names = [i.name for i in INJECTIONS.values() if i.flag == flag]
        parser.add_argument(
            flag, dest=dest, action="store_true", help="do not inject " + " or ".join(names)
        )
    parser.add_argument(
        "--waivers",
        default=None,
        metavar="FILE",
        help="QA's written acceptance of failed SHOULD requirements, each with a reason and an "
        "expiry (waivers: [{id: CLIENT-BACKOFF, reason: ..., expires: YYYY-MM-DD}])",
    )
    parser.add_argument(
        "--watch-dir",
        default=None,
        metavar="DIR",
        help="a folder the integration writes to; no secret may appear in its files",
    )
    parser.add_argument(
        "integration",
        nargs=argparse.REMAINDER,
        metavar="-- COMMAND ...",
        help="the integration's own task, run with the five CREDLY_* variables",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    """Run one client certification; returns the exit code."""
    from credly_contract.client_cert.judges import ClientRun
    from credly_contract.client_cert.judging import Judging
    from credly_contract.client_cert.middleware import Recorder
    from credly_contract.client_cert.runner import run_integration
    from credly_contract.engine.run import Engine, Subject
    from credly_contract.engine.settings import RunSettings
    from credly_contract.invocation import CLIENT_CERTIFICATION_DIR, run_suite
    from credly_contract.report.folders import run_folder
    from credly_contract.report.manifest import EXCHANGES
    from credly_contract.report.waivers import load_waivers
    from credly_contract.session import new_run_id

    command = _integration_command(args)
    watch_dir = _watched_folder(args)
    waivers = (
        load_waivers(args.waivers, client_requirements(), CATALOGUE_FILE) if args.waivers else []
    )
    target = _live_target() if args.upstream == "live" else None
    run_id = new_run_id()
    run_dir = run_folder(args.reports_dir, run_id)
    try:  # before the integration runs: a run whose certificate cannot be written is wasted
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"--reports-dir {run_dir}: cannot create it ({error.strerror}); choose a writable folder"
        ) from None
    off = {flag for dest, flag in OFF_FLAGS.items() if getattr(args, dest)}
    injector = Injector.for_profile(args.profile, off)
    recorder = Recorder(injector)
    upstream = _upstream(target, recorder, args.scheme)
    register(upstream.client_secret, "CLIENT_SECRET")
    # The same secret as HTTP Basic sends it: masked even where an integration prints it bare.
    for value in basic_credentials(upstream.client_id, upstream.client_secret):
        register(value, "CREDENTIAL")
    started_at = time.time()
    planned = ", ".join(i.name for i in injector.planned) or "nothing"
    with upstream:
        print(
            f"certify-client: {upstream.kind} upstream on {upstream.origin}; injecting {planned}; "
            f"running: {scrub(' '.join(command))}",
            file=sys.stderr,
            flush=True,
        )
        try:
            # First with nothing injected (does it do its job?), then with the injections (does
            # it survive them?): judges.CLIENT-COMPLETES and CLIENT-RESILIENT.
            recorder.phase = CLEAN
            clean = run_integration(command, upstream.environment(), args.timeout_seconds)
            recorder.phase = INJECTED
            outcome = clean
            if not upstream.target_down:  # a target that is down makes the run an error anyway
                print("certify-client: again, with the injections", file=sys.stderr, flush=True)
                outcome = run_integration(command, upstream.environment(), args.timeout_seconds)
        except KeyboardInterrupt as interrupted:
            print("credly-contract: interrupted; the integration was stopped", file=sys.stderr)
            terminated = isinstance(interrupted, Terminated)
            return ExitCode.for_signal(signal.SIGTERM if terminated else signal.SIGINT)
    client_run = ClientRun(
        exchanges=list(recorder.exchanges),
        injector=injector,
        outcome=outcome,
        client_secret=upstream.client_secret,
        known_secrets=upstream.known_secrets(),
        api_base_path=urlsplit(upstream.environment()["CREDLY_API_BASE_URL"]).path,
        watch_dir=watch_dir,
        timeout=args.timeout_seconds,
        client_id=upstream.client_id,
        clean_outcome=clean,
    )
    for secret in client_run.secrets:
        register(secret, "ACCESS_TOKEN" if secret in client_run.issued else "CLIENT_SECRET")
    down = upstream.target_down
    subject = Subject(
        requirements=client_requirements(),
        profile=args.profile,
        waivers=waivers,
        facts=RunFacts(
            target=upstream.public(),
            started_at=started_at,
            requests_sent=len(client_run.exchanges),
            error=RunError(ErrorKind.UNREACHABLE, scrub("the live target: " + down[0]))
            if down
            else None,
        ),
        certificate={
            "kind": "client",
            "integration": _integration_facts(command, clean, outcome, watch_dir),
            "injections": injector.public() + upstream.injections(),
            "timeline": [exchange.timeline_entry() for exchange in client_run.exchanges],
        },
        files={EXCHANGES: [exchange.evidence() for exchange in client_run.exchanges]},
    )
    # The judging is a certification run of the client catalogue, with the same engine, pytest
    # plugin and artefacts as `certify`'s (client_cert/certification/).
    settings = RunSettings.build({"reports_dir": str(run_dir), "run_id": run_id}, environ={})
    engine = Engine(settings, subject=subject)
    code, _ = run_suite(
        CLIENT_CERTIFICATION_DIR, settings, engine=engine, plugins=[Judging(client_run, engine)]
    )
    return int(code)


def _integration_command(args: argparse.Namespace) -> list[str]:
    """The integration's command line (after --), checked before anything starts."""
    from credly_contract.client_cert.runner import check_runnable

    command = list(args.integration)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise ConfigError(
            "certify-client needs the integration's command after --, e.g. "
            "credly-contract certify-client -- python sync.py"
        )
    check_runnable(command)
    if args.timeout_seconds <= 0:
        raise ConfigError(f"--timeout-seconds must be positive, not {args.timeout_seconds:g}")
    return command


def _watched_folder(args: argparse.Namespace) -> Path | None:
    """--watch-dir, which must be a folder that exists (no secret may appear in its files)."""
    watch_dir = Path(args.watch_dir) if args.watch_dir else None
    if watch_dir is not None and not watch_dir.is_dir():
        what = "is a file" if watch_dir.exists() else "does not exist"
        raise ConfigError(
            f"--watch-dir {watch_dir} {what}; give the folder the integration writes to "
            "(create it first if the integration does not)"
        )
    return watch_dir


def _integration_facts(
    command: list[str], clean: Outcome, injected: Outcome, watch_dir: Path | None
) -> dict[str, object]:
    """The certificate's ``integration``: its command and how its two runs ended."""
    return {
        "command": command,
        "exit_code": injected.returncode,
        "timed_out": injected.timed_out,
        "seconds": round(injected.seconds, 3),
        "watched_folder": str(watch_dir) if watch_dir else None,
        "run_without_injections": {
            "exit_code": clean.returncode,
            "timed_out": clean.timed_out,
            "seconds": round(clean.seconds, 3),
        },
    }


def _live_target() -> Target:
    """The configured live target, refused if it is production (the integration may write)."""
    try:
        return guarded_live_target(
            {},
            allow_production=False,
            read_only=False,
            refusal="certify-client --upstream live refuses {hosts}: the integration may create "
            "and delete applications there; point the CREDLY_* variables at staging",
        )
    except ConfigError as error:
        # config words a missing variable for `certify --target live`, which also takes flags;
        # certify-client reads the variables only.
        message = str(error).replace("--target live", "--upstream live").split(" (or pass the")[0]
        raise ConfigError(message) from None


def _upstream(target: Target | None, recorder: Recorder, scheme: str) -> Any:
    from credly_contract.client_cert.upstream import EmulatedUpstream, LiveUpstream
    from credly_contract.preflight import check_target

    if target is None:
        return EmulatedUpstream(recorder, scheme=scheme)
    check_target(target)
    return LiveUpstream(recorder, target, scheme=scheme)
