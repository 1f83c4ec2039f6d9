"""Ctrl-C and SIGTERM during a certification run: the first one ends the run the way Ctrl-C ends
pytest, so teardown still deletes what the run created; only a second one skips that cleanup.

pytest turns a KeyboardInterrupt into an interrupted session and still calls pytest_sessionfinish,
which tears down session fixtures, so the cleanup lives in the `certification` fixture's teardown.
SIGTERM (CI cancelling a job) raises a KeyboardInterrupt subclass to take exactly the same path.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

NAMES: dict[int, str] = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so pytest ends the run the same way."""


class Interrupts:
    """Counts SIGINT/SIGTERM while installed and decides what each one does."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.shielding: str | None = None  # what the run is finishing, which one signal lets end
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        # Python delivers signals to the main thread only; elsewhere keep the default behaviour.
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in NAMES:
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    @property
    def interrupted(self) -> bool:
        return bool(self.received)

    @property
    def skip_cleanup(self) -> bool:
        return len(self.received) >= 2

    def describe(self) -> str:
        return NAMES.get(self.received[0], f"signal {self.received[0]}") if self.received else ""

    @contextmanager
    def shielded(self, doing: str) -> Iterator[None]:
        """While the run finishes ``doing`` (deleting what it created, writing its certificate):
        one signal lets it finish, saying so; a second stops it."""
        self.shielding = doing
        try:
            yield
        finally:
            self.shielding = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if len(self.received) == 1:
            if self.shielding:
                _say(self.shielding)
                return
            raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        if self.shielding or len(self.received) > 2:
            raise KeyboardInterrupt()
        # A second signal before teardown started: teardown sees skip_cleanup and deletes nothing.


def _say(message: str) -> None:
    # os.write is safe in a signal handler; print() may re-enter a stream it interrupted.
    os.write(2, f"\ncredly-contract: {message}\n".encode())
