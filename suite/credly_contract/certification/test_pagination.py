"""Pagination metadata over several pages (PAGE-META)."""

from __future__ import annotations

from typing import Any

import pytest

from credly_contract.checks import Expect, pagination
from credly_contract.checks.applications import application_objects
from credly_contract.checks.security import link_stays_on_origin
from credly_contract.config import Target
from credly_contract.http_client import ApiClient, Exchange
from credly_contract.profiles import Profile
from credly_contract.session import Resources, Tokens

PER = 2


def _ensure_pages(
    api: ApiClient, target: Target, tokens: Tokens, apps: Resources, pages: int
) -> int:
    """Make the organization hold at least `pages` pages; returns the per value the server honours."""
    token = tokens.for_operation("listOAuthApplications", "createOAuthApplication")
    first = api.get(target.applications_url(), token=token, params={"page": 1, "per": PER})
    if not isinstance(
        ((first.json() or {}) if isinstance(first.json(), dict) else {}).get("metadata"), dict
    ):
        return PER  # no metadata at all: the checks below report it; creating more proves nothing
    per = (
        PER
        if pagination.per_is_honoured_or_ignored(first, PER)
        else int(((first.json() or {}).get("metadata") or {}).get("per") or 50)
    )
    total = int(((first.json() or {}).get("metadata") or {}).get("total_count") or 0)
    for _ in range(max(0, per * (pages - 1) + 1 - total)):
        apps.new_application("page")
    return per


@pytest.mark.requirement("PAGE-META", "SEC-LINKS-ON-ORIGIN")
def test_every_page_has_consistent_metadata_and_next_links_visit_each_item_once(
    api: ApiClient,
    target: Target,
    tokens: Tokens,
    apps: Resources,
    profile: Profile,
    expect: Expect,
) -> None:
    per = PER
    if not profile.read_only:
        per = _ensure_pages(api, target, tokens, apps, profile.pages)
    token = tokens.for_operation("listOAuthApplications")

    def follow(
        on: Exchange, name: str, meta: dict[str, Any], number: int
    ) -> tuple[str | None, dict[str, int] | None]:
        """Where the page link ``name`` leads: a token follows it only on the API's origin."""
        link = meta.get(name)
        if not link or not isinstance(link, str):
            return None, None
        expect(link_stays_on_origin, on, name, link, target)
        return target.link_to_follow(link, on.url, number, per)

    visited: list[Any] = []  # the ids as the server wrote them (the checks judge them)
    url: str | None
    params: dict[str, int] | None
    url, params, page = target.applications_url(), {"page": 1, "per": per}, 1
    last_meta: dict[str, Any] = {}
    while url and page <= 1000:
        exchange = api.get(url, token=token, params=params)
        last_meta = pagination.page_metadata_is_consistent(exchange, page)
        visited += [a.get("id") for a in application_objects(exchange)]
        url, params = follow(exchange, "next_page_url", last_meta, page + 1)
        page += 1
    if not profile.read_only and last_meta.get("total_pages", 0) < profile.pages:
        expect(pagination.page_metadata_is_consistent, exchange, page - 1)
    # Walk back from the last page with previous_page_url.
    meta, back = last_meta, page - 2
    url, params = follow(exchange, "previous_page_url", meta, back)
    while url and back >= 1:
        exchange = api.get(url, token=token, params=params)
        meta = expect(pagination.page_metadata_is_consistent, exchange, back) or {}
        back -= 1
        url, params = follow(exchange, "previous_page_url", meta, back)
    listing = api.get(target.applications_url(), token=token, params={"per": 100})
    expected = (
        {a.get("id") for a in application_objects(listing)}
        if last_meta.get("total_count", 0) <= 100
        else set()
    )
    expect(pagination.next_links_visit_every_item_once, visited, expected)


@pytest.mark.requirement("PAGE-META")
def test_a_page_past_the_end_is_empty_with_consistent_metadata(
    api: ApiClient, target: Target, tokens: Tokens
) -> None:
    token = tokens.for_operation("listOAuthApplications")
    first = api.get(target.applications_url(), token=token, params={"per": PER})
    total_pages = int(((first.json() or {}).get("metadata") or {}).get("total_pages") or 1)
    past = total_pages + 2
    exchange = api.get(target.applications_url(), token=token, params={"page": past, "per": PER})
    if exchange.status >= 400:
        pytest.skip(
            f"the server refuses pages past the end ({exchange.status}); the docs leave it open"
        )
    pagination.page_past_the_end_is_empty(exchange, past)


@pytest.mark.requirement("PAGE-META", "BADGES-LIST")
def test_badges_pages_have_consistent_metadata(
    api: ApiClient, target: Target, tokens: Tokens
) -> None:
    exchange = api.get(
        target.badges_url(),
        token=tokens.for_operation("listIssuedBadges"),
        params={"page": 1, "per": 1},
    )
    pagination.page_metadata_is_consistent(exchange, 1)
