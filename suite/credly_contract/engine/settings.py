"""One certification run's settings: :class:`RunSettings`, a frozen dataclass whose fields are the
one table of options.

Each field declares its option once (type, default, help, choices or bounds, the CREDLY_* variable
that may set it); ``credly-contract certify``'s flags (``--profile``) and the pytest plugin's
options (``--credly-profile``) are both generated from it, and :meth:`RunSettings.build` is the one
place their values are validated. A door builds the settings once and hands the object on; adding an
option is adding a field here.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from credly_contract.config import ENVIRONMENT, ConfigError
from credly_contract.profiles import PROFILES
from credly_contract.request_plan import planned

TARGETS = ("emulated", "live", "replay")
CLI_PREFIX, PYTEST_PREFIX = "--", "--credly-"
# An option's value as the doors hand it over: a flag's text (or a number argparse parsed), a
# repeated flag's list, a switch's bool; None when it was not given.
Given = str | int | float | bool | list[str] | tuple[str, ...] | None
# A setting as an xdist worker is handed it (plain JSON-like values).
Fact = str | int | float | bool | list[str] | dict[str, str | None] | None
T = TypeVar("T")


def requests_of(profile: str) -> str:
    """A profile's request count as request_plan.json measured it (to the nearest ten), worded for
    help texts: the one source of those numbers, so help never goes stale when the plan changes."""
    measured = planned(profile)
    return f", ~{round(measured['total'], -1)} requests" if measured else ""


@dataclass(frozen=True)
class Option:
    """How a RunSettings field is offered as an option: on ``certify`` (``cli``) and as a pytest
    ``--credly-*`` option (``pytest``), with one help text and one set of bounds."""

    help: str
    variable: str | None = None
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    above: float | None = None  # exclusive lower bound
    metavar: str | None = None
    short: str | None = None  # certify only, e.g. -v
    cli: bool = True
    pytest: bool = True


def option(
    default: T,
    help: str,
    *,
    variable: str | None = None,
    choices: tuple[str, ...] | None = None,
    minimum: float | None = None,
    above: float | None = None,
    metavar: str | None = None,
    short: str | None = None,
    cli: bool = True,
    pytest: bool = True,
) -> T:
    """A RunSettings field that is an option (see :class:`Option`): its default and its row."""
    how = Option(help, variable, choices, minimum, above, metavar, short, cli, pytest)
    made: T = field(default=default, metadata={"option": how})
    return made


def _budgets() -> str:
    return ", ".join(f"{name} {profile.live_budget}" for name, profile in PROFILES.items())


@dataclass(frozen=True)
class RunSettings:
    """The validated settings of one certification run. Build it with :meth:`build`."""

    target: str = option(
        "emulated",
        "emulated (the built-in emulator on 127.0.0.1, default), live (CREDLY_* variables) or "
        "replay (the recorded cassette scenarios, offline; verdict passed_in_scope at best)",
        variable="CREDLY_TARGET",
        choices=TARGETS,
    )
    profile: str | None = option(
        None,
        f"quick (pull requests; the default for live targets{requests_of('quick')}), standard "
        f"(the default otherwise{requests_of('standard')}), thorough (nightly"
        f"{requests_of('thorough')}), readonly (creates nothing)",
        variable="CREDLY_PROFILE",
        choices=tuple(sorted(PROFILES)),
    )
    reports_dir: str | None = option(
        None,
        "the run's artefact folder (default reports/<UTC timestamp>-<run id>/, the run id its "
        "ledger and application names carry)",
        variable="CREDLY_REPORTS_DIR",
        metavar="DIR",
    )
    run_id: str | None = option(
        None,
        "the run id: names the reports folder, the ledger and the applications (default: a new "
        "one; a replay's is the recording's)",
        cli=False,
    )
    requirements: str | None = option(
        None,
        "a YAML catalogue of your own requirements (docs/plugin.md)",
        variable="CREDLY_REQUIREMENTS",
        metavar="FILE",
        cli=False,
    )
    cassettes_dir: str | None = option(
        None,
        "the recording to replay (default cassettes/emulator) or to record into",
        variable="CREDLY_CASSETTES_DIR",
        metavar="DIR",
    )
    waivers: str | None = option(
        None,
        "waivers.yaml for known SHOULD failures",
        variable="CREDLY_WAIVERS",
        metavar="FILE",
    )
    sign_key: str | None = option(
        None,
        "sign the run's manifest with this Ed25519 private key (a PEM file) into manifest.sig, "
        "for `report --public-key` to check (docs/reports.md)",
        variable="CREDLY_SIGNING_KEY",
        metavar="FILE",
    )
    fault: tuple[str, ...] = option(
        (),
        "emulated target only: break one documented rule (repeatable; see emulate --list-faults)",
        metavar="NAME",
    )
    seed_applications: int = option(
        0,
        "emulated target only: create N applications in its organization at start",
        minimum=0,
        metavar="N",
        cli=False,
    )
    latency: float = option(
        0.0,
        "emulated target only: the emulator answers every request MS milliseconds late",
        minimum=0,
        metavar="MS",
    )
    workers: int = option(1, "parallel pytest-xdist workers", minimum=1, metavar="N", pytest=False)
    max_requests: int | None = option(
        None,
        f"request budget (default for live targets, per profile: {_budgets()})",
        minimum=1,
        metavar="N",
    )
    rate_limit: float | None = option(
        None,
        "requests per second, shared by all workers (default 20 against live targets)",
        above=0,
        metavar="N",
    )
    timeout: float = option(10.0, "per-request timeout in seconds", above=0, metavar="S")
    allow_production: bool = option(
        False, "allow production hosts (only with the readonly profile)"
    )
    verbose: bool = option(False, "show every test", short="-v", pytest=False)
    dry_run: bool = option(
        False,
        "send nothing: print what each requirement costs in requests on the profile and exit",
        pytest=False,
    )
    # The live target's settings given as flags (config.ENVIRONMENT: api_base_url, ...); they
    # override the CREDLY_* variables, which the live target reads where it is built.
    target_settings: Mapping[str, str | None] = field(default_factory=dict)

    @property
    def profile_name(self) -> str:
        assert self.profile is not None, "RunSettings.build resolves the profile"
        return self.profile

    @property
    def run_folder(self) -> Path:
        assert self.reports_dir is not None, "RunSettings.build resolves the reports folder"
        return Path(self.reports_dir)

    @property
    def run_identity(self) -> str:
        assert self.run_id is not None, "RunSettings.build resolves the run id"
        return self.run_id

    @property
    def request_budget(self) -> int | None:
        """The most requests the run may send: --max-requests, else the profile's live budget
        against a live target, else none."""
        if self.max_requests is not None:
            return self.max_requests
        return PROFILES[self.profile_name].live_budget if self.target == "live" else None

    @property
    def min_interval(self) -> float:
        """Seconds between two requests: --rate-limit's, else 20 per second against a live target
        (a shared staging organization), else unpaced."""
        if self.rate_limit:
            return 1.0 / self.rate_limit
        return 0.05 if self.target == "live" else 0.0

    @classmethod
    def build(
        cls,
        given: Mapping[str, Given],
        *,
        environ: Mapping[str, str] | None = None,
        prefix: str = CLI_PREFIX,
    ) -> RunSettings:
        """Settings from the values a door was given (None: not given), the CREDLY_* variables
        where the table names one, and the defaults; raises ConfigError naming the option (as
        ``prefix`` spells it) and the fix. The one place a run's options are validated."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec, kind in _options():
            values[spec.name] = _value(spec, kind, given.get(spec.name), environ, prefix)
        values["target_settings"] = {
            key: _text(given.get(key)) for key in ENVIRONMENT if _text(given.get(key)) is not None
        }
        return cls(**values)._resolved(prefix)

    def _resolved(self, prefix: str) -> RunSettings:
        """Cross-option rules, and the values that default to something derived."""
        flag = _flag_namer(prefix)
        if self.latency and self.target != "emulated":
            raise ConfigError(
                f"{flag('latency')} takes 0 or more milliseconds and only applies to "
                f"{flag('target')} emulated (for another target, run `credly-contract emulate "
                "--latency MS` and certify it live)"
            )
        if self.fault and self.target != "emulated":
            raise ConfigError(f"{flag('fault')} only applies to {flag('target')} emulated")
        if self.max_requests is not None and self.max_requests < self.workers:
            # The budget is split between the workers: a share of 0 stops one before it starts.
            raise ConfigError(
                f"{flag('max_requests')} {self.max_requests} is smaller than {flag('workers')} "
                f"{self.workers}, which share it: raise it or run fewer workers"
            )
        if self.fault:
            from credly_contract.emulator.faults import Faults

            Faults(self.fault)  # an unknown name stops the run here, naming the known ones
        if self.sign_key:
            from credly_contract.report.signing import load_private_key

            load_private_key(self.sign_key)  # a key that cannot sign stops the run before it starts
        from credly_contract import catalogue

        try:
            requirements = catalogue.with_extra(self.requirements)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        if self.waivers:
            from credly_contract.report.waivers import load_waivers

            # A malformed file stops the run before anything is sent; a waiver may name a team's
            # own requirement (--credly-requirements).
            load_waivers(self.waivers, requirements)
        # A shared staging organization pays for every request: live runs default to quick.
        profile = self.profile or ("quick" if self.target == "live" else "standard")
        run_id = self.run_id
        if not run_id and self.target == "replay":
            from credly_contract.cassettes.target_file import load_metadata, replay_folder

            # The recorded run id is part of the recorded request bodies (application names).
            run_id = str(load_metadata(replay_folder(self.cassettes_dir))["run_id"])
        if not run_id:
            from credly_contract.session import new_run_id

            run_id = new_run_id()
        from credly_contract.report.folders import run_folder

        reports_dir = str(run_folder(self.reports_dir, run_id))
        return dataclasses.replace(self, profile=profile, run_id=run_id, reports_dir=reports_dir)

    def facts(self) -> dict[str, Fact]:
        """The settings as plain values (what an xdist worker is handed): :meth:`from_facts` builds
        the same settings back without reading the environment again."""
        facts: dict[str, Fact] = dataclasses.asdict(self)
        facts["fault"] = list(self.fault)
        facts["target_settings"] = dict(self.target_settings)
        return facts

    @classmethod
    def from_facts(cls, facts: Mapping[str, Fact]) -> RunSettings:
        values: dict[str, Any] = dict(facts)
        values["fault"] = tuple(values["fault"])
        return cls(**values)


# --- the two doors --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    name: str
    default: Any
    option: Option


def _options() -> list[tuple[_Spec, type]]:
    """Every option field with its value type (int for ``int | None``)."""
    hints = typing.get_type_hints(RunSettings)
    found = []
    for item in dataclasses.fields(RunSettings):
        how = item.metadata.get("option")
        if how is None:
            continue
        hint = hints[item.name]
        if isinstance(hint, types.UnionType):  # int | None: the option's type is int
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        kind = typing.get_origin(hint) or hint  # tuple[str, ...]: a repeatable option
        found.append((_Spec(item.name, item.default, how), kind))
    return found


def _flag_namer(prefix: str) -> Callable[[str], str]:
    return lambda name: prefix + name.replace("_", "-")


def _text(value: Given) -> str | None:
    return None if value is None else str(value)


def _value(spec: _Spec, kind: type, raw: Given, environ: Mapping[str, str], prefix: str) -> Any:
    """One option's value: given, else its variable's, else its default; converted and checked."""
    how = spec.option
    source = _flag_namer(prefix)(spec.name)
    absent = raw is None or raw is False or (isinstance(raw, list | tuple) and not raw)
    if absent and how.variable and environ.get(how.variable):
        raw, source, absent = (
            environ[how.variable],
            f"{how.variable}={environ[how.variable]!r}",
            False,
        )
    if absent:
        return spec.default
    if kind is tuple:
        return tuple(str(item) for item in (raw if isinstance(raw, list | tuple) else [raw]))
    if kind is bool:
        return bool(raw)
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        number = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{source} takes {number}, not {raw!r}") from None
    if kind is float and not math.isfinite(value):
        raise ConfigError(f"{source} takes a finite number, not {raw!r}")
    if how.choices is not None and value not in how.choices:
        raise ConfigError(f"{source}: {value!r} is not one of {', '.join(how.choices)}")
    if how.minimum is not None and value < how.minimum:
        raise ConfigError(f"{source} must be at least {how.minimum:g}, not {value}")
    if how.above is not None and value <= how.above:
        raise ConfigError(f"{source} must be more than {how.above:g}, not {value}")
    return value


def _add_options(add: Callable[..., Any], prefix: str, door: str) -> None:
    """Declare every option of ``door`` ("cli" or "pytest") through ``add`` (argparse's
    add_argument or pytest's addoption). Defaults stay None here: RunSettings.build applies the
    variables and the defaults, so both doors give the same value."""
    flag = _flag_namer(prefix)
    for spec, kind in _options():
        how = spec.option
        if not getattr(how, door):
            continue
        text = how.help
        if kind in (int, float) and spec.default is not None:
            text += f" (default {spec.default:g})"
        if how.variable:
            text += f" (or ${how.variable})"
        names = [flag(spec.name)] + ([how.short] if how.short and door == "cli" else [])
        settings: dict[str, Any] = {"dest": _dest(spec.name, door), "help": text}
        if kind is bool:
            settings |= {"action": "store_true", "default": None}
        elif kind is tuple:
            settings |= {"action": "append", "default": None, "metavar": how.metavar}
        else:
            settings |= {"default": None, "metavar": how.metavar}
            if kind in (int, float):
                settings["type"] = kind
            if how.choices:
                settings["choices"] = how.choices
        add(*names, **settings)
    for key, variable in ENVIRONMENT.items():
        add(
            flag(key),
            dest=_dest(key, door),
            default=None,
            metavar=variable,
            help=f"overrides ${variable}",
        )


def _dest(name: str, door: str) -> str:
    return name if door == "cli" else "credly_" + name


def add_cli_flags(parser: argparse.ArgumentParser) -> None:
    """``certify``'s flags (``--profile``), generated from the table."""
    _add_options(parser.add_argument, CLI_PREFIX, "cli")


class OptionGroup(Protocol):
    """What the options are added to under pytest (its ``OptionGroup``)."""

    def addoption(self, *names: str, **how: object) -> None: ...


def add_pytest_options(group: OptionGroup) -> None:
    """The plugin's options (``--credly-profile``), generated from the table."""
    _add_options(group.addoption, PYTEST_PREFIX, "pytest")


def from_cli(args: argparse.Namespace) -> RunSettings:
    """The settings of ``certify``'s parsed flags."""
    return RunSettings.build(_given(args, "cli"), prefix=CLI_PREFIX)


def from_pytest(option: argparse.Namespace) -> RunSettings:
    """The settings of pytest's parsed ``--credly-*`` options (``config.option``)."""
    return RunSettings.build(_given(option, "pytest"), prefix=PYTEST_PREFIX)


def requested_target(option: argparse.Namespace) -> str | None:
    """The target a pytest run asks for (``--credly-target`` or CREDLY_TARGET), if any: the plugin
    acts only when one is asked for."""
    given = getattr(option, _dest("target", "pytest"), None)
    return given or os.environ.get("CREDLY_TARGET") or None


def _given(namespace: argparse.Namespace, door: str) -> dict[str, Given]:
    names = [spec.name for spec, _ in _options()] + list(ENVIRONMENT)
    return {name: getattr(namespace, _dest(name, door), None) for name in names}
