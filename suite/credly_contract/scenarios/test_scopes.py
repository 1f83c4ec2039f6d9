"""Scope handling: tokens for oauth_applications only, issued_badges only, both, and an unrelated
scope; the calls each may and may not make; an unknown scope refused at the token endpoint."""

import pytest

from credly_contract import spec
from credly_contract.checks import Expect
from credly_contract.checks.oauth import requested_scope_granted, unknown_scope_refused
from credly_contract.checks.security import (
    badges_list_answers_pagination_envelope,
    token_with_scope_accepted,
    token_without_scope_refused,
)
from credly_contract.config import Target
from credly_contract.http_client import ApiClient
from credly_contract.ledger import resource_name
from credly_contract.profiles import Profile
from credly_contract.session import Resources

# The scopes the two operations need, from their security requirements in the contract.
APPLICATIONS_SCOPE = spec.required_scope("listOAuthApplications")
BADGES_SCOPE = spec.required_scope("listIssuedBadges")
SCOPE_SETS = (
    [APPLICATIONS_SCOPE],
    [BADGES_SCOPE],
    sorted([APPLICATIONS_SCOPE, BADGES_SCOPE]),
    ["events"],
)


@pytest.mark.requirement("TOKEN-SCOPE", "SCOPE-ENFORCED", "BADGES-LIST")
def test_tokens_reach_only_their_scopes(
    api: ApiClient, apps: Resources, target: Target, expect: Expect, profile: Profile
) -> None:
    for number, scopes in enumerate(SCOPE_SETS, start=1):
        issued = api.request_token(" ".join(scopes))
        expect(requested_scope_granted, issued, scopes)
        token = (issued.json() or {}).get("access_token") if issued.status == 200 else None
        if not token:
            continue

        applications = api.get(target.applications_url(), token=token, params={"per": 1})
        if APPLICATIONS_SCOPE in scopes:
            expect(token_with_scope_accepted, applications, APPLICATIONS_SCOPE)
        else:
            expect(token_without_scope_refused, applications, APPLICATIONS_SCOPE)
            if not profile.read_only:
                name = resource_name(apps.ledger.run_id, f"scopes {number}")
                attempt = api.post(target.applications_url(), token=token, json={"name": name})
                apps.note_created(attempt)  # deleted at the end should the server wrongly create it
                expect(token_without_scope_refused, attempt, APPLICATIONS_SCOPE)

        badges = api.get(target.badges_url(), token=token, params={"per": 1})
        if BADGES_SCOPE in scopes:
            expect(token_with_scope_accepted, badges, BADGES_SCOPE)
            expect(badges_list_answers_pagination_envelope, badges)
        else:
            expect(token_without_scope_refused, badges, BADGES_SCOPE)

    expect(unknown_scope_refused, api.request_token("not_a_credly_scope"))
