"""schemathesis's state machine over the contract's OpenAPI links: create, then get, update and
delete the created application by its id, with the requirement checks on every step."""

from __future__ import annotations

from typing import Any

import pytest
from schemathesis import BaseSchema, Case, CheckFunction, Response

from credly_contract import st
from credly_contract.http_client import Exchange
from credly_contract.session import CertificationRun


@pytest.mark.requirement(
    "APP-CREATE",
    "APP-GET",
    "APP-UPDATE",
    "APP-DELETE",
    "APP-SECRET-ONCE",
    "APP-SCHEMA",
    "SEC-NO-5XX",
)
def test_linked_workflows_follow_the_contract(
    stateful_schema: BaseSchema, certification: CertificationRun, mutating: None
) -> None:
    profile = certification.profile
    if profile.stateful_examples == 0:
        pytest.skip("this profile runs no stateful sequences")
    if not profile.linked_workflows:
        pytest.skip(
            f"the {profile.name} profile leaves these calls to the scenario tests and the state "
            "machine, which judge them with the same requirement checks"
        )

    schema = stateful_schema.exclude(operation_id=st.TOKEN_OPERATION)

    # schemathesis builds the state machine class at run time from the schema's links.
    class LinkedWorkflows(schema.as_state_machine()):  # type: ignore[misc]
        last_exchange: Exchange

        def call(self, case: Case[Any], **kwargs: Any) -> Response:
            response, self.last_exchange = st.send(certification, case)
            return response

        def validate_response(
            self,
            response: Response,
            case: Case[Any],
            additional_checks: list[CheckFunction] | None = None,
            **kwargs: Any,
        ) -> None:
            st.raise_failures(certification, case, response, self.last_exchange)

    LinkedWorkflows.run(
        settings=profile.stateful_settings(),
    )
