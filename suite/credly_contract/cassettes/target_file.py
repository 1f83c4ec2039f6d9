"""A recording's description, ``target.yaml``: the recorded target's public URLs, credential
placeholders and run id, from which a replay rebuilds exactly the requests that were recorded; and
where recordings live (cassettes/<target-name>/)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from credly_contract import __version__, spec
from credly_contract.config import ConfigError, Target
from credly_contract.scrub import register, scrub

CASSETTES_ROOT = Path("cassettes")
EMULATOR_FOLDER = "emulator"
METADATA_FILE = "target.yaml"
PREFLIGHT = "preflight"
# An emulated recording is made reproducible: the emulator's loopback origin is written as this
# placeholder, and the organization and run id are fixed, so re-recording changes only timestamps.
EMULATOR_ORIGIN = "http://emulator.invalid"
EMULATOR_ORGANIZATION_ID = "00000000-0000-4000-8000-00000000c0de"
EMULATOR_RUN_ID = "recorded"


def write_metadata(folder: Path, run: Any, stable: Callable[[str], str]) -> Path:
    target: Target = run.target
    folder.mkdir(parents=True, exist_ok=True)
    metadata = {
        "recorded_from": target.kind,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "suite_version": __version__,
        "spec_sha256": spec.spec_sha256(),
        "run_id": run.run_id,
        "api_base_url": stable(target.api_base_url),
        "token_url": stable(target.token_url),
        "organization_id": target.organization_id,
        "foreign_organization_id": target.foreign_organization_id,
        # Placeholders, as the cassettes show them: a replay sends these and matches the recording.
        "client_id": register(target.client_id, "CLIENT_ID"),
        "client_secret": scrub({"client_secret": target.client_secret})["client_secret"],
    }
    path = folder / METADATA_FILE
    header = (
        "# The recorded target's public description; credentials are placeholders.\n"
        "# Re-record with `credly-contract record`; replay with "
        "`credly-contract certify --target replay`.\n"
    )
    path.write_text(header + yaml.safe_dump(metadata, sort_keys=False), encoding="utf-8")
    return path


def load_metadata(folder: Path) -> dict[str, Any]:
    path = folder / METADATA_FILE
    if not path.is_file():
        raise ConfigError(
            f"{folder} holds no recording ({METADATA_FILE} is missing): record one with "
            f"`credly-contract record --cassettes-dir {folder}` or pass --cassettes-dir"
        )
    try:
        metadata = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(
            f"{path} is not YAML ({error}); re-record it with `credly-contract record`"
        ) from None
    needed = (
        "api_base_url",
        "token_url",
        "organization_id",
        "client_id",
        "client_secret",
        "run_id",
    )
    missing = [key for key in needed if not isinstance(metadata, dict) or not metadata.get(key)]
    if missing:
        raise ConfigError(
            f"{path} lacks {', '.join(missing)}; re-record it with `credly-contract record`"
        )
    described: dict[str, Any] = metadata
    return described


def replay_folder(cassettes_dir: str | None) -> Path:
    return Path(cassettes_dir) if cassettes_dir else CASSETTES_ROOT / EMULATOR_FOLDER


def replay_target(cassettes_dir: str | None) -> tuple[Target, str]:
    """The target a recording was made against (URLs, placeholder credentials) and its run id."""
    metadata = load_metadata(replay_folder(cassettes_dir))
    target = Target(
        kind="replay",
        api_base_url=metadata["api_base_url"],
        token_url=metadata["token_url"],
        organization_id=str(metadata["organization_id"]),
        client_id=metadata["client_id"],
        client_secret=metadata["client_secret"],
        foreign_organization_id=metadata.get("foreign_organization_id"),
    )
    return target, str(metadata["run_id"])


def default_folder(kind: str, target: Target | None) -> Path:
    if kind == "emulated" or target is None:
        return CASSETTES_ROOT / EMULATOR_FOLDER
    return CASSETTES_ROOT / (urlsplit(target.api_base_url).hostname or "live")
