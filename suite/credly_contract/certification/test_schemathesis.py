"""Generated calls from openapi/credly.yaml (schemathesis): positive data must be served as documented,
negative data must be refused; every call goes through the requirement checks."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis

from credly_contract import st
from credly_contract.session import CertificationRun

positive = schemathesis.pytest.from_fixture("positive_schema").exclude(
    operation_id=st.TOKEN_OPERATION
)
negative = schemathesis.pytest.from_fixture("negative_schema").exclude(
    operation_id=st.TOKEN_OPERATION
)


@pytest.mark.requirement("SEC-NO-5XX", "APP-SCHEMA", "APP-SECRET-ONCE")
@positive.parametrize()
def test_generated_valid_requests_are_served_as_documented(
    case: schemathesis.Case[Any], certification: CertificationRun
) -> None:
    if certification.profile.read_only and case.method != "GET":
        pytest.skip("the read-only profile changes nothing")
    st.call_and_check(certification, case)


@pytest.mark.requirement("SEC-NO-5XX", "SEC-INPUT-REJECTED")
@negative.parametrize()
def test_generated_invalid_requests_are_refused(
    case: schemathesis.Case[Any], certification: CertificationRun, mutating: None
) -> None:
    st.call_and_check(certification, case)
