"""What a run created, written to disk the moment the server answers, so teardown (and a later
`credly-contract sweep`) deletes exactly that and nothing else."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

NAME_PREFIX = "credly-contract"

# An application id as the server wrote it: the contract says integer, but cleanup must delete what a
# server said it created whatever the type it gave (a string "7" included).
ApplicationId = int | str


def application_id_of(application: Any) -> ApplicationId | None:
    """The id an application object carries, if it names one (an int or a non-empty string)."""
    value = application.get("id") if isinstance(application, dict) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.strip()):
        return value
    return None


def resource_name(run_id: str, label: str) -> str:
    return f"{NAME_PREFIX} {run_id} {label}"


class Ledger:
    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self._lock = threading.Lock()
        self._open: dict[tuple[str, ApplicationId], dict[str, Any]] = {}
        path.parent.mkdir(parents=True, exist_ok=True)

    def _append(self, entry: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
            handle.flush()

    def created(self, organization_id: str, application_id: ApplicationId, name: str) -> None:
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

    def deleted(self, organization_id: str, application_id: ApplicationId) -> None:
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

    def owns(self, organization_id: str, application_id: ApplicationId) -> bool:
        with self._lock:
            return (organization_id, application_id) in self._open

    def outstanding(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._open.values())


def read_outstanding(path: Path) -> list[dict[str, Any]]:
    """Entries created and never deleted, from a ledger file of any earlier run."""
    open_entries: dict[tuple[Any, Any], dict[str, Any]] = {}
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
