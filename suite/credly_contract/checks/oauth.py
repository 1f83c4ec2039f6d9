"""Checks of the token endpoint (TOKEN-*, OAUTH-*) per the docs and RFC 6749."""

from __future__ import annotations

from credly_contract import spec
from credly_contract.checks.base import (
    Violation,
    check,
    expect_json_object,
    expect_status,
    not_judged,
)
from credly_contract.http_client import Exchange


def _oauth_error(exchange: Exchange, statuses: tuple[int, ...], error: str, what: str) -> None:
    expect_status(exchange, *statuses, what=what)
    body = expect_json_object(exchange, what)
    if body.get("error") != error:
        raise Violation(
            f"{what} answered error={body.get('error')!r}, expected {error!r}", exchange
        )


@check("TOKEN-ISSUE")
def token_response_is_well_formed(exchange: Exchange) -> str:
    expect_status(exchange, 200, what="the token request")
    body = expect_json_object(exchange, "the token request")
    errors = spec.schema_errors("TokenResponse", body)
    if errors:
        raise Violation("the token response breaks the schema: " + "; ".join(errors), exchange)
    access_token: str = body["access_token"]
    return access_token


@check("OAUTH-NO-STORE")
def token_response_not_cacheable(exchange: Exchange) -> None:
    """RFC 6749 §5.1: a response that issues a token carries Cache-Control: no-store. §5.2 asks
    nothing of error responses, so they are not judged here."""
    if exchange.status != 200:
        not_judged()
    directives = {d.strip().lower() for d in (exchange.header("cache-control") or "").split(",")}
    if "no-store" not in directives:
        raise Violation(
            f"a token endpoint response ({exchange.status}) has Cache-Control "
            f"{exchange.header('cache-control')!r}, expected no-store",
            exchange,
        )


@check("TOKEN-SCOPE")
def requested_scope_granted(exchange: Exchange, requested: list[str]) -> None:
    """A documented scope set is granted, and the grant never exceeds the request."""
    if exchange.status != 200:
        raise Violation(
            f"a token for documented scope(s) {' '.join(requested)} was refused", exchange
        )
    granted = str((exchange.json() or {}).get("scope", "")).split()
    extra = sorted(set(granted) - set(requested))
    if extra:
        raise Violation(
            f"requested {' '.join(requested)} but was granted extra scope(s) {extra}", exchange
        )
    if not granted:
        raise Violation(
            f"requested {' '.join(requested)} but the token response names no scope", exchange
        )


@check("TOKEN-SCOPE")
def unknown_scope_refused(exchange: Exchange) -> None:
    _oauth_error(exchange, (400,), "invalid_scope", "a token request for an unknown scope")


@check("OAUTH-INVALID-CLIENT")
def bad_client_refused(exchange: Exchange, what: str) -> None:
    _oauth_error(exchange, (401, 400), "invalid_client", what)


@check("OAUTH-GRANT-TYPE")
def unsupported_grant_type_refused(exchange: Exchange) -> None:
    _oauth_error(
        exchange, (400,), "unsupported_grant_type", "a token request with grant_type=password"
    )


@check("OAUTH-GRANT-TYPE")
def missing_grant_type_refused(exchange: Exchange) -> None:
    _oauth_error(exchange, (400,), "invalid_request", "a token request without grant_type")
