"""Building the target a run talks to: the one place a live target is read from flags and CREDLY_*
variables and guarded against production, for every command that reaches one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from credly_contract.config import (
    ENVIRONMENT,
    ConfigError,
    Target,
    guard_production,
    live_target,
    refused_settings,
)


def target_overrides(values: Any, prefix: str = "") -> dict[str, str | None]:
    """The target settings given as flags: ``values`` is an argparse namespace (``prefix`` "") or
    pytest's option namespace (``prefix`` "credly_")."""
    return {key: getattr(values, prefix + key, None) for key in ENVIRONMENT}


def guarded_live_target(
    overrides: Mapping[str, str | None],
    *,
    allow_production: bool,
    read_only: bool,
    refusal: str | None = None,
) -> Target:
    """A live target from flags and CREDLY_* variables, refused before anything is sent when it
    names a production (or CREDLY_DENY_HOSTS) host, unless ``allow_production`` and ``read_only``.

    ``refusal`` replaces the certify-specific advice for commands that have no read-only profile
    (record, sweep); it may use ``{hosts}``, the refused hosts and the settings that name them."""
    target = live_target(overrides)
    try:
        guard_production(target, allow_production, read_only)
    except ConfigError:
        if refusal is None:
            raise
        raise ConfigError(refusal.format(hosts=refused_settings(target))) from None
    return target


def emulated_target(emulator: Any) -> Target:
    """The target a running EmulatorServer offers: its URLs and bootstrap application."""
    return Target(
        kind="emulated",
        api_base_url=emulator.api_base_url,
        token_url=emulator.token_url,
        organization_id=emulator.bootstrap.organization_id,
        client_id=emulator.bootstrap.client_id,
        client_secret=emulator.bootstrap.client_secret,
        foreign_organization_id=emulator.foreign.organization_id,
    )
