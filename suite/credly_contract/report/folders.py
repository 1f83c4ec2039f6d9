"""Where a run's artefacts go: reports/<UTC timestamp>-<run id>/ (or a folder the user chose), the
reports/latest pointer, and following that pointer back."""

from __future__ import annotations

import os
import time
from pathlib import Path

REPORTS_ROOT = Path("reports")
LATEST = "latest"


def run_folder(chosen: str | Path | None, run_id: str) -> Path:
    """The run's artefact folder: the chosen one, or reports/<UTC timestamp>-<run id>/, named after
    the same run id as the run's ledger and the applications it creates."""
    if chosen:
        return Path(chosen)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return REPORTS_ROOT / f"{stamp}-{run_id}"


def link_latest(run_dir: Path) -> None:
    """Point reports/latest at this run: a relative symlink, or a text file naming the run's folder
    where symlinks cannot be made (Windows without developer mode)."""
    run_dir = run_dir.absolute()
    if run_dir.parent.name != REPORTS_ROOT.name:
        return
    latest = run_dir.parent / LATEST
    if latest.is_dir() and not latest.is_symlink():
        return  # someone's real folder: leave it alone
    staged = run_dir.parent / f".latest-{os.getpid()}"
    try:
        staged.unlink(missing_ok=True)
        staged.symlink_to(run_dir.name, target_is_directory=True)
        os.replace(staged, latest)
    except OSError:
        staged.unlink(missing_ok=True)
        if latest.is_symlink():
            latest.unlink()
        latest.write_text(run_dir.name + "\n", encoding="utf-8")


def resolve_run_dir(path: Path) -> Path:
    """A run folder, following a reports/latest text file left where symlinks are unavailable."""
    if path.is_file() and path.name == LATEST:
        return path.parent / path.read_text(encoding="utf-8").strip()
    return path
