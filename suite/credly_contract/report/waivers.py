"""Waivers: QA's written acceptance of a known SHOULD failure, with a reason and an expiry date.

A waivers.yaml reads ``waivers: [{id, reason, expires: YYYY-MM-DD}]``. A waiver applies only to a
failed SHOULD requirement and only until (and including) its expiry day. A waiver that can never
apply (a MUST requirement, an expired date) is refused when the file is read: a usage error (exit 2)
before anything is sent, so nobody reads a run as waived that was not. A waiver for a requirement
that passed is reported as an observation so it can be removed. A test whose only failures are
waived is reported skipped, with the waiver, in the console, JUnit and Allure.
The ids are the server catalogue's unless a run passes its own (``requirements=``: certify-client's
CLIENT-* catalogue).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from credly_contract import catalogue
from credly_contract.catalogue import Requirement
from credly_contract.config import ConfigError
from credly_contract.facts import Observation, ObservationKind
from credly_contract.results import FAILED, PASSED

EXAMPLE = "waivers: [{id: SEC-NO-5XX, reason: 'ticket QA-12', expires: 2030-01-31}]"


@dataclass(frozen=True)
class Waiver:
    id: str
    reason: str
    expires: dt.date

    def public(self) -> dict[str, str]:
        return {"reason": self.reason, "expires": self.expires.isoformat()}


def load_waivers(
    path: str | Path,
    requirements: Mapping[str, Requirement] | None = None,
    catalogue_file: str = "suite/credly_contract/requirements.yaml",
    today: dt.date | None = None,
) -> list[Waiver]:
    """Read and check a waivers file against ``requirements`` (the server catalogue by default,
    named ``catalogue_file`` in errors); any problem, and any waiver that cannot apply (a MUST, one
    that expired before ``today``), is a ConfigError naming the file and the fix."""
    path = Path(path)
    known = catalogue.requirements() if requirements is None else requirements

    def problem(what: str) -> ConfigError:
        return ConfigError(f"waivers file {path}: {what} (expected e.g. {EXAMPLE})")

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"waivers file {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"waivers file {path}: cannot be read: {error}") from None
    except yaml.YAMLError as error:
        raise problem(f"not valid YAML ({str(error).splitlines()[0]})") from None
    except ValueError as error:  # YAML's own date parsing, e.g. expires: 2030-13-01
        raise problem(f"holds an impossible date ({error})") from None
    if raw is None:
        return []
    if not isinstance(raw, dict) or set(raw) != {"waivers"}:
        raise problem("the top level must be a mapping with the single key 'waivers'")
    entries = raw["waivers"] or []
    if not isinstance(entries, list):
        raise problem("'waivers' must be a list")
    waivers: list[Waiver] = []
    for number, entry in enumerate(entries, start=1):
        where = f"waiver {number}"
        if not isinstance(entry, dict):
            raise problem(f"{where} is not a mapping")
        missing = [key for key in ("id", "reason", "expires") if key not in entry]
        unknown = sorted(set(entry) - {"id", "reason", "expires"})
        if missing or unknown:
            detail = "; ".join(
                part
                for part in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"unknown key(s) {', '.join(unknown)}" if unknown else "",
                )
                if part
            )
            raise problem(f"{where}: {detail}")
        rid = entry["id"]
        if not isinstance(rid, str) or rid not in known:
            raise problem(f"{where}: id {rid!r} is not a requirement in {catalogue_file}")
        reason = entry["reason"]
        if not isinstance(reason, str) or not reason.strip():
            raise problem(f"{where} ({rid}): reason must be a non-empty string")
        waivers.append(
            Waiver(rid, reason.strip(), _date(entry["expires"], problem, f"{where} ({rid})"))
        )
    seen: set[str] = set()
    for waiver in waivers:
        if waiver.id in seen:
            raise problem(f"{waiver.id} is waived twice; keep one waiver per requirement")
        seen.add(waiver.id)
    today = today or dt.date.today()
    for waiver in waivers:
        if known[waiver.id].level == "MUST":
            raise ConfigError(
                f"waivers file {path}: {waiver.id} is a MUST requirement and cannot be waived; "
                "remove its waiver"
            )
        if waiver.expires < today:
            raise ConfigError(
                f"waivers file {path}: the waiver for {waiver.id} expired on "
                f"{waiver.expires.isoformat()}; renew it with a new reason or remove it"
            )
    return waivers


def describe(waiver: Waiver) -> str:
    """How the console and a skipped test's reason name a waiver."""
    return waived_line(waiver.id, waiver.public())


def waived_line(requirement_id: str, waiver: Mapping[str, str]) -> str:
    """``WAIVED <id> (reason, until <date>)``, from a waiver as the certificate lists it."""
    return f"WAIVED {requirement_id} ({waiver['reason']}, until {waiver['expires']})"


def waiving(failed_ids: set[str], waivers: list[Waiver]) -> list[Waiver] | None:
    """The waivers that cover every one of a test's failed requirements, or None when some
    failure is not waived (the test stays failed)."""
    by_id = {waiver.id: waiver for waiver in waivers}
    if not failed_ids or not failed_ids <= set(by_id):
        return None
    return [by_id[rid] for rid in sorted(failed_ids)]


def _date(value: Any, problem: Any, where: str) -> dt.date:
    # YAML reads an unquoted 2030-01-31 as a date already; a quoted one arrives as a string.
    if isinstance(value, dt.datetime):
        raise problem(f"{where}: expires must be a date (YYYY-MM-DD), not a timestamp")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise problem(f"{where}: expires {value!r} is not a date in the form YYYY-MM-DD")


def apply_waivers(
    statuses: Mapping[str, str],
    waivers: list[Waiver],
    today: dt.date,
) -> tuple[dict[str, Waiver], list[Observation]]:
    """The waivers that apply (by requirement id) and an observation for every one that does not."""
    applied: dict[str, Waiver] = {}
    observations: list[Observation] = []

    def observe(kind: ObservationKind, waiver: Waiver, detail: str) -> None:
        observations.append(
            {
                "kind": kind,
                "requirement": waiver.id,
                "detail": detail,
                "reason": waiver.reason,
                "expires": waiver.expires.isoformat(),
            }
        )

    for waiver in waivers:  # load_waivers refused MUST waivers and those expired at the start
        status = statuses.get(waiver.id)
        if waiver.expires < today:  # it expired while the run ran (past midnight of its last day)
            observe(
                ObservationKind.WAIVER_EXPIRED,
                waiver,
                f"the waiver for {waiver.id} expired on {waiver.expires.isoformat()} and was "
                "ignored; renew it with a new reason or remove it",
            )
        elif status == PASSED:
            observe(
                ObservationKind.WAIVER_UNUSED, waiver, f"{waiver.id} passes now; remove its waiver"
            )
        elif status == FAILED:
            applied[waiver.id] = waiver
    return applied, observations
