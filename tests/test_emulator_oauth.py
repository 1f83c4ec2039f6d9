"""The emulator's token endpoint and its API's Bearer, scope and tenant rules, over real HTTP."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import httpx
import pytest

from credly_contract.spec import oauth_scopes

SCOPES = oauth_scopes()
ACCESS_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
UNKNOWN_TOKEN = "x" * 43


def grant(
    client: httpx.Client, emulator, headers: dict[str, Any] | None = None, **overrides: Any
) -> httpx.Response:
    """A token request with the bootstrap credentials; overrides set fields (None drops one)."""
    params = {
        "grant_type": "client_credentials",
        "client_id": emulator.bootstrap.client_id,
        "client_secret": emulator.bootstrap.client_secret,
        "scope": "oauth_applications",
    }
    params.update(overrides)
    data = {k: v for k, v in params.items() if v is not None}
    return client.post(emulator.token_url, data=data, headers=headers)


def basic(uid: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{uid}:{secret}".encode()).decode()


def assert_no_store(response: httpx.Response) -> None:
    directives = [d.strip().lower() for d in response.headers.get("cache-control", "").split(",")]
    assert "no-store" in directives, response.headers


# The token endpoint -----------------------------------------------------------------------------


def test_token_success_has_the_documented_body(client, emulator):
    before = int(time.time())

    response = grant(client, emulator, scope="issued_badges")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"access_token", "token_type", "expires_in", "scope", "created_at"}
    assert ACCESS_TOKEN.match(body["access_token"])
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 7200
    assert body["scope"] == "issued_badges"
    assert type(body["created_at"]) is int
    assert before - 1 <= body["created_at"] <= time.time() + 1


def test_token_success_is_not_cacheable(client, emulator):
    response = grant(client, emulator)

    assert response.status_code == 200
    assert_no_store(response)


def test_every_grant_issues_a_new_token(client, emulator):
    tokens = {grant(client, emulator).json()["access_token"] for _ in range(5)}

    assert len(tokens) == 5


def wrong_secret_basic(emulator) -> dict[str, str]:
    return {"Authorization": basic(emulator.bootstrap.client_id, "wrong")}


# id -> (form overrides (None drops a field), headers(emulator), status, error)
TOKEN_ERRORS = {
    "unknown-client-id": ({"client_id": "no-such-client"}, None, 401, "invalid_client"),
    "wrong-secret": ({"client_secret": "wrong"}, None, 401, "invalid_client"),
    "missing-credentials": (
        {"client_id": None, "client_secret": None},
        None,
        401,
        "invalid_client",
    ),
    "missing-secret": ({"client_secret": None}, None, 401, "invalid_client"),
    "basic-wrong-secret": (
        {"client_id": None, "client_secret": None},
        wrong_secret_basic,
        401,
        "invalid_client",
    ),
    "basic-not-base64": (
        {"client_id": None, "client_secret": None},
        lambda e: {"Authorization": "Basic !!!not-base64!!!"},
        401,
        "invalid_client",
    ),
    "basic-non-ascii": (
        {"client_id": None, "client_secret": None},
        lambda e: {"Authorization": b"Basic \xe9t\xe9"},
        401,
        "invalid_client",
    ),
    "grant-type-password": ({"grant_type": "password"}, None, 400, "unsupported_grant_type"),
    "grant-type-authorization-code": (
        {"grant_type": "authorization_code"},
        None,
        400,
        "unsupported_grant_type",
    ),
    "missing-grant-type": ({"grant_type": None}, None, 400, "invalid_request"),
    "unknown-scope": ({"scope": "admin"}, None, 400, "invalid_scope"),
    "one-unknown-scope-among-known": (
        {"scope": "issued_badges superuser"},
        None,
        400,
        "invalid_scope",
    ),
    "scope-wrong-case": ({"scope": "Issued_Badges"}, None, 400, "invalid_scope"),
    "missing-scope": ({"scope": None}, None, 400, "invalid_request"),
    "blank-scope": ({"scope": "  "}, None, 400, "invalid_request"),
}


@pytest.mark.parametrize(
    ("overrides", "headers", "status", "error"), TOKEN_ERRORS.values(), ids=TOKEN_ERRORS.keys()
)
def test_token_errors_are_rfc6749_json_and_not_cacheable(
    client, emulator, overrides, headers, status, error
):
    response = grant(client, emulator, headers=headers(emulator) if headers else None, **overrides)

    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error
    assert isinstance(body.get("error_description", ""), str)
    assert "access_token" not in body
    assert_no_store(response)


def test_another_clients_secret_answers_invalid_client(client, emulator):
    response = grant(client, emulator, client_secret=emulator.foreign.client_secret)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2]",
        b'{"grant_type": "client_credentials", "scope": ',
        b'{"grant_type": "client_credentials", "scope": "\\ud800"}',
        b"[" * 100_000,
    ],
    ids=["json-array", "malformed-json", "lone-surrogate-scope", "deeply-nested"],
)
def test_unparseable_token_requests_answer_400_not_500(client, emulator, body):
    response = client.post(
        emulator.token_url, content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_request", "invalid_scope"}
    assert_no_store(response)


# RFC 6749 §5.2: error_description holds only %x20-21 / %x23-5B / %x5D-7E.
DESCRIPTION_TEXT = re.compile(r"^[\x20-\x21\x23-\x5b\x5d-\x7e]*$")


@pytest.mark.parametrize(
    "scope",
    ["\x00", 'badges"quoted', "back\\slash", "caf\u00e9", "tab\tscope\x7f"],
    ids=["nul", "double-quote", "backslash", "non-ascii", "control-characters"],
)
def test_an_undocumented_scope_with_odd_characters_answers_invalid_scope_not_a_dropped_connection(
    client, emulator, scope
):
    response = grant(client, emulator, scope=scope)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert DESCRIPTION_TEXT.match(response.json()["error_description"])
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="Credly", error="invalid_scope"')
    assert DESCRIPTION_TEXT.match(challenge.split('error_description="', 1)[1].rstrip('"'))


@pytest.mark.parametrize("scope", SCOPES)
def test_each_documented_scope_alone_is_granted(client, emulator, scope):
    response = grant(client, emulator, scope=scope)

    assert response.status_code == 200
    assert response.json()["scope"] == scope


def test_all_ten_scopes_together_are_granted_and_work(client, emulator):
    assert len(SCOPES) == 10
    body = grant(client, emulator, scope=" ".join(SCOPES)).json()
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    org = f"{emulator.api_base_url}/organizations/{emulator.bootstrap.organization_id}"

    assert sorted(body["scope"].split()) == sorted(SCOPES)
    assert client.get(f"{org}/oauth_applications", headers=headers).status_code == 200
    assert client.get(f"{org}/badges", headers=headers).status_code == 200


def test_http_basic_client_authentication_obtains_a_working_token(client, emulator):
    boot = emulator.bootstrap
    response = client.post(
        emulator.token_url,
        data={"grant_type": "client_credentials", "scope": "issued_badges"},
        headers={"Authorization": basic(boot.client_id, boot.client_secret)},
    )

    assert response.status_code == 200
    assert response.json()["scope"] == "issued_badges"
    badges = client.get(
        f"{emulator.api_base_url}/organizations/{boot.organization_id}/badges",
        headers={"Authorization": f"Bearer {response.json()['access_token']}"},
    )
    assert badges.status_code == 200


def test_a_json_body_is_accepted_by_the_token_endpoint(client, emulator):
    boot = emulator.bootstrap
    response = client.post(
        emulator.token_url,
        json={
            "grant_type": "client_credentials",
            "client_id": boot.client_id,
            "client_secret": boot.client_secret,
            "scope": "oauth_applications events",
        },
    )

    assert response.status_code == 200
    assert response.json()["scope"] == "oauth_applications events"
    assert ACCESS_TOKEN.match(response.json()["access_token"])
    assert_no_store(response)


# Bearer authentication on every API operation ---------------------------------------------------

# (operation, method, path below the organization, scope); "{app}" is an application id.
OPERATIONS = [
    ("list", "GET", "oauth_applications", "oauth_applications"),
    ("create", "POST", "oauth_applications", "oauth_applications"),
    ("get", "GET", "oauth_applications/{app}", "oauth_applications"),
    ("update", "PUT", "oauth_applications/{app}", "oauth_applications"),
    ("delete", "DELETE", "oauth_applications/{app}", "oauth_applications"),
    ("badges", "GET", "badges", "issued_badges"),
]
OPERATION_IDS = [op[0] for op in OPERATIONS]
BODY = {"name": "Should never be stored"}


def call(client, emulator, operation, org_id: str, app_id: int, headers: dict[str, str]):
    _, method, path, _ = operation
    url = f"{emulator.api_base_url}/organizations/{org_id}/{path.format(app=app_id)}"
    body = BODY if method in {"POST", "PUT"} else None
    return client.request(method, url, json=body, headers=headers)


def state(emulator) -> list[tuple[int, str, str, str | None]]:
    """What every organization holds (read from the store: the HTTP API is what is under test)."""
    return sorted(
        (a.id, a.organization_id, a.name, a.description)
        for a in emulator.store.applications.values()
    )


def assert_refused(response: httpx.Response, statuses: tuple[int, ...]) -> None:
    assert response.status_code in statuses, (response.status_code, response.text)
    body = response.json()
    assert set(body["data"]) == {"message"}, body


@pytest.mark.parametrize("operation", OPERATIONS, ids=OPERATION_IDS)
@pytest.mark.parametrize(
    "authorization",
    [None, "Token abc", "Bearer", "Bearer a b", f"Bearer {UNKNOWN_TOKEN}", "Basic eDp5"],
    ids=["missing", "token-scheme", "bare-bearer", "two-values", "unknown", "basic"],
)
def test_missing_malformed_or_unknown_bearer_answers_401_with_a_challenge(
    client, emulator, operation, authorization
):
    headers = {} if authorization is None else {"Authorization": authorization}
    before = state(emulator)

    response = call(client, emulator, operation, emulator.bootstrap.organization_id, 1, headers)

    assert_refused(response, (401,))
    assert response.headers["www-authenticate"].lower().startswith("bearer")
    assert state(emulator) == before


@pytest.mark.parametrize("operation", OPERATIONS, ids=OPERATION_IDS)
def test_token_without_the_operation_scope_answers_403(client, emulator, token, operation):
    scope = operation[3]
    others = [s for s in SCOPES if s != scope]
    headers = {"Authorization": f"Bearer {token(emulator, others)}"}
    before = state(emulator)

    response = call(client, emulator, operation, emulator.bootstrap.organization_id, 1, headers)

    assert_refused(response, (403,))
    assert state(emulator) == before


@pytest.mark.parametrize("operation", OPERATIONS, ids=OPERATION_IDS)
def test_token_with_only_the_operation_scope_is_served(client, emulator, token, operation):
    headers = {"Authorization": f"Bearer {token(emulator, operation[3])}"}

    response = call(client, emulator, operation, emulator.bootstrap.organization_id, 1, headers)

    assert response.status_code in {200, 201, 204}, response.text


def test_badges_list_is_served_in_the_list_envelope(client, emulator, api):
    response = api(emulator, "issued_badges").get("badges")

    assert response.status_code == 200
    body = response.json()
    assert len(body["data"]) == body["metadata"]["count"] == body["metadata"]["total_count"] == 3


@pytest.mark.parametrize("operation", OPERATIONS, ids=OPERATION_IDS)
@pytest.mark.parametrize("organization", ["foreign", "unknown"])
def test_another_organization_answers_403_or_404_and_never_its_data(
    client, emulator, token, operation, organization
):
    headers = {"Authorization": f"Bearer {token(emulator, SCOPES)}"}
    foreign = emulator.foreign
    org_id = foreign.organization_id if organization == "foreign" else "no-such-organization"
    foreign_app = emulator.store.applications[2]
    assert foreign_app.organization_id == foreign.organization_id
    before = state(emulator)

    response = call(client, emulator, operation, org_id, foreign_app.id, headers)

    assert_refused(response, (403, 404))
    assert foreign.client_id not in response.text
    assert foreign_app.name not in response.text
    assert state(emulator) == before


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_another_organizations_application_through_own_path_answers_404(emulator, api, method):
    crud = api(emulator)
    foreign_app = emulator.store.applications[2]
    assert foreign_app.organization_id == emulator.foreign.organization_id
    before = state(emulator)

    response = crud.request(
        method, f"oauth_applications/{foreign_app.id}", json=BODY if method == "PUT" else None
    )

    assert_refused(response, (404,))
    assert foreign_app.uid not in response.text
    assert state(emulator) == before


def test_foreign_token_cannot_read_the_primary_organization(client, emulator, token, api):
    foreign_token = token(emulator, SCOPES, emulator.foreign)
    org = f"{emulator.api_base_url}/organizations/{emulator.bootstrap.organization_id}"

    response = client.get(
        f"{org}/oauth_applications", headers={"Authorization": f"Bearer {foreign_token}"}
    )

    assert_refused(response, (403, 404))
    assert emulator.bootstrap.client_id not in response.text
    own = api(emulator, bootstrap=emulator.foreign).get("oauth_applications").json()["data"]
    assert [a["uid"] for a in own] == [emulator.foreign.client_id]


# Token lifetime and revocation ------------------------------------------------------------------


def test_a_token_expires_after_7200_seconds(emulator, api):
    crud = api(emulator)
    emulator.clock.advance(7199)
    assert crud.get("oauth_applications").status_code == 200

    emulator.clock.advance(2)
    response = crud.get("oauth_applications")

    assert_refused(response, (401,))
    assert response.headers["www-authenticate"].lower().startswith("bearer")
    assert "invalid_token" in response.headers["www-authenticate"]


def test_a_fresh_token_works_after_the_old_one_expired(emulator, api):
    old = api(emulator)
    emulator.clock.advance(7201)

    assert old.get("oauth_applications").status_code == 401
    assert api(emulator).get("oauth_applications").status_code == 200


def test_token_lifetime_option_sets_expires_in_and_expiry(client, make_emulator):
    emulator = make_emulator(token_lifetime=60)
    body = grant(client, emulator).json()
    org = f"{emulator.api_base_url}/organizations/{emulator.bootstrap.organization_id}"
    headers = {"Authorization": f"Bearer {body['access_token']}"}

    assert body["expires_in"] == 60
    emulator.clock.advance(59)
    assert client.get(f"{org}/oauth_applications", headers=headers).status_code == 200
    emulator.clock.advance(2)
    assert client.get(f"{org}/oauth_applications", headers=headers).status_code == 401


def test_credentials_of_a_newly_created_application_obtain_a_working_token(client, emulator, api):
    created = api(emulator).post("oauth_applications", json={"name": "New client"}).json()["data"]

    response = grant(
        client, emulator, client_id=created["uid"], client_secret=created["secret"], scope="events"
    )

    assert response.status_code == 200
    assert response.json()["scope"] == "events"
    own = grant(client, emulator, client_id=created["uid"], client_secret=created["secret"])
    listed = client.get(
        f"{emulator.api_base_url}/organizations/{emulator.bootstrap.organization_id}"
        "/oauth_applications",
        headers={"Authorization": f"Bearer {own.json()['access_token']}"},
    )
    assert listed.status_code == 200
    assert created["id"] in [a["id"] for a in listed.json()["data"]]


def test_deleting_an_application_revokes_its_tokens_and_credentials(client, emulator, api):
    admin = api(emulator)
    created = admin.post("oauth_applications", json={"name": "Short-lived"}).json()["data"]
    credentials = {"client_id": created["uid"], "client_secret": created["secret"]}
    victim_token = grant(client, emulator, **credentials).json()["access_token"]
    victim = {"Authorization": f"Bearer {victim_token}"}
    url = f"{emulator.api_base_url}/organizations/{emulator.bootstrap.organization_id}"
    assert client.get(f"{url}/oauth_applications", headers=victim).status_code == 200

    assert admin.delete(f"oauth_applications/{created['id']}").status_code == 204

    revoked = client.get(f"{url}/oauth_applications", headers=victim)
    assert_refused(revoked, (401,))
    assert revoked.headers["www-authenticate"].lower().startswith("bearer")
    refused = grant(client, emulator, **credentials)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    assert admin.get("oauth_applications").status_code == 200


def test_an_application_deleting_itself_loses_its_token(emulator, api):
    crud = api(emulator)

    assert crud.delete("oauth_applications/1").status_code == 204
    assert crud.get("oauth_applications").status_code == 401


def test_token_endpoint_answers_404_to_anything_but_post(client, emulator):
    # Doorkeeper 5.5 routes only POST /oauth/token: Rails answers GET with a 404, not a 405.
    response = client.get(emulator.token_url)

    assert response.status_code == 404


def test_an_unknown_route_answers_a_json_404(client, emulator):
    response = client.get(f"{emulator.api_base_url}/nothing/here")

    assert response.status_code == 404
    assert json.loads(response.text)["data"]["message"]
