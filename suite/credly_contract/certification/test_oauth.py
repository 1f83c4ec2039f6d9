"""The token endpoint: issue, scopes, and the RFC 6749 §5.2 errors (TOKEN-*, OAUTH-*)."""

from __future__ import annotations

import itertools

import pytest

from credly_contract import spec
from credly_contract.checks import Expect
from credly_contract.checks import applications as app_checks
from credly_contract.checks import oauth as oauth_checks
from credly_contract.config import Target
from credly_contract.http_client import ApiClient
from credly_contract.profiles import Profile
from credly_contract.session import Resources, Tokens

SCOPES = spec.oauth_scopes()


@pytest.mark.requirement("TOKEN-ISSUE", "OAUTH-NO-STORE")
def test_token_response_is_well_formed_and_not_cacheable(tokens: Tokens) -> None:
    exchange = tokens.issue("oauth_applications")
    oauth_checks.token_response_is_well_formed(exchange)
    oauth_checks.token_response_not_cacheable(exchange)


@pytest.mark.requirement("TOKEN-SCOPE")
@pytest.mark.parametrize("scope", SCOPES)
def test_each_documented_scope_can_be_requested_alone(tokens: Tokens, scope: str) -> None:
    oauth_checks.requested_scope_granted(tokens.issue(scope), [scope])


@pytest.mark.requirement("TOKEN-SCOPE")
def test_documented_scopes_can_be_combined(
    tokens: Tokens, profile: Profile, expect: Expect
) -> None:
    combinations = [SCOPES] + [list(pair) for pair in itertools.combinations(SCOPES, 2)]
    for combination in combinations[: 1 + profile.examples]:
        expect(oauth_checks.requested_scope_granted, tokens.issue(*combination), combination)


@pytest.mark.requirement("TOKEN-SCOPE", "OAUTH-NO-STORE")
@pytest.mark.parametrize("scope", ["not_a_scope", "oauth_applications not_a_scope", "admin"])
def test_unknown_scope_is_refused_with_invalid_scope(api: ApiClient, scope: str) -> None:
    exchange = api.request_token(scope)
    oauth_checks.unknown_scope_refused(exchange)
    oauth_checks.token_response_not_cacheable(exchange)


@pytest.mark.requirement("OAUTH-INVALID-CLIENT", "OAUTH-NO-STORE")
@pytest.mark.parametrize(
    ("client_id", "client_secret", "what"),
    [
        ("unknown-client-id-000000000000000000000000", None, "an unknown client id"),
        (None, "wrong-secret-0000000000000000000000000000", "a wrong client secret"),
        (None, "", "an empty client secret"),
    ],
    ids=["unknown-client", "wrong-secret", "empty-secret"],
)
def test_bad_client_credentials_get_invalid_client(
    api: ApiClient, client_id: str | None, client_secret: str | None, what: str
) -> None:
    exchange = api.request_token(
        "oauth_applications", client_id=client_id, client_secret=client_secret
    )
    oauth_checks.bad_client_refused(exchange, f"a token request with {what}")
    oauth_checks.token_response_not_cacheable(exchange)


@pytest.mark.requirement("OAUTH-GRANT-TYPE", "OAUTH-NO-STORE")
def test_unsupported_grant_type_is_refused(api: ApiClient) -> None:
    exchange = api.request_token("oauth_applications", grant_type="password")
    oauth_checks.unsupported_grant_type_refused(exchange)
    oauth_checks.token_response_not_cacheable(exchange)


@pytest.mark.requirement("OAUTH-GRANT-TYPE")
def test_missing_grant_type_is_refused(api: ApiClient) -> None:
    oauth_checks.missing_grant_type_refused(
        api.request_token("oauth_applications", grant_type=None)
    )


@pytest.mark.requirement("APP-CREDENTIALS", "APP-SECRET-ONCE", "TOKEN-ISSUE")
def test_created_credentials_obtain_a_token_and_the_secret_is_not_shown_again(
    api: ApiClient, target: Target, tokens: Tokens, apps: Resources, expect: Expect, mutating: None
) -> None:
    exchange, created = apps.new_application("credentials")
    token_exchange = api.request_token("issued_badges", **apps.credentials(exchange))
    app_checks.created_credentials_obtain_token(token_exchange)
    expect(oauth_checks.token_response_is_well_formed, token_exchange)
    for read in (
        api.get(
            target.application_url(created["id"]), token=tokens.for_operation("getOAuthApplication")
        ),
        api.get(
            target.applications_url(),
            token=tokens.for_operation("listOAuthApplications"),
            params={"per": 100},
        ),
    ):
        expect(app_checks.secret_hidden_after_create, read)
