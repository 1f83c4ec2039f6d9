"""The token endpoint: a token for the bootstrap credentials, a wrong secret, an unsupported and a
missing grant type. Every token response is also checked for Cache-Control: no-store
(OAUTH-NO-STORE, a passive check the plugin runs on each one)."""

import pytest

from credly_contract.checks import Expect
from credly_contract.checks.oauth import (
    bad_client_refused,
    missing_grant_type_refused,
    token_response_is_well_formed,
    unsupported_grant_type_refused,
)
from credly_contract.http_client import ApiClient

# Shorter than the scrubber's minimum, so it is recorded as <REDACTED> and replays match it.
WRONG_SECRET = "wrong"


@pytest.mark.requirement(
    "TOKEN-ISSUE", "OAUTH-INVALID-CLIENT", "OAUTH-GRANT-TYPE", "OAUTH-NO-STORE"
)
def test_token_endpoint_issues_and_refuses(api: ApiClient, expect: Expect) -> None:
    expect(token_response_is_well_formed, api.request_token("oauth_applications"))
    wrong = api.request_token("oauth_applications", client_secret=WRONG_SECRET)
    expect(bad_client_refused, wrong, "a token request with a wrong client_secret")
    expect(
        unsupported_grant_type_refused,
        api.request_token("oauth_applications", grant_type="password"),
    )
    expect(missing_grant_type_refused, api.request_token("oauth_applications", grant_type=None))
