"""The recording commands: `credly-contract record` (the cassette scenarios against a target, into a
recording folder) and `credly-contract certify --target replay` (the same scenarios, offline).
They start a run, so they sit beside the cassettes package, not in it: the run reads cassettes."""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import time
from pathlib import Path

from credly_contract.cassettes.target_file import (
    EMULATOR_ORGANIZATION_ID,
    EMULATOR_RUN_ID,
    METADATA_FILE,
    PREFLIGHT,
    default_folder,
    replay_folder,
)
from credly_contract.engine.settings import Given, RunSettings
from credly_contract.invocation import SCENARIOS_DIR, run_suite
from credly_contract.targets import guarded_live_target, target_overrides
from credly_contract.verdict import ExitCode


def replay(settings: RunSettings) -> int:
    """`credly-contract certify --target replay [--cassettes-dir DIR]`: the scenarios, offline.

    Its verdict is passed_in_scope at best: the recordings prove only the requirements the
    scenarios are tagged with. The settings hold the recording's run id (RunSettings.build read
    it, so a missing or broken folder was a configuration error before pytest)."""
    folder = replay_folder(settings.cassettes_dir)
    code, _ = run_suite(SCENARIOS_DIR, dataclasses.replace(settings, cassettes_dir=str(folder)))
    return code


def record(args: argparse.Namespace) -> int:
    """`credly-contract record [--target emulated|live] [--cassettes-dir DIR]`: all scenarios anew.

    The recording goes to a sibling folder first and replaces DIR only when every scenario ran, so a
    broken target never destroys the cassettes that were there.
    """
    kind = args.target
    target = None
    given: dict[str, Given] = {"target": kind, "reports_dir": getattr(args, "reports_dir", None)}
    if kind == "live":
        overrides = target_overrides(args)
        target = guarded_live_target(
            overrides,
            allow_production=False,
            read_only=False,
            refusal="refusing to record against {hosts}: the scenarios create and "
            "delete applications; record a staging target instead",
        )
        given.update(overrides)
    else:
        given |= {"organization_id": EMULATOR_ORGANIZATION_ID, "run_id": EMULATOR_RUN_ID}
    folder = Path(args.cassettes_dir) if args.cassettes_dir else default_folder(kind, target)
    staging = folder.with_name(folder.name + ".recording")
    shutil.rmtree(staging, ignore_errors=True)
    given["cassettes_dir"] = str(staging)
    given["reports_dir"] = str(getattr(args, "reports_dir", None) or certificate_folder(folder))
    started = time.monotonic()
    code, _ = run_suite(SCENARIOS_DIR, RunSettings.build(given), target)
    if (
        code not in (ExitCode.CERTIFIED, ExitCode.NOT_COMPLIANT)
        or not (staging / METADATA_FILE).is_file()
    ):
        shutil.rmtree(staging, ignore_errors=True)
        print(f"credly-contract: nothing recorded; {folder} is unchanged", file=sys.stderr)
        return code
    _replace_recording(staging, folder)
    scenarios = [
        p for p in folder.glob("*.yaml") if p.stem not in (PREFLIGHT, Path(METADATA_FILE).stem)
    ]
    print(
        f"recorded {len(scenarios)} scenario cassettes, {PREFLIGHT}.yaml and {METADATA_FILE} "
        f"into {folder} in {time.monotonic() - started:.1f} s"
    )
    if code == ExitCode.NOT_COMPLIANT:
        print(
            "credly-contract: the target broke requirements; the cassettes hold the evidence",
            file=sys.stderr,
        )
    return code


def certificate_folder(cassettes: Path) -> Path:
    """Where a recording's certificate goes unless --reports-dir says: beside its cassettes
    (``cassettes/emulator-certificate/``), so a recording made anywhere leaves nothing elsewhere."""
    return cassettes.with_name(cassettes.name + "-certificate")


def _replace_recording(staging: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.yaml"):
        old.unlink()
    for new in staging.glob("*.yaml"):
        new.replace(folder / new.name)
    shutil.rmtree(staging, ignore_errors=True)
