"""The emulator answers the OAuth layer as Credly's provider, Doorkeeper 5.5, does (measured):
token endpoint errors carry a Bearer challenge, API 401 and 403 are never cacheable, a 403
insufficient_scope carries no challenge, and GET on the token URL is a 404."""

from __future__ import annotations

import pytest

from credly_contract.spec import oauth_scopes

TOKEN_ERRORS = {
    "invalid_client": {"client_secret": "wrong-secret"},
    "invalid_request": {"scope": None},
    "unsupported_grant_type": {"grant_type": "password"},
    "invalid_scope": {"scope": "superuser"},
}


def grant(client, emulator, **overrides):
    params = {
        "grant_type": "client_credentials",
        "client_id": emulator.bootstrap.client_id,
        "client_secret": emulator.bootstrap.client_secret,
        "scope": "oauth_applications",
    } | overrides
    return client.post(emulator.token_url, data={k: v for k, v in params.items() if v is not None})


@pytest.mark.parametrize("error", TOKEN_ERRORS, ids=TOKEN_ERRORS.keys())
def test_token_endpoint_errors_carry_a_bearer_challenge_naming_the_error(client, emulator, error):
    response = grant(client, emulator, **TOKEN_ERRORS[error])

    assert response.json()["error"] == error
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'error="{error}"' in challenge


def test_an_unparseable_token_request_carries_a_bearer_challenge(client, emulator):
    response = client.post(
        emulator.token_url, content=b"[1]", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["www-authenticate"]


def test_a_successful_token_response_carries_no_challenge(client, emulator):
    response = grant(client, emulator)

    assert response.status_code == 200
    assert "www-authenticate" not in response.headers


def test_api_401_is_not_cacheable_and_carries_a_challenge(client, emulator):
    url = f"{emulator.api_base_url}/organizations/{emulator.bootstrap.organization_id}/oauth_applications"

    response = client.get(url, headers={"Authorization": "Bearer " + "x" * 43})

    assert response.status_code == 401
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["www-authenticate"].startswith("Bearer ")


def test_api_403_insufficient_scope_is_not_cacheable_and_has_no_challenge(client, emulator, token):
    url = f"{emulator.api_base_url}/organizations/{emulator.bootstrap.organization_id}/badges"
    others = [s for s in oauth_scopes() if s != "issued_badges"]

    response = client.get(url, headers={"Authorization": f"Bearer {token(emulator, others)}"})

    assert response.status_code == 403
    assert response.headers["cache-control"] == "no-store"
    assert "www-authenticate" not in response.headers


def test_api_403_for_another_organization_is_not_cacheable(client, emulator, token):
    url = f"{emulator.api_base_url}/organizations/{emulator.foreign.organization_id}/oauth_applications"

    response = client.get(url, headers={"Authorization": f"Bearer {token(emulator)}"})

    assert response.status_code == 403
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_the_token_url_answers_404_to_every_method_but_post(client, emulator, method):
    response = client.request(method, emulator.token_url)

    assert response.status_code == 404


def test_other_routes_still_answer_405_with_allow(client, emulator, token):
    url = f"{emulator.api_base_url}/organizations/{emulator.bootstrap.organization_id}/badges"

    response = client.delete(url, headers={"Authorization": f"Bearer {token(emulator)}"})

    assert response.status_code == 405
    assert "GET" in response.headers["allow"]
