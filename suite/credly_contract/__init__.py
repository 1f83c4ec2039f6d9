"""credly-contract: the contract-test and compliance suite for Credly's OAuth Applications API."""

__version__ = "0.1.0"
