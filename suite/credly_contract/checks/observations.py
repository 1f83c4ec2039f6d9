"""Undocumented behaviour worth telling QA about, never a failure: where the docs are silent (extra
fields, error bodies, length limits, the order of timestamps), what the target did is reported here
and no requirement is judged on it."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from credly_contract import spec
from credly_contract.checks.applications import application_objects, timestamp
from credly_contract.facts import Observation, ObservationKind
from credly_contract.http_client import Exchange


@cache
def _documented_fields(schema: str) -> frozenset[str]:
    return frozenset(spec.document()["components"]["schemas"][schema]["properties"])


def _extra(kind: ObservationKind, fields: set[str], where: str, exchange: Exchange) -> Observation:
    return {
        "kind": kind,
        "detail": f"{where} carries undocumented field(s): {', '.join(sorted(fields))}",
        "example": exchange.summary(),
    }


# Names longer than this are worth a note: the docs set no limit, and servers differ (Doorkeeper
# validates presence only; a database column may cut at 255).
LONG_NAME = 255


def _sent_name(exchange: Exchange) -> str | None:
    if exchange.method not in ("POST", "PUT") or not exchange.request_body:
        return None
    try:
        body = json.loads(exchange.request_body)
    except ValueError:
        return None
    name = body.get("name") if isinstance(body, dict) else None
    return name if isinstance(name, str) else None


def _length_limit(exchange: Exchange) -> Observation | None:
    name = _sent_name(exchange)
    if name is None or len(name) <= LONG_NAME or exchange.status >= 500:
        return None
    outcome = "accepts" if exchange.status < 300 else f"refuses ({exchange.status})"
    return {
        "kind": ObservationKind.LENGTH_LIMIT,
        "detail": f"the target {outcome} application names longer than {LONG_NAME} characters "
        "(the docs set no limit)",
        "example": exchange.summary(),
    }


def _timestamp_order(application: dict[str, Any], exchange: Exchange) -> Observation | None:
    created, updated = (
        timestamp(application.get("created_at")),
        timestamp(application.get("updated_at")),
    )
    if created is None or updated is None or created <= updated:
        return None
    return {
        "kind": ObservationKind.TIMESTAMP_ORDER,
        "detail": "an application's created_at is later than its updated_at (the docs do not say "
        "how they relate)",
        "example": exchange.summary(),
    }


def undocumented_behaviour(exchange: Exchange, token_url: str) -> list[Observation]:
    """Observations about one exchange (deduplicated by the caller)."""
    found: list[Observation] = []
    body = exchange.json()
    if exchange.url.startswith(token_url):
        if exchange.status == 200 and isinstance(body, dict):
            extra = set(body) - _documented_fields("TokenResponse")
            if extra:
                found.append(
                    _extra(ObservationKind.EXTRA_FIELD, extra, "the token response", exchange)
                )
        return found
    is_applications = "/oauth_applications" in exchange.url
    applications = application_objects(exchange) if is_applications else []
    for application in applications:
        extra = set(application) - _documented_fields("OAuthApplicationBase") - {"secret"}
        if extra:
            found.append(
                _extra(ObservationKind.EXTRA_FIELD, extra, "an application object", exchange)
            )
            break
    for application in applications:
        order = _timestamp_order(application, exchange)
        if order:
            found.append(order)
            break
    if is_applications and (limit := _length_limit(exchange)):
        found.append(limit)
    metadata = body.get("metadata") if isinstance(body, dict) else None
    if isinstance(metadata, dict) and isinstance(body.get("data"), list):
        extra = set(metadata) - _documented_fields("PaginationMetadata")
        if extra:
            found.append(
                _extra(ObservationKind.EXTRA_FIELD, extra, "the pagination metadata", exchange)
            )
    if exchange.status >= 400 and not (
        isinstance(body, dict) and isinstance(body.get("data"), dict)
    ):
        shape = (
            "an empty body"
            if not exchange.response_body.strip()
            else "a body that is not Credly's envelope"
        )
        found.append(
            {
                "kind": ObservationKind.ERROR_BODY,
                "detail": f"{exchange.status} answers come with {shape} (the docs show no error bodies)",
                "example": exchange.summary(),
            }
        )
    return found
