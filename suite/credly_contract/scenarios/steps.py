"""Steps the scenarios share: creating a named application, and walking a list along its links."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from credly_contract.checks.applications import (
    application_objects,
    create_answers_201_with_application,
)
from credly_contract.http_client import ApiClient, Exchange
from credly_contract.ledger import resource_name
from credly_contract.session import Resources

# A server whose links never end must not keep a scenario walking forever.
MAX_PAGES = 25


def create_application(
    apps: Resources, scenario: str, number: int
) -> tuple[Exchange, dict[str, Any]]:
    """Create "credly-contract <run id> <scenario> <number>", a name every replay repeats."""
    sent = {"name": resource_name(apps.ledger.run_id, f"{scenario} {number}")}
    exchange, application = apps.new_application(scenario, **sent)
    create_answers_201_with_application(exchange, sent)
    return exchange, application


def metadata(exchange: Exchange) -> dict[str, Any]:
    body = exchange.json()
    meta = body.get("metadata") if isinstance(body, dict) else None
    return meta if isinstance(meta, dict) else {}


def pages(
    api: ApiClient, url: str, token: str, params: dict[str, Any]
) -> Iterator[tuple[int, Exchange]]:
    """The first page of a list, then each page its next_page_url leads to, with their numbers."""
    number = int(params.get("page", 1))
    exchange = api.get(url, token=token, params=params)
    yield number, exchange
    while number < MAX_PAGES and metadata(exchange).get("next_page_url"):
        number += 1
        exchange = follow(api, exchange, "next_page_url", number, token)
        yield number, exchange


def follow(api: ApiClient, page: Exchange, name: str, number: int, token: str) -> Exchange:
    """Page ``number``, through the link ``name`` on ``page`` when the token may follow it (it stays
    on the API's origin: SEC-LINKS-ON-ORIGIN, judged by the certification), else by its number."""
    per = parse_qs(urlsplit(page.url).query).get("per", [""])[0]
    url, params = api.target.link_to_follow(
        str(metadata(page)[name]), page.url, number, int(per) if per.isdigit() else None
    )
    return api.get(url, token=token, params=params)


def ids(exchange: Exchange) -> list[int]:
    return [app["id"] for app in application_objects(exchange) if isinstance(app.get("id"), int)]
