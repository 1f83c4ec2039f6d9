"""Makes `pytest suite/credly_contract/certification` (or `pytest --pyargs credly_contract.certification`) a
certification run of the whole catalogue, and aims the schemathesis schemas at the run's target."""

from typing import Any

import pytest
from schemathesis import GenerationMode

from credly_contract import st
from credly_contract.plugin import activate
from credly_contract.session import CertificationRun


def pytest_configure(config: pytest.Config) -> None:
    activate(config)


@pytest.fixture(scope="session")
def positive_schema(certification: CertificationRun) -> Any:
    skip = certification.profile.skip_generated_valid
    return st.load_schema(certification, GenerationMode.POSITIVE, skip=skip)


@pytest.fixture(scope="session")
def negative_schema(certification: CertificationRun) -> Any:
    skip = certification.profile.skip_generated_invalid
    return st.load_schema(certification, GenerationMode.NEGATIVE, skip=skip)


@pytest.fixture(scope="session")
def stateful_schema(certification: CertificationRun) -> Any:
    return st.load_schema(certification, GenerationMode.POSITIVE, phases=("stateful",))
