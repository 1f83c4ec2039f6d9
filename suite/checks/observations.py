"""Undocumented behaviour worth telling QA about, never a failure: extra fields in documented objects
and error bodies that are not Credly's envelope."""

from __future__ import annotations

from functools import cache
from typing import Any

from credly_contract import spec
from credly_contract.checks.applications import application_objects
from credly_contract.client import Exchange


@cache
def _documented_fields(schema: str) -> frozenset[str]:
    return frozenset(spec.document()["components"]["schemas"][schema]["properties"])


def _extra(kind: str, fields: set[str], where: str, exchange: Exchange) -> dict[str, Any]:
    return {
        "kind": kind,
        "detail": f"{where} carries undocumented field(s): {', '.join(sorted(fields))}",
        "example": exchange.summary(),
    }


def undocumented_behaviour(exchange: Exchange, token_url: str) -> list[dict[str, Any]]:
    """Observations about one exchange (deduplicated by the caller)."""
    found: list[dict[str, Any]] = []
    body = exchange.json()
    if exchange.url.startswith(token_url):
        if exchange.status == 200 and isinstance(body, dict):
            extra = set(body) - _documented_fields("TokenResponse")
            if extra:
                found.append(_extra("extra_field", extra, "the token response", exchange))
        return found
    is_applications = "/oauth_applications" in exchange.url
    for application in application_objects(exchange) if is_applications else []:
        extra = set(application) - _documented_fields("OAuthApplicationBase") - {"secret"}
        if extra:
            found.append(_extra("extra_field", extra, "an application object", exchange))
            break
    metadata = body.get("metadata") if isinstance(body, dict) else None
    if isinstance(metadata, dict) and isinstance(body.get("data"), list):
        extra = set(metadata) - _documented_fields("PaginationMetadata")
        if extra:
            found.append(_extra("extra_field", extra, "the pagination metadata", exchange))
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
                "kind": "error_body",
                "detail": f"{exchange.status} answers come with {shape} (the docs show no error bodies)",
                "example": exchange.summary(),
            }
        )
    return found
