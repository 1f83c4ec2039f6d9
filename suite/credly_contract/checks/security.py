"""Checks of Bearer authentication, scopes, tenancy, revocation and robustness (BEARER-*, SCOPE-*, SEC-*)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

from credly_contract import spec
from credly_contract.checks.base import Violation, check, expect_status, not_judged
from credly_contract.config import Target
from credly_contract.http_client import Exchange

# RFC 9110 §11.6.1: WWW-Authenticate may list several challenges (Credly also takes Basic).
_BEARER_CHALLENGE = re.compile(r"(^|,)\s*bearer(\s|,|$)", re.IGNORECASE)


@check("BEARER-REQUIRED")
def unauthenticated_request_refused(exchange: Exchange, how: str, malformed: bool = False) -> None:
    """RFC 6750 §3.1: a request without a valid token gets 401; a malformed Bearer request may get 400
    (invalid_request) instead."""
    allowed = (401, 400) if malformed else (401,)
    expect_status(exchange, *allowed, what=f"{exchange.method} with {how}")


@check("BEARER-CHALLENGE")
def unauthorized_carries_bearer_challenge(exchange: Exchange) -> None:
    if exchange.status != 401:
        not_judged()  # RFC 6750 §3 asks the challenge of a 401 only
    challenge = exchange.header("www-authenticate") or ""
    if not _BEARER_CHALLENGE.search(challenge):
        raise Violation(
            f"a 401 from the API has WWW-Authenticate {challenge or None!r}, expected a Bearer "
            "challenge",
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
def refused_input_kept_the_count(
    before: int, after: int, refusals: list[Exchange], what: str
) -> None:
    """Judged only when every request was refused: the organization's application count (one read of
    the list's total_count) is what it was before them."""
    if before != after:
        raise Violation(
            f"{what} were refused ({', '.join(str(r.status) for r in refusals)}), yet the "
            f"organization's applications (other than this run's own) went from {before} to {after}",
            refusals[-1] if refusals else None,
        )


@check("SEC-INPUT-REJECTED")
def refused_input_changed_nothing(
    before: list[dict[str, Any]], after: list[dict[str, Any]], refusal: Exchange, what: str
) -> None:
    """Judged only for a request that was refused: what the refusal changed, by application id."""
    if before == after:
        return
    old = {str(a.get("id")): a for a in before}
    new = {str(a.get("id")): a for a in after}
    changes = [f"added {sorted(set(new) - set(old))}"] if set(new) - set(old) else []
    changes += [f"removed {sorted(set(old) - set(new))}"] if set(old) - set(new) else []
    changed = sorted(k for k in set(old) & set(new) if old[k] != new[k])
    changes += [f"changed {changed}"] if changed else []
    raise Violation(
        f"{what} was refused ({refusal.status}), yet the applications changed: "
        + ", ".join(changes or ["their order"]),
        refusal,
    )


@check("SEC-LINKS-ON-ORIGIN")
def link_stays_on_origin(exchange: Exchange, name: str, link: str, target: Target) -> None:
    """A page link the server wrote (``name`` on ``exchange``) can be followed with the token: its
    scheme, host and port are the API's. The suite never sends the token elsewhere
    (``Target.link_to_follow`` asks for the page by number instead); this check says why."""
    resolved = urljoin(exchange.url, link)
    if target.may_carry_credentials(resolved):
        return
    if urlsplit(target.api_base_url).scheme == "https" and urlsplit(resolved).scheme == "http":
        raise Violation(
            f"{name} {link!r} downgrades {target.api_base_url} to plain http: following it would "
            "send the bearer token in the clear, and RFC 6750 §5.3 requires TLS with bearer "
            "tokens; the suite did not follow it and asked for the page by number",
            exchange,
        )
    raise Violation(
        f"{name} {link!r} leaves the API's origin ({target.api_base_url}): the docs' page links "
        "are pages of the same list, served by the API, and a token goes nowhere else; the suite "
        "did not follow it and asked for the page by number",
        exchange,
    )
