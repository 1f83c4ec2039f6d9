"""One-time secret reveal: the create response shows the secret and it obtains a token; get, list
and update all show secret null; the secret still works afterwards."""

import pytest

from credly_contract.checks import Expect
from credly_contract.checks.applications import (
    created_credentials_obtain_token,
    secret_hidden_after_create,
    secret_shown_on_create,
    update_answers_200_with_changes,
)
from credly_contract.config import Target
from credly_contract.http_client import ApiClient
from credly_contract.scenarios.steps import create_application, pages
from credly_contract.session import Resources, Tokens


@pytest.mark.requirement("APP-SECRET-ONCE", "APP-CREDENTIALS", "APP-SCHEMA")
def test_secret_is_revealed_only_once(
    api: ApiClient,
    apps: Resources,
    tokens: Tokens,
    target: Target,
    expect: Expect,
    mutating: None,
) -> None:
    created, application = create_application(apps, "secret", 1)
    secret_shown_on_create(created)
    credentials = apps.credentials(created)
    expect(created_credentials_obtain_token, api.request_token("oauth_applications", **credentials))

    token = tokens.for_operation(
        "getOAuthApplication", "listOAuthApplications", "updateOAuthApplication"
    )
    url = target.application_url(application["id"])
    expect(secret_hidden_after_create, api.get(url, token=token))
    for _, page in pages(api, target.applications_url(), token, {"per": 50}):
        expect(secret_hidden_after_create, page)
    change = {"description": "Updated by the one-time secret scenario."}
    updated = api.put(url, token=token, json=change)
    expect(update_answers_200_with_changes, updated, change, application)
    expect(secret_hidden_after_create, updated)

    expect(created_credentials_obtain_token, api.request_token("oauth_applications", **credentials))
    apps.delete(application["id"])
