"""Bad input is refused with a 4xx and changes nothing (SEC-INPUT-REJECTED)."""

from __future__ import annotations

import pytest

from credly_contract.checks import applications as app_checks
from credly_contract.checks import security
from credly_contract.session import list_all

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


def _snapshot(api, target, tokens) -> list[dict]:
    return sorted(
        list_all(api, target, tokens.get("oauth_applications")), key=lambda a: a.get("id") or 0
    )


def _refused_and_unchanged(api, target, tokens, expect, what: str, send) -> None:
    """Send one bad request; it must get a 4xx, and a refused request must leave every application as
    it was (a request that was not refused has failed already; comparing after it says nothing more)."""
    before = _snapshot(api, target, tokens)
    exchange = send()
    expect(security.bad_input_refused, exchange, what)
    if 400 <= exchange.status < 500:
        after = _snapshot(api, target, tokens)
        expect(security.refused_input_changed_nothing, before, after, exchange, what)


@pytest.mark.requirement("SEC-INPUT-REJECTED")
@pytest.mark.parametrize("operation", ["create", "update"])
@pytest.mark.parametrize(
    ("what", "body", "content_type"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
def test_bad_body_is_refused_and_changes_nothing(
    api, target, tokens, apps, operation, what, body, content_type, expect, mutating
):
    if operation == "create":
        method, url = "POST", target.applications_url()
    else:
        method, url = "PUT", target.application_url(apps.scratch_application())

    def send():
        exchange = api.request(
            method,
            url,
            content=body,
            token=tokens.get("oauth_applications"),
            headers={"Content-Type": content_type},
        )
        if operation == "create":
            apps.note_created(exchange)
        return exchange

    _refused_and_unchanged(api, target, tokens, expect, f"{operation} with {what}", send)


@pytest.mark.requirement("APP-CREATE", "SEC-INPUT-REJECTED")
def test_a_long_name_is_accepted_intact_or_refused_without_change(
    api, target, tokens, apps, expect, mutating
):
    """The docs set no maximum length: accepting the name (and keeping it intact) and refusing it
    (and changing nothing) both keep the contract. Which one happened is an observation."""
    name = apps.name("long ") + "x" * LONG_NAME_LENGTH
    before = _snapshot(api, target, tokens)
    exchange = apps.create({"name": name})
    if 400 <= exchange.status < 500:
        after = _snapshot(api, target, tokens)
        expect(security.refused_input_changed_nothing, before, after, exchange, "a long name")
    else:
        app_checks.create_answers_201_with_application(exchange, {"name": name})


@pytest.mark.requirement("SEC-INPUT-REJECTED")
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("application_id", ["0", "-1", "not-an-id", "99999999999999999999"])
def test_unknown_application_ids_are_refused(
    api, target, tokens, method, application_id, expect, profile
):
    if method != "GET" and profile.read_only:
        pytest.skip("the read-only profile changes nothing")
    body = {"description": "credly-contract probe"} if method == "PUT" else None
    url = target.application_url(application_id)
    token = tokens.get("oauth_applications")
    _refused_and_unchanged(
        api,
        target,
        tokens,
        expect,
        f"{method} of application id {application_id!r}",
        lambda: api.request(method, url, json=body, token=token),
    )


@pytest.mark.requirement("SEC-NO-5XX")
@pytest.mark.parametrize("name", ["page", "per"])
@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "99999999999999999999"])
def test_odd_page_and_per_values_cause_no_server_error(api, target, tokens, name, value):
    """Refusing or ignoring odd values is the server's choice (the docs are silent); crashing is not."""
    exchange = api.get(
        target.applications_url(), token=tokens.get("oauth_applications"), params={name: value}
    )
    security.no_server_error(exchange)
