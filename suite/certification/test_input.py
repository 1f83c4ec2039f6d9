"""Bad input is refused with a 4xx and changes nothing (SEC-INPUT-REJECTED)."""

from __future__ import annotations

import pytest

from suite.checks import security
from suite.session import list_all

TOO_LONG = "x" * 10_000
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
    ("a 10,000-character name", f'{{"name": "{TOO_LONG}"}}'.encode(), "application/json"),
]


def _snapshot(api, target, tokens) -> list[dict]:
    return sorted(
        list_all(api, target, tokens.get("oauth_applications")), key=lambda a: a.get("id") or 0
    )


@pytest.mark.requirement("SEC-INPUT-REJECTED")
@pytest.mark.parametrize(
    ("what", "body", "content_type"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
def test_bad_create_body_is_refused_and_changes_nothing(
    api, target, tokens, apps, what, body, content_type, expect, mutating
):
    before = _snapshot(api, target, tokens)
    exchange = api.post(
        target.applications_url(),
        content=body,
        token=tokens.get("oauth_applications"),
        headers={"Content-Type": content_type},
    )
    apps.note_created(exchange)
    expect(security.bad_input_refused, exchange, f"create with {what}")
    expect(
        security.refused_input_changed_nothing,
        before,
        _snapshot(api, target, tokens),
        f"create with {what}",
    )


@pytest.mark.requirement("SEC-INPUT-REJECTED")
@pytest.mark.parametrize(
    ("what", "body", "content_type"), BAD_BODIES[:5], ids=[b[0] for b in BAD_BODIES[:5]]
)
def test_bad_update_body_is_refused_and_changes_nothing(
    api, target, tokens, apps, what, body, content_type, expect, mutating
):
    application_id = apps.scratch_application()
    before = _snapshot(api, target, tokens)
    exchange = api.put(
        target.application_url(application_id),
        content=body,
        token=tokens.get("oauth_applications"),
        headers={"Content-Type": content_type},
    )
    expect(security.bad_input_refused, exchange, f"update with {what}")
    expect(
        security.refused_input_changed_nothing,
        before,
        _snapshot(api, target, tokens),
        f"update with {what}",
    )


@pytest.mark.requirement("SEC-INPUT-REJECTED")
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("application_id", ["0", "-1", "not-an-id", "99999999999999999999"])
def test_unknown_application_ids_are_refused(
    api, target, tokens, method, application_id, expect, profile
):
    if method != "GET" and profile.read_only:
        pytest.skip("the read-only profile changes nothing")
    before = _snapshot(api, target, tokens)
    body = {"description": "credly-contract probe"} if method == "PUT" else None
    exchange = api.request(
        method,
        target.application_url(application_id),
        json=body,
        token=tokens.get("oauth_applications"),
    )
    expect(security.bad_input_refused, exchange, f"{method} of application id {application_id!r}")
    expect(
        security.refused_input_changed_nothing,
        before,
        _snapshot(api, target, tokens),
        f"{method} of application id {application_id!r}",
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
