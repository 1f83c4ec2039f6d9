"""Loads the certification plugin (options, fixtures, markers) for `pytest suite/certification`, and the
schemathesis schemas aimed at the run's target."""

import pytest
from schemathesis import GenerationMode

from credly_contract import st
from credly_contract.plugin import *  # noqa: F403


@pytest.fixture(scope="session")
def positive_schema(certification):
    return st.load_schema(certification, GenerationMode.POSITIVE)


@pytest.fixture(scope="session")
def negative_schema(certification):
    return st.load_schema(certification, GenerationMode.NEGATIVE)


@pytest.fixture(scope="session")
def stateful_schema(certification):
    return st.load_schema(certification, GenerationMode.POSITIVE, phases=("stateful",))
