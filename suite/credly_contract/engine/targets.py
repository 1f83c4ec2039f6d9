"""The target strategy of a run: the emulator, a live target (guarded against production) or a
recording, chosen by its settings; a live target is built once per process and handed on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from credly_contract.config import Target
from credly_contract.engine.settings import RunSettings
from credly_contract.profiles import PROFILES
from credly_contract.targets import emulated_target, guarded_live_target

if TYPE_CHECKING:
    from credly_contract.emulator import EmulatorServer


def live_target(settings: RunSettings) -> Target:
    """The live target of ``settings`` (flags over CREDLY_* variables), refused before anything is
    sent when it names a production host and the run may write."""
    return guarded_live_target(
        settings.target_settings,
        allow_production=settings.allow_production,
        read_only=PROFILES[settings.profile_name].read_only,
    )


def open_target(
    settings: RunSettings, given: Target | None = None
) -> tuple[Target, EmulatorServer | None]:
    """The run's target: a started emulator's (emulated), the live one (``given`` when the command
    already built and proved it), or the recording's (replay). The emulator, if any, is returned
    so the run can stop it."""
    if settings.target == "emulated":
        from credly_contract.emulator import EmulatorServer

        emulator = EmulatorServer(
            faults=settings.fault,
            seed_applications=settings.seed_applications,
            organization_id=settings.target_settings.get("organization_id"),
            latency_ms=settings.latency,
        ).start()
        return emulated_target(emulator), emulator
    if settings.target == "live":
        return given or live_target(settings), None
    from credly_contract.cassettes.target_file import replay_target

    return replay_target(settings.cassettes_dir)[0], None
