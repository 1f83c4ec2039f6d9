"""Checks of Bearer authentication, scopes, tenancy, revocation and robustness (BEARER-*, SCOPE-*, SEC-*)."""

from __future__ import annotations

from typing import Any

from credly_contract import spec
from credly_contract.checks import Violation, check, expect_status
from credly_contract.client import Exchange


@check("BEARER-REQUIRED")
def unauthenticated_request_refused(exchange: Exchange, how: str) -> None:
    expect_status(exchange, 401, what=f"{exchange.method} with {how}")


@check("BEARER-CHALLENGE")
def unauthorized_carries_bearer_challenge(exchange: Exchange) -> None:
    challenge = exchange.header("www-authenticate") or ""
    if exchange.status == 401 and not challenge.lower().startswith("bearer"):
        raise Violation(
            f"a 401 from the API has WWW-Authenticate {challenge or None!r}, expected Bearer ...",
            exchange,
        )


@check("SCOPE-ENFORCED")
def token_without_scope_refused(exchange: Exchange, scope: str) -> None:
    expect_status(exchange, 403, what=f"{exchange.method} with a token lacking {scope}")


@check("SCOPE-ENFORCED")
def token_with_scope_accepted(exchange: Exchange, scope: str) -> None:
    if exchange.status in (401, 403):
        raise Violation(
            f"{exchange.method} with a token holding {scope} was refused ({exchange.status})",
            exchange,
        )


@check("BADGES-LIST")
def badges_list_answers_pagination_envelope(exchange: Exchange) -> None:
    expect_status(exchange, 200, what="the badges list")
    errors = spec.schema_errors("BadgeList", exchange.json())
    if errors:
        raise Violation(
            "the badges list breaks the list envelope: " + "; ".join(errors[:5]), exchange
        )


@check("SEC-TENANT")
def foreign_organization_refused(exchange: Exchange, what: str) -> None:
    if 200 <= exchange.status < 300:
        raise Violation(
            f"{what} answered {exchange.status}: a token acted outside its organization", exchange
        )


@check("SEC-REVOKE-ON-DELETE")
def deleted_application_token_refused(exchange: Exchange) -> None:
    expect_status(exchange, 401, what="a request with a token of a deleted application")


@check("SEC-REVOKE-ON-DELETE")
def deleted_application_credentials_refused(exchange: Exchange) -> None:
    body = exchange.json()
    error = body.get("error") if isinstance(body, dict) else None
    if exchange.status not in (400, 401) or error != "invalid_client":
        raise Violation(
            f"a deleted application's credentials answered {exchange.status} error={error!r}, "
            "expected invalid_client",
            exchange,
        )


@check("SEC-NO-5XX")
def no_server_error(exchange: Exchange) -> None:
    if exchange.status >= 500:
        raise Violation(
            f"{exchange.method} {exchange.url} answered a server error {exchange.status}", exchange
        )


@check("SEC-INPUT-REJECTED")
def bad_input_refused(exchange: Exchange, what: str) -> None:
    if not 400 <= exchange.status < 500:
        raise Violation(f"{what} answered {exchange.status}, expected a 4xx refusal", exchange)


@check("SEC-INPUT-REJECTED")
def refused_input_changed_nothing(
    before: list[dict[str, Any]], after: list[dict[str, Any]], what: str
) -> None:
    if before != after:
        raise Violation(f"{what} was refused but the applications changed")
