"""Bad input is refused with a 4xx and changes nothing (SEC-INPUT-REJECTED)."""

from __future__ import annotations

from typing import Any

import pytest

from credly_contract.census import applications_not_ours
from credly_contract.checks import Expect, security
from credly_contract.checks import applications as app_checks
from credly_contract.config import Target
from credly_contract.http_client import ApiClient, Exchange
from credly_contract.ledger import ApplicationId
from credly_contract.profiles import Profile
from credly_contract.session import Resources, Tokens

# The docs set no length limit: a long name may be accepted or refused (an observation either way).
LONG_NAME_LENGTH = 10_000
BAD_BODIES = [
    ("malformed JSON", b'{"name": "credly-contract bad', "application/json"),
    ("a JSON array body", b'["credly-contract"]', "application/json"),
    ("a number as name", b'{"name": 12345}', "application/json"),
    ("an object as name", b'{"name": {"first": "x"}}', "application/json"),
    (
        "a list as description",
        b'{"name": "credly-contract x", "description": [1, 2]}',
        "application/json",
    ),
]
UNKNOWN_IDS = ["0", "-1", "not-an-id", "99999999999999999999"]


def _read(
    api: ApiClient, target: Target, tokens: Tokens, application_id: ApplicationId
) -> list[dict[str, Any]]:
    """The one application a refused update was aimed at, as a snapshot of one."""
    exchange = api.get(
        target.application_url(application_id), token=tokens.for_operation("getOAuthApplication")
    )
    body = exchange.json()
    data = body.get("data") if isinstance(body, dict) else None
    return [data] if isinstance(data, dict) else []


def _each_refused(expect: Expect, sent: list[tuple[str, Exchange]]) -> list[Exchange]:
    """Judge every bad request's answer; the refusals, when every one was refused (a request that
    was not refused has failed already, and what it changed says nothing about the others)."""
    for what, exchange in sent:
        expect(security.bad_input_refused, exchange, what)
    refusals = [exchange for _, exchange in sent]
    return refusals if all(400 <= r.status < 500 for r in refusals) else []


@pytest.mark.requirement("SEC-INPUT-REJECTED")
def test_bad_create_bodies_are_refused_and_create_nothing(
    api: ApiClient, target: Target, tokens: Tokens, apps: Resources, expect: Expect, mutating: None
) -> None:
    """One count before and one after the five bad bodies: a refusal that created (or deleted) an
    application changes the organization's total_count."""
    before = applications_not_ours(api, target, apps)
    sent = []
    for what, body, content_type in BAD_BODIES:
        exchange = api.request(
            "POST",
            target.applications_url(),
            content=body,
            token=tokens.for_operation("createOAuthApplication"),
            headers={"Content-Type": content_type},
        )
        apps.note_created(exchange)
        sent.append((f"create with {what}", exchange))
    refusals = _each_refused(expect, sent)
    if refusals:
        after = applications_not_ours(api, target, apps)
        expect(security.refused_input_kept_the_count, before, after, refusals, "bad create bodies")


@pytest.mark.requirement("SEC-INPUT-REJECTED")
def test_bad_update_bodies_are_refused_and_change_nothing(
    api: ApiClient, target: Target, tokens: Tokens, apps: Resources, expect: Expect, mutating: None
) -> None:
    """One read of the application before and one after the five bad bodies sent to update it."""
    application_id = apps.scratch_application()
    url = target.application_url(application_id)
    before = _read(api, target, tokens, application_id)
    sent = []
    for what, body, content_type in BAD_BODIES:
        exchange = api.request(
            "PUT",
            url,
            content=body,
            token=tokens.for_operation("updateOAuthApplication"),
            headers={"Content-Type": content_type},
        )
        sent.append((f"update with {what}", exchange))
    refusals = _each_refused(expect, sent)
    if refusals:
        after = _read(api, target, tokens, application_id)
        expect(
            security.refused_input_changed_nothing, before, after, refusals[-1], "bad update bodies"
        )


@pytest.mark.requirement("APP-CREATE", "SEC-INPUT-REJECTED")
def test_a_long_name_is_accepted_intact_or_refused_without_change(
    api: ApiClient, target: Target, tokens: Tokens, apps: Resources, expect: Expect, mutating: None
) -> None:
    """The docs set no maximum length: accepting the name (and keeping it intact) and refusing it
    (and changing nothing) both keep the contract. Which one happened is an observation."""
    name = apps.name("long ") + "x" * LONG_NAME_LENGTH
    before = applications_not_ours(api, target, apps)
    exchange = apps.create({"name": name})
    if 400 <= exchange.status < 500:
        after = applications_not_ours(api, target, apps)
        expect(security.refused_input_kept_the_count, before, after, [exchange], "a long name")
    else:
        app_checks.create_answers_201_with_application(exchange, {"name": name})


@pytest.mark.requirement("SEC-INPUT-REJECTED")
def test_unknown_application_ids_are_refused(
    api: ApiClient,
    target: Target,
    tokens: Tokens,
    apps: Resources,
    expect: Expect,
    profile: Profile,
) -> None:
    """Four ids no application has, read, updated and deleted (read only, under the read-only
    profile); one count before and one after them all."""
    methods = ["GET"] if profile.read_only else ["GET", "PUT", "DELETE"]
    token = tokens.for_operation(
        "getOAuthApplication", "updateOAuthApplication", "deleteOAuthApplication"
    )
    before = applications_not_ours(api, target, apps)
    sent = []
    for method in methods:
        body = {"description": "credly-contract probe"} if method == "PUT" else None
        for application_id in UNKNOWN_IDS:
            url = target.application_url(application_id)
            exchange = api.request(method, url, json=body, token=token)
            sent.append((f"{method} of application id {application_id!r}", exchange))
    refusals = _each_refused(expect, sent)
    if refusals:
        after = applications_not_ours(api, target, apps)
        expect(
            security.refused_input_kept_the_count,
            before,
            after,
            refusals,
            "requests for unknown application ids",
        )


@pytest.mark.requirement("SEC-NO-5XX")
@pytest.mark.parametrize("name", ["page", "per"])
@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "99999999999999999999"])
def test_odd_page_and_per_values_cause_no_server_error(
    api: ApiClient, target: Target, tokens: Tokens, name: str, value: str
) -> None:
    """Refusing or ignoring odd values is the server's choice (the docs are silent); crashing is not."""
    exchange = api.get(
        target.applications_url(),
        token=tokens.for_operation("listOAuthApplications"),
        params={name: value},
    )
    security.no_server_error(exchange)
