"""204 deletes: delete answers 204 with an empty body; get then answers 404 and the list no longer
holds it; the deleted application's token and credentials stop working; a second delete answers
404."""

import pytest

from credly_contract.checks import Expect
from credly_contract.checks.applications import (
    created_credentials_obtain_token,
    delete_answers_204_without_body,
    deleted_application_answers_404,
    deleted_application_not_listed,
    deleting_again_answers_404,
)
from credly_contract.checks.security import (
    deleted_application_credentials_refused,
    deleted_application_token_refused,
    token_with_scope_accepted,
)
from credly_contract.config import Target
from credly_contract.http_client import ApiClient, Exchange
from credly_contract.scenarios.steps import create_application, ids, pages
from credly_contract.session import Resources, Tokens


@pytest.mark.requirement("APP-DELETE", "SEC-REVOKE-ON-DELETE", "APP-SCHEMA")
def test_delete_answers_204_and_revokes(
    api: ApiClient,
    apps: Resources,
    tokens: Tokens,
    target: Target,
    expect: Expect,
    mutating: None,
) -> None:
    created, application = create_application(apps, "delete", 1)
    credentials = apps.credentials(created)
    own_token = created_credentials_obtain_token(
        api.request_token("oauth_applications", **credentials)
    )
    before = api.get(target.applications_url(), token=own_token, params={"per": 1})
    expect(token_with_scope_accepted, before, "oauth_applications")

    expect(delete_answers_204_without_body, apps.delete(application["id"]))

    token = tokens.for_operation("getOAuthApplication", "listOAuthApplications")
    url = target.application_url(application["id"])
    expect(deleted_application_answers_404, api.get(url, token=token))
    listed: set[int] = set()
    last: Exchange | None = None
    for _, page in pages(api, target.applications_url(), token, {"per": 50}):
        listed.update(ids(page))
        last = page
    expect(deleted_application_not_listed, listed, application["id"], last)

    after = api.get(target.applications_url(), token=own_token, params={"per": 1})
    expect(deleted_application_token_refused, after)
    expect(
        deleted_application_credentials_refused,
        api.request_token("oauth_applications", **credentials),
    )
    expect(deleting_again_answers_404, api.delete(url, token=token))
