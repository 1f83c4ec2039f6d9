"""The package's import layers and its freedom from import cycles hold (import-linter, with the
contracts of [tool.importlinter] in pyproject.toml), so a new arrow that breaks them fails here as well
as in .ci/run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr
    assert "0 broken" in done.stdout
