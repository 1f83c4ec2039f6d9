"""A faithful, in-memory emulator of Credly's OAuth Applications API and token endpoint."""

from credly_contract.emulator.faults import FAULTS, Faults
from credly_contract.emulator.server import EmulatorServer
from credly_contract.emulator.store import Clock, Store

__all__ = ["FAULTS", "Clock", "EmulatorServer", "Faults", "Store"]
