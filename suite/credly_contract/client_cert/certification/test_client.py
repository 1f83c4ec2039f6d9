"""One test per CLIENT-* requirement: its judge, on the exchanges of the integration's run."""

import pytest

from credly_contract.catalogue import client_requirements
from credly_contract.client_cert.judges import JUDGES
from credly_contract.client_cert.judging import Judging


@pytest.mark.parametrize(
    "requirement",
    [
        pytest.param(rid, marks=pytest.mark.requirement(rid), id=JUDGES[rid].__name__)
        for rid in client_requirements()
    ],
)
def test_client(requirement: str, judging: Judging) -> None:
    judging.judge(requirement)
