"""What a run created, written to disk the moment the server answers, so teardown (and a later
`credly-contract sweep`) deletes exactly that and nothing else."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

NAME_PREFIX = "credly-contract"


def resource_name(run_id: str, label: str) -> str:
    return f"{NAME_PREFIX} {run_id} {label}"


class Ledger:
    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self._lock = threading.Lock()
        self._open: dict[tuple[str, int], dict[str, Any]] = {}
        path.parent.mkdir(parents=True, exist_ok=True)

    def _append(self, entry: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
            handle.flush()

    def created(self, organization_id: str, application_id: int, name: str) -> None:
        entry = {
            "event": "created",
            "run_id": self.run_id,
            "organization_id": organization_id,
            "application_id": application_id,
            "name": name,
            "at": time.time(),
        }
        with self._lock:
            self._open[(organization_id, application_id)] = entry
            self._append(entry)

    def deleted(self, organization_id: str, application_id: int) -> None:
        with self._lock:
            if self._open.pop((organization_id, application_id), None) is not None:
                self._append(
                    {
                        "event": "deleted",
                        "run_id": self.run_id,
                        "organization_id": organization_id,
                        "application_id": application_id,
                        "at": time.time(),
                    }
                )

    def owns(self, organization_id: str, application_id: int) -> bool:
        with self._lock:
            return (organization_id, application_id) in self._open

    def outstanding(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._open.values())


def read_outstanding(path: Path) -> list[dict[str, Any]]:
    """Entries created and never deleted, from a ledger file of any earlier run."""
    open_entries: dict[tuple[str, int], dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        key = (entry.get("organization_id"), entry.get("application_id"))
        if entry.get("event") == "created":
            open_entries[key] = entry
        elif entry.get("event") == "deleted":
            open_entries.pop(key, None)
    return list(open_entries.values())


def record_deleted(path: Path, entry: dict[str, Any]) -> None:
    """Close an entry of an earlier run's ledger (sweep deleted it, or found it already gone)."""
    closing = {
        "event": "deleted",
        "run_id": entry.get("run_id"),
        "organization_id": entry.get("organization_id"),
        "application_id": entry.get("application_id"),
        "at": time.time(),
        "by": "sweep",
    }
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(closing) + "\n")
