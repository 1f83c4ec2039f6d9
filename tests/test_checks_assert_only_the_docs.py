"""The checks assert only what the docs or a cited RFC section say; where the docs are silent the
finding is an observation. Unit level: each check judges a hand-made Exchange."""

from __future__ import annotations

import json
from typing import Any

import pytest

from credly_contract.checks import CheckFailed, pagination, security
from credly_contract.checks import applications as app_checks
from credly_contract.checks import oauth as oauth_checks
from credly_contract.checks.observations import undocumented_behaviour
from credly_contract.http_client import Exchange

API = "http://127.0.0.1:9/v1/organizations/org/oauth_applications"
TOKEN_URL = "http://127.0.0.1:9/oauth/token"


def exchange(
    status: int,
    body: Any = None,
    *,
    method: str = "GET",
    url: str = API,
    headers: dict[str, str] | None = None,
    sent: Any = None,
) -> Exchange:
    return Exchange(
        method=method,
        url=url,
        request_headers={},
        request_body=None if sent is None else json.dumps(sent),
        status=status,
        response_headers={k.lower(): v for k, v in (headers or {}).items()},
        response_body="" if body is None else json.dumps(body),
    )


def application(**fields: Any) -> dict[str, Any]:
    return {
        "id": 7,
        "name": "n",
        "description": None,
        "created_at": "2025-04-17T14:18:05.740Z",
        "updated_at": "2025-04-17T14:18:05.740Z",
        "uid": "u",
        "created_by_id": None,
        "created_by_type": None,
        "created_by_name": None,
        "creator_available": True,
        "secret": None,
        **fields,
    }


def test_a_second_delete_may_answer_204_404_or_410_but_not_400():
    for status in (204, 404, 410):
        app_checks.deleting_again_answers_404(exchange(status, method="DELETE"))
    with pytest.raises(CheckFailed, match="APP-DELETE"):
        app_checks.deleting_again_answers_404(exchange(400, method="DELETE"))


def test_a_bearer_challenge_among_others_satisfies_bearer_challenge():
    security.unauthorized_carries_bearer_challenge(
        exchange(401, headers={"WWW-Authenticate": 'Basic realm="x", Bearer realm="Doorkeeper"'})
    )
    with pytest.raises(CheckFailed, match="BEARER-CHALLENGE"):
        security.unauthorized_carries_bearer_challenge(
            exchange(401, headers={"WWW-Authenticate": 'Basic realm="x"'})
        )


def test_an_empty_bearer_credential_may_be_refused_with_400():
    security.unauthenticated_request_refused(exchange(400), "an empty Bearer credential", True)
    with pytest.raises(CheckFailed, match="BEARER-REQUIRED"):
        security.unauthenticated_request_refused(exchange(400), "no Authorization header")


def test_no_store_is_asked_of_token_responses_that_issue_a_token_only():
    oauth_checks.token_response_not_cacheable(
        exchange(401, {"error": "invalid_client"}, url=TOKEN_URL)
    )
    with pytest.raises(CheckFailed, match="OAUTH-NO-STORE"):
        oauth_checks.token_response_not_cacheable(exchange(200, {}, url=TOKEN_URL))


def test_a_refusal_that_changed_applications_says_it_was_refused_and_what_changed():
    before = [application(id=1)]
    after = [application(id=1, name="changed"), application(id=2)]
    with pytest.raises(CheckFailed) as raised:
        security.refused_input_changed_nothing(before, after, exchange(422), "create with x")
    message = raised.value.message
    assert "was refused (422), yet the applications changed: added ['2'], changed ['1']" in message
    assert "expected a 4xx" not in message


def test_links_without_a_page_number_are_not_judged_on_their_form():
    data = [application(id=i) for i in (1, 2)]
    meta = {
        "count": 2,
        "current_page": 2,
        "total_count": 6,
        "total_pages": 3,
        "per": 2,
        "previous_page_url": "/v1/organizations/org/oauth_applications?cursor=abc",
        "next_page_url": "https://api.example/v1/x?cursor=def",
    }
    pagination.page_metadata_is_consistent(exchange(200, {"data": data, "metadata": meta}), 2)
    meta["next_page_url"] = "https://api.example/v1/x?page=5&per=2"
    with pytest.raises(CheckFailed, match="does not point at page 3"):
        pagination.page_metadata_is_consistent(exchange(200, {"data": data, "metadata": meta}), 2)


def test_timestamp_order_and_uid_form_are_observations_not_failures():
    odd = application(created_at="2025-04-18T00:00:00Z", uid="")
    answer = exchange(200, {"data": odd, "metadata": {}})
    app_checks.application_objects_match_schema(answer)
    kinds = {o["kind"] for o in undocumented_behaviour(answer, TOKEN_URL)}
    assert "timestamp_order" in kinds


def test_a_long_name_accepted_or_refused_is_an_observation():
    long_name = {"name": "x" * 10_000}
    for status, outcome in ((201, "accepts"), (422, "refuses (422)")):
        answer = exchange(
            status, {"data": application(), "metadata": {}}, method="POST", sent=long_name
        )
        found = [
            o for o in undocumented_behaviour(answer, TOKEN_URL) if o["kind"] == "length_limit"
        ]
        assert len(found) == 1 and outcome in found[0]["detail"]
