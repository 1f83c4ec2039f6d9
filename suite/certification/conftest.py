"""Makes `pytest suite/certification` (or `pytest --pyargs credly_contract.certification`) a
certification run of the whole catalogue, and aims the schemathesis schemas at the run's target."""

import pytest
from schemathesis import GenerationMode

from credly_contract import st
from credly_contract.plugin import activate


def pytest_configure(config: pytest.Config) -> None:
    activate(config)


@pytest.fixture(scope="session")
def positive_schema(certification):
    return st.load_schema(certification, GenerationMode.POSITIVE)


@pytest.fixture(scope="session")
def negative_schema(certification):
    return st.load_schema(certification, GenerationMode.NEGATIVE)


@pytest.fixture(scope="session")
def stateful_schema(certification):
    return st.load_schema(certification, GenerationMode.POSITIVE, phases=("stateful",))
