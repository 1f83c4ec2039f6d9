"""Loads the certification plugin (options, fixtures, markers) for `pytest suite/certification`."""

from suite.plugin import *  # noqa: F403
