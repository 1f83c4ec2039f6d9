"""Checks of the documented OAuth application operations (APP-*)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from credly_contract import spec
from credly_contract.checks.base import Violation, check, expect_json_object, expect_status
from credly_contract.http_client import Exchange


def application_objects(exchange: Exchange) -> list[dict[str, Any]]:
    """The application objects in a get/list/create/update response (none for other shapes)."""
    body = exchange.json()
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, dict) and "uid" in data:
        return [data]
    if isinstance(data, list):
        return [item for item in data if isinstance(item, dict)]
    return []


def _envelope(exchange: Exchange, what: str, data_type: type) -> dict[str, Any]:
    body = expect_json_object(exchange, what)
    missing = [key for key in ("data", "metadata") if key not in body]
    if missing:
        raise Violation(f"{what} answered without {' and '.join(missing)}", exchange)
    if not isinstance(body["data"], data_type):
        raise Violation(
            f"{what}: data is {type(body['data']).__name__}, expected {data_type.__name__}",
            exchange,
        )
    if not isinstance(body["metadata"], dict):
        raise Violation(f"{what}: metadata is not an object", exchange)
    return body


@check("APP-LIST")
def list_answers_200_with_data_and_metadata(exchange: Exchange) -> list[dict[str, Any]]:
    expect_status(exchange, 200, what="the list")
    data: list[dict[str, Any]] = _envelope(exchange, "the list", list)["data"]
    return data


@check("APP-GET")
def get_answers_200_with_data_and_metadata(
    exchange: Exchange, application_id: int
) -> dict[str, Any]:
    expect_status(exchange, 200, what=f"get of application {application_id}")
    data: dict[str, Any] = _envelope(exchange, "get", dict)["data"]
    if data.get("id") != application_id:
        raise Violation(
            f"get of application {application_id} answered id {data.get('id')!r}", exchange
        )
    return data


@check("APP-GET")
def unknown_application_answers_404(exchange: Exchange) -> None:
    """RFC 9110 §15.5.5: no resource at the URL is a 404 (the docs show no error answers)."""
    expect_status(exchange, 404, what="get of an application id that does not exist")


@check("APP-CREATE")
def create_answers_201_with_application(exchange: Exchange, sent: dict[str, Any]) -> dict[str, Any]:
    expect_status(exchange, 201, what="create")
    data: dict[str, Any] = _envelope(exchange, "create", dict)["data"]
    for key in ("name", "description"):
        if key in sent and data.get(key) != sent[key]:
            raise Violation(
                f"create was sent {key}={sent[key]!r} but answered {data.get(key)!r}", exchange
            )
    if not isinstance(data.get("id"), int):
        raise Violation("create answered no integer id", exchange)
    return data


@check("APP-CREATE")
def created_id_is_new(exchange: Exchange, created_id: Any, known_ids: set[Any]) -> None:
    """A create names a new application: its id is not one the server gave out before."""
    if created_id in known_ids:
        raise Violation(f"create answered id {created_id!r}, which an earlier create had", exchange)


@check("APP-CREATE")
def created_application_is_readable(exchange: Exchange, created: dict[str, Any]) -> None:
    """A get right after create answers the same application."""
    if exchange.status != 200:
        raise Violation(
            f"application {created['id']} was created but get answered {exchange.status}", exchange
        )
    data = (exchange.json() or {}).get("data") or {}
    for key in ("id", "name", "description", "uid"):
        if data.get(key) != created.get(key):
            raise Violation(
                f"get after create answered {key}={data.get(key)!r}, create said {created.get(key)!r}",
                exchange,
            )


@check("APP-CREATE")
def created_application_is_listed(
    listed_ids: set[int], created_id: int, exchange: Exchange | None = None
) -> None:
    if created_id not in listed_ids:
        raise Violation(
            f"application {created_id} was created but the list does not hold it", exchange
        )


@check("APP-NAME-REQUIRED")
def nameless_create_refused(exchange: Exchange, sent: Any) -> None:
    if not 400 <= exchange.status < 500:
        raise Violation(
            f"create with body {sent!r} answered {exchange.status}, expected a 4xx refusal",
            exchange,
        )


@check("APP-NAME-REQUIRED")
def refused_create_created_nothing(before_ids: set[int], after_ids: set[int]) -> None:
    added = after_ids - before_ids
    if added:
        raise Violation(f"a refused create still added application(s) {sorted(added)}")


@check("APP-UPDATE")
def update_answers_200_with_changes(
    exchange: Exchange, sent: dict[str, Any], before: dict[str, Any]
) -> dict[str, Any]:
    expect_status(exchange, 200, what="update")
    data: dict[str, Any] = _envelope(exchange, "update", dict)["data"]
    _expect_fields(exchange, data, {**before, **sent}, "update")
    return data


@check("APP-UPDATE")
def update_persisted(exchange: Exchange, expected: dict[str, Any]) -> None:
    """A later read returns what the update set, and what it did not send is unchanged."""
    expect_status(exchange, 200, what="get after update")
    data = (exchange.json() or {}).get("data") or {}
    _expect_fields(exchange, data, expected, "get after update")


@check("APP-UPDATE")
def update_changed_only_its_target(
    listed: list[dict[str, Any]], expected: dict[str, Any], sent: dict[str, Any], exchange: Exchange
) -> None:
    """A listing after an update shows the updated application's new name and description, and
    no other application with a value only it was sent (the test sends values no other application
    holds): an update changes the application at its URL, nothing else. A listing that does not
    hold the application is the list's failure (APP-CREATE, APP-LIST judge it), not the update's;
    its uid and created_at are judged where the update and the get show them."""
    mine = [a for a in listed if a.get("id") == expected.get("id")]
    if mine:
        _expect_fields(exchange, mine[0], _documented(expected), "the list after update")
    for other in listed:
        changed = [key for key in sent if other.get("id") != expected.get("id")]
        changed = [key for key in changed if other.get(key) == sent[key]]
        if changed:
            raise Violation(
                f"an update of application {expected.get('id')} also wrote "
                + ", ".join(f"{key}={sent[key]!r}" for key in changed)
                + f" into application {other.get('id')}",
                exchange,
            )


def _documented(application: dict[str, Any]) -> dict[str, Any]:
    return {k: application.get(k) for k in ("name", "description")}


# What an update never changes: the docs' update example ("Updating an OAuth Application") answers
# the uid and created_at the application had, with only the name new. A new uid is a new Client ID:
# every integration holding the old one stops working.
KEPT_BY_UPDATE = ("uid", "created_at")


def _same_instant(a: Any, b: Any) -> bool:
    """The same timestamp, to the millisecond the docs show ("2025-04-15T21:21:10.440Z"): a server
    may render one instant with more digits, rounded or cut, or another UTC offset in another
    answer."""
    first, second = _timestamp(a), _timestamp(b)
    if first is None or second is None:
        return bool(a == b)
    return abs((first - second).total_seconds()) <= 0.001


def _expect_fields(
    exchange: Exchange, data: dict[str, Any], expected: dict[str, Any], what: str
) -> None:
    for key, value in _documented(expected).items():
        if data.get(key) != value:
            raise Violation(
                f"{what} answered {key}={data.get(key)!r}, expected {value!r}", exchange
            )
    for key in KEPT_BY_UPDATE:
        if key in expected and not _same_instant(data.get(key), expected[key]):
            raise Violation(
                f"{what} answered {key}={data.get(key)!r}, but the application had "
                f"{expected[key]!r} (the docs' update example keeps uid and created_at)",
                exchange,
            )


@check("APP-DELETE")
def delete_answers_204_without_body(exchange: Exchange) -> None:
    expect_status(exchange, 204, what="delete")
    if exchange.response_body.strip():
        raise Violation("delete answered 204 but with a body", exchange)


@check("APP-DELETE")
def deleted_application_answers_404(exchange: Exchange) -> None:
    """RFC 9110 §15.5.5 (404) or §15.5.11 (410 Gone): the application is no longer there."""
    expect_status(exchange, 404, 410, what="get of a deleted application")


@check("APP-DELETE")
def deleting_again_answers_404(exchange: Exchange) -> None:
    """A second delete finds nothing (404/410, RFC 9110 §15.5.5, §15.5.11); DELETE is idempotent
    (RFC 9110 §9.2.2), so a 204 is no break either. The docs say nothing more."""
    expect_status(exchange, 404, 410, 204, what="a second delete of the same application")


@check("APP-DELETE")
def deleted_application_not_listed(
    listed_ids: set[int], deleted_id: int, exchange: Exchange | None = None
) -> None:
    if deleted_id in listed_ids:
        raise Violation(
            f"application {deleted_id} was deleted but the list still holds it", exchange
        )


@check("APP-DELETE")
def delete_removed_only_its_target(
    before: set[Any], after: set[Any], exchange: Exchange, ours: set[Any]
) -> None:
    """Every application listed before a delete, other than its target and the run's own (which
    tests running side by side delete), is listed after it: a delete removes the application at its
    URL, nothing else."""
    gone = before - after - ours
    if gone:
        raise Violation(
            f"after this delete the organization no longer lists application(s) {sorted(gone)}, "
            "which the run did not create: the delete removed more than its application",
            exchange,
        )


@check("APP-SECRET-ONCE")
def secret_shown_on_create(exchange: Exchange) -> str:
    data = (exchange.json() or {}).get("data") or {}
    secret = data.get("secret")
    if not isinstance(secret, str) or not secret:
        raise Violation(
            f"the create response shows secret={secret!r}, expected a non-empty string", exchange
        )
    return secret


@check("APP-SECRET-ONCE")
def secret_hidden_after_create(exchange: Exchange) -> None:
    """Every application object in a get, list or update response has secret null."""
    for application in application_objects(exchange):
        if application.get("secret", None) is not None:
            raise Violation(
                f"application {application.get('id')} shows its secret again in {exchange.method} "
                f"{exchange.url} (only the create response may)",
                exchange,
            )


@check("APP-SCHEMA")
def created_application_has_uid(exchange: Exchange) -> str:
    """The create response names the client id (uid, a string per the docs)."""
    data = (exchange.json() or {}).get("data") if isinstance(exchange.json(), dict) else None
    uid = data.get("uid") if isinstance(data, dict) else None
    if not isinstance(uid, str) or not uid:
        raise Violation(f"the create response shows uid={uid!r}, expected the client id", exchange)
    return uid


@check("APP-CREDENTIALS")
def created_credentials_obtain_token(exchange: Exchange) -> str:
    if exchange.status != 200:
        raise Violation(
            f"the new application's uid and secret were refused ({exchange.status})", exchange
        )
    token = (exchange.json() or {}).get("access_token")
    if not isinstance(token, str) or not token:
        raise Violation("the new application's credentials got no access_token", exchange)
    return token


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def timestamp(value: Any) -> datetime | None:
    """An ISO 8601 timestamp as the docs show them ("2025-04-15T21:21:10.440Z"), or None."""
    return _timestamp(value)


@check("APP-SCHEMA")
def application_objects_match_schema(exchange: Exchange) -> None:
    """Every application object has the documented fields with their documented JSON types, and
    ISO 8601 timestamps as the docs show them. Formats the docs do not give (of id, uid, names) and
    the order of created_at and updated_at are not asserted (see checks/observations.py)."""
    for application in application_objects(exchange):
        errors = spec.schema_errors("OAuthApplicationBase", application)
        if errors:
            raise Violation(
                f"application {application.get('id')} breaks the schema: " + "; ".join(errors[:5]),
                exchange,
            )
        if (
            _timestamp(application["created_at"]) is None
            or _timestamp(application["updated_at"]) is None
        ):
            raise Violation(
                f"application {application.get('id')} has timestamps that are not ISO 8601: "
                f"{application['created_at']!r}, {application['updated_at']!r}",
                exchange,
            )
