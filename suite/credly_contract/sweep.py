"""`credly-contract sweep`: finds what earlier runs left in the organization, by their ledgers
and by the `credly-contract <run id> ` name prefix, and deletes exactly that (--dry-run lists it).

Only applications older than --older-than are touched, so a run still in progress keeps its own;
the bootstrap application, and anything not named or ledgered by a run, is never touched.
"""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from credly_contract import spec
from credly_contract.config import ConfigError, Target
from credly_contract.http_client import ApiClient, Limits
from credly_contract.ledger import NAME_PREFIX, read_outstanding, record_deleted
from credly_contract.preflight import preflight
from credly_contract.scrub import scrub
from credly_contract.session import Tokens, list_all
from credly_contract.targets import guarded_live_target, target_overrides
from credly_contract.verdict import ExitCode

RUN_NAME = re.compile(rf"^{re.escape(NAME_PREFIX)} ([0-9a-f]{{8}}) ")
RUN_ID = re.compile(r"^[\w-]{1,64}$")
AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass
class Leftover:
    """An application an earlier run created and did not delete."""

    application_id: int
    name: str
    run_id: str
    ledger: Path | None = None
    entry: dict[str, Any] | None = None

    def describe(self) -> str:
        found = f"ledger {self.ledger}" if self.ledger else "name prefix"
        return f"{self.application_id} {self.name!r} (run {self.run_id}, found by {found})"


def parse_age(text: str) -> float:
    """'90s', '30m', '1h', '2d' or plain seconds."""
    match = AGE.match(text)
    if match is None:
        raise ConfigError(f"--older-than {text!r} is not a duration: write it like 30m, 1h or 2d")
    return float(match.group(1)) * SECONDS[match.group(2)]


def created_epoch(value: Any) -> float | None:
    """An application's created_at as epoch seconds (ISO 8601, or epoch numbers)."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def _from_run(app: dict[str, Any], entry: dict[str, Any]) -> bool:
    # A ledgered id is trusted only while the application still carries that run's name (or the
    # exact name the ledger recorded), so a reused or renamed id is never deleted on its word.
    name = str(app.get("name"))
    return name == entry.get("name") or name.startswith(f"{NAME_PREFIX} {entry.get('run_id')} ")


def find_leftovers(
    applications: list[dict[str, Any]],
    target: Target,
    ledger_dir: Path,
    cutoff: float,
    run_name: re.Pattern[str] = RUN_NAME,
) -> tuple[list[Leftover], list[tuple[Path, dict[str, Any]]], list[str]]:
    """What to delete, ledger entries whose application is gone, and what was passed over."""
    by_id = {a["id"]: a for a in applications if isinstance(a.get("id"), int)}
    found: dict[int, Leftover] = {}
    gone: list[tuple[Path, dict[str, Any]]] = []
    passed_over: list[str] = []
    for path in sorted(ledger_dir.glob("**/ledger-*.jsonl")):
        for entry in read_outstanding(path):
            app_id = entry.get("application_id")
            ours = entry.get("organization_id") == target.organization_id
            if not ours or not isinstance(app_id, int) or float(entry.get("at") or 0) > cutoff:
                continue
            app = by_id.get(app_id)
            if app is None:
                gone.append((path, entry))
            elif _from_run(app, entry):
                found[app_id] = Leftover(
                    app_id, str(app.get("name")), str(entry.get("run_id")), path, entry
                )
            else:
                passed_over.append(
                    f"{app_id}: in {path} but now named {app.get('name')!r}; not touching it"
                )
    for app_id, app in by_id.items():
        match = run_name.match(str(app.get("name") or ""))
        created = created_epoch(app.get("created_at"))
        if app_id in found or match is None or created is None or created > cutoff:
            continue
        found[app_id] = Leftover(app_id, str(app.get("name")), match.group(1))
    for app_id in list(found):
        if by_id[app_id].get("uid") == target.client_id:
            passed_over.append(
                f"{app_id}: the bootstrap application (CREDLY_CLIENT_ID); never deleted"
            )
            del found[app_id]
    return sorted(found.values(), key=lambda leftover: leftover.application_id), gone, passed_over


def sweep(
    client: ApiClient,
    token: str,
    ledger_dir: Path,
    older_than: float,
    dry_run: bool,
    run_id: str | None = None,
    say: Any = print,
) -> int:
    """Delete (or list) the leftovers older than ``older_than`` seconds; with ``run_id``, those of
    that one run whatever their age (a finished run's own leftovers, as its summary suggests)."""
    target = client.target
    cutoff = float("inf") if run_id else time.time() - older_than
    run_name = (
        re.compile(rf"^{re.escape(NAME_PREFIX)} ({re.escape(run_id)}) ") if run_id else RUN_NAME
    )
    applications = list_all(client, target, token)
    leftovers, gone, passed_over = find_leftovers(
        applications, target, ledger_dir, cutoff, run_name
    )
    if run_id:
        leftovers = [leftover for leftover in leftovers if leftover.run_id == run_id]
        gone = [(path, entry) for path, entry in gone if entry.get("run_id") == run_id]
    which = f"of run {run_id}" if run_id else f"older than {older_than:g}s"
    say(
        f"sweep: organization {target.organization_id} at {target.api_base_url}: "
        f"{len(leftovers)} leftover application(s) {which}"
    )
    for note in passed_over:
        say(f"  passed over {note}")
    if not run_id:
        # A killed run's leftovers are young: say they exist, or "0 leftover" reads as "all clean".
        everything = find_leftovers(applications, target, ledger_dir, float("inf"), run_name)[0]
        shown = {leftover.application_id for leftover in leftovers}
        newer = sorted({left.run_id for left in everything if left.application_id not in shown})
        count = sum(left.application_id not in shown for left in everything)
        if count:
            say(
                f"sweep: not showing {count} newer leftover application(s) (younger than "
                f"--older-than {older_than:g}s, of run(s) {', '.join(newer)}): a run may still be "
                "using them; pass --run RUN_ID (or a smaller --older-than) to include them"
            )
    failed = 0
    for leftover in leftovers:
        if dry_run:
            say(f"  would delete {leftover.describe()}")
            continue
        exchange = client.delete(target.application_url(leftover.application_id), token=token)
        if exchange.status in (200, 204, 404):
            say(f"  deleted {leftover.describe()}")
            if leftover.ledger is not None and leftover.entry is not None:
                record_deleted(leftover.ledger, leftover.entry)
        else:
            failed += 1
            say(f"  could not delete {leftover.describe()}: {exchange.summary()}")
    if not dry_run:
        for path, entry in gone:
            record_deleted(path, entry)
    if dry_run:
        say(f"sweep: dry run: {len(leftovers)} would be deleted, nothing was")
    else:
        say(f"sweep: deleted {len(leftovers) - failed}, could not delete {failed}")
    return ExitCode.NOT_COMPLIANT if failed else ExitCode.CERTIFIED


def sweep_command(args: argparse.Namespace) -> int:
    """`credly-contract sweep`: reads the live target from CREDLY_* variables or flags."""
    older_than = parse_age(args.older_than)
    if args.run is not None and not RUN_ID.match(args.run):
        raise ConfigError(f"--run {args.run!r} is not a run id (like 9c609ff6)")
    target = guarded_live_target(
        target_overrides(args),
        allow_production=args.dry_run and args.allow_production,
        read_only=True,
        refusal="refusing to sweep {hosts}: runs never create anything there; "
        "--dry-run --allow-production only lists",
    )
    ledger_dir = Path(args.ledger_dir)
    client = ApiClient(target, Limits(min_interval=0.05))
    client.read_only = args.dry_run
    try:
        tokens = Tokens(client)
        preflight(client, tokens.remember)
        token = tokens.get(*spec.oauth_scopes())
        return sweep(
            client,
            token,
            ledger_dir,
            older_than,
            args.dry_run,
            run_id=args.run,
            say=lambda line: print(scrub(line), flush=True),
        )
    finally:
        client.close()
