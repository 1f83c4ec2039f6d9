"""A faithful, in-memory emulator of Credly's OAuth Applications API and token endpoint."""

from suite.emulator.faults import FAULTS, Faults
from suite.emulator.server import EmulatorServer
from suite.emulator.store import Clock, Store

__all__ = ["FAULTS", "Clock", "EmulatorServer", "Faults", "Store"]
