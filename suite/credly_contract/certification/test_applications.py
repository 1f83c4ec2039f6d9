"""The documented OAuth application operations, one rule per test (APP-*)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from credly_contract.census import ours
from credly_contract.checks import Expect
from credly_contract.checks import applications as app_checks
from credly_contract.config import Target
from credly_contract.http_client import ApiClient
from credly_contract.ledger import read_outstanding
from credly_contract.session import Resources, Tokens, list_all


def _listed_ids(api: ApiClient, target: Target, tokens: Tokens) -> set[Any]:
    """The ids the server lists, as it wrote them (the checks judge their type)."""
    return {
        a.get("id") for a in list_all(api, target, tokens.for_operation("listOAuthApplications"))
    }


@pytest.mark.requirement("APP-LIST", "APP-SCHEMA", "APP-SECRET-ONCE")
def test_list_answers_data_and_metadata(
    api: ApiClient, target: Target, tokens: Tokens, expect: Expect
) -> None:
    exchange = api.get(
        target.applications_url(), token=tokens.for_operation("listOAuthApplications")
    )
    app_checks.list_answers_200_with_data_and_metadata(exchange)
    expect(app_checks.application_objects_match_schema, exchange)
    expect(app_checks.secret_hidden_after_create, exchange)


@pytest.mark.requirement(
    "APP-CREATE", "APP-SECRET-ONCE", "APP-SCHEMA", "APP-GET", "APP-CREDENTIALS"
)
def test_create_answers_201_and_the_application_is_readable(
    api: ApiClient, target: Target, tokens: Tokens, apps: Resources, expect: Expect, mutating: None
) -> None:
    sent = {"name": apps.name("create"), "description": "Proves APP-CREATE."}
    exchange = apps.create(sent)
    # The soft checks first: a create answer that breaks the schema breaks APP-SCHEMA too, even
    # when create's own check then stops the test.
    expect(app_checks.secret_shown_on_create, exchange)
    expect(app_checks.application_objects_match_schema, exchange)
    created = app_checks.create_answers_201_with_application(exchange, sent)
    read = api.get(
        target.application_url(created["id"]), token=tokens.for_operation("getOAuthApplication")
    )
    expect(app_checks.get_answers_200_with_data_and_metadata, read, created["id"])
    expect(app_checks.created_application_is_readable, read, created)
    expect(app_checks.secret_hidden_after_create, read)
    expect(
        app_checks.created_application_is_listed, _listed_ids(api, target, tokens), created["id"]
    )


@pytest.mark.requirement("APP-CREATE")
def test_create_without_description_is_accepted(apps: Resources, mutating: None) -> None:
    sent = {"name": apps.name("no-description")}
    app_checks.create_answers_201_with_application(apps.create(sent), sent)


@pytest.mark.requirement("APP-GET")
def test_unknown_application_answers_404(api: ApiClient, target: Target, tokens: Tokens) -> None:
    exchange = api.get(
        target.application_url(2_000_000_000), token=tokens.for_operation("getOAuthApplication")
    )
    app_checks.unknown_application_answers_404(exchange)


NAMELESS_BODIES = [{}, {"description": "no name"}, {"name": ""}, {"name": "   "}, {"name": None}]


@pytest.mark.requirement("APP-NAME-REQUIRED")
def test_creates_without_a_name_are_refused_and_create_nothing(
    api: ApiClient, target: Target, tokens: Tokens, apps: Resources, expect: Expect, mutating: None
) -> None:
    """Five nameless bodies between one listing before and one after: what a create that was not
    refused made is that create's failure, not a refused one's."""
    before = _listed_ids(api, target, tokens)
    accepted: set[Any] = set()  # the ids as the server wrote them
    for body in NAMELESS_BODIES:
        exchange = apps.create(body)
        expect(app_checks.nameless_create_refused, exchange, body)
        if exchange.status < 400:
            data = (
                (exchange.json() or {}).get("data") if isinstance(exchange.json(), dict) else None
            )
            accepted.add((data or {}).get("id") if isinstance(data, dict) else None)
    # The run's own applications (its ledger is shared by every worker) may come and go meanwhile;
    # the ledger is read once the listing is in, and again a moment later should another worker's
    # create have been listed before its answer reached the ledger.
    after = _listed_ids(api, target, tokens) - accepted
    for settle in (0.0, 0.5):
        time.sleep(settle)
        own = read_outstanding(apps.ledger.path) if apps.ledger.path.exists() else []
        after -= {entry["application_id"] for entry in own}
        if after <= before:
            break
    expect(app_checks.refused_create_created_nothing, before, after)


@pytest.fixture(scope="module")
def updated_application(apps: Resources) -> dict[str, Any]:
    """One application the update tests share (each sends its change and reads it back); the dict
    holds what the server should hold now."""
    if apps.client.read_only:
        pytest.skip("the read-only profile creates nothing")
    _, created = apps.new_application("update")
    return dict(created)


@pytest.mark.requirement("APP-UPDATE", "APP-SECRET-ONCE", "APP-SCHEMA")
@pytest.mark.parametrize(
    "change",
    [
        {"name": "renamed"},
        {"description": "new description"},
    ],
    ids=["name-only", "description-only"],
)
def test_update_persists_sent_fields_and_keeps_the_rest(
    api: ApiClient,
    target: Target,
    tokens: Tokens,
    apps: Resources,
    updated_application: dict[str, Any],
    change: dict[str, str],
    expect: Expect,
    mutating: None,
) -> None:
    before = dict(updated_application)
    sent = {k: (apps.name(v) if k == "name" else v) for k, v in change.items()}
    url = target.application_url(before["id"])
    exchange = api.put(url, json=sent, token=tokens.for_operation("updateOAuthApplication"))
    updated_application.update(sent)
    app_checks.update_answers_200_with_changes(exchange, sent, before)
    expect(app_checks.secret_hidden_after_create, exchange)
    expect(app_checks.application_objects_match_schema, exchange)
    read = api.get(url, token=tokens.for_operation("getOAuthApplication"))
    expect(app_checks.update_persisted, read, {**before, **sent})


@pytest.mark.requirement("APP-UPDATE", "APP-SECRET-ONCE", "APP-SCHEMA")
def test_an_update_of_both_fields_changes_its_application_and_no_other(
    api: ApiClient,
    target: Target,
    tokens: Tokens,
    apps: Resources,
    updated_application: dict[str, Any],
    expect: Expect,
    mutating: None,
) -> None:
    """Both fields, each a value no other application holds; one listing then reads them back and
    the neighbours with them (a neighbour showing a value only this application was sent is one
    the update changed too)."""
    before = dict(updated_application)
    sent = {"name": apps.name("both"), "description": f"Description of {apps.name('both')}."}
    exchange = api.put(
        target.application_url(before["id"]),
        json=sent,
        token=tokens.for_operation("updateOAuthApplication"),
    )
    updated_application.update(sent)
    app_checks.update_answers_200_with_changes(exchange, sent, before)
    expect(app_checks.secret_hidden_after_create, exchange)
    expect(app_checks.application_objects_match_schema, exchange)
    listed = list_all(api, target, tokens.for_operation("listOAuthApplications"))
    expect(app_checks.update_changed_only_its_target, listed, {**before, **sent}, sent, exchange)


@pytest.mark.requirement("APP-DELETE")
def test_delete_answers_204_and_removes_its_application_and_no_other(
    api: ApiClient, target: Target, tokens: Tokens, apps: Resources, expect: Expect, mutating: None
) -> None:
    """One listing before the delete and one after it: an application the run did not create
    that the first lists and the second does not went with the delete."""
    _, created = apps.new_application("delete")
    before = _listed_ids(api, target, tokens)
    exchange = apps.delete(created["id"])
    app_checks.delete_answers_204_without_body(exchange)
    read = api.get(
        target.application_url(created["id"]), token=tokens.for_operation("getOAuthApplication")
    )
    expect(app_checks.deleted_application_answers_404, read)
    after = _listed_ids(api, target, tokens)
    expect(app_checks.deleted_application_not_listed, after, created["id"])
    # Side by side, another worker's create may be listed before its answer reaches the ledger.
    for settle in (0.0, 0.5) if api.limits.clients > 1 else (0.0,):
        time.sleep(settle)
        run_ids = ours(target, apps)
        if not before - after - run_ids:
            break
    expect(app_checks.delete_removed_only_its_target, before, after, exchange, run_ids)
