"""Makes `credly-contract certify-client`'s judging a certification run of the client catalogue."""

import pytest

from credly_contract.client_cert.judging import Judging, judging_of
from credly_contract.plugin import activate


def pytest_configure(config: pytest.Config) -> None:
    activate(config)


@pytest.fixture(scope="session")
def judging(pytestconfig: pytest.Config) -> Judging:
    return judging_of(pytestconfig)
