"""Pagination metadata over at least three pages: the arithmetic on every page, next_page_url from
page 1 to the end, previous_page_url back again, and a page past the end."""

import math

import pytest

from credly_contract.checks import Expect
from credly_contract.checks.pagination import (
    next_links_visit_every_item_once,
    page_metadata_is_consistent,
    page_past_the_end_is_empty,
)
from credly_contract.config import Target
from credly_contract.http_client import ApiClient
from credly_contract.scenarios.steps import create_application, follow, ids, metadata, pages
from credly_contract.session import Resources, Tokens


@pytest.mark.requirement("PAGE-META", "APP-SCHEMA")
def test_pagination_metadata_over_three_pages(
    api: ApiClient,
    apps: Resources,
    tokens: Tokens,
    target: Target,
    expect: Expect,
    mutating: None,
) -> None:
    created = {create_application(apps, "pagination", n)[1]["id"] for n in range(1, 7)}
    token = tokens.for_operation("listOAuthApplications")

    # Choose per so that the organization's applications (ours and any others) fill 3 to 5 pages,
    # the last one partly when that can be: total_pages = ceil(total_count / per) is then tested.
    first = api.get(target.applications_url(), token=token, params={"per": 1})
    total = page_metadata_is_consistent(first, 1)["total_count"]
    per = min(50, max(2, total // 3))
    if total % per == 0 and math.ceil(total / (per + 1)) >= 3:
        per += 1

    visited: list[int] = []
    last_page, last = 0, first
    for number, exchange in pages(api, target.applications_url(), token, {"per": per}):
        expect(page_metadata_is_consistent, exchange, number)
        visited += ids(exchange)
        last_page, last = number, exchange
    next_links_visit_every_item_once(visited, created)
    if last_page < 3:
        pytest.skip(f"{total} applications at per={per} filled only {last_page} page(s)")

    # Back to page 1 (a page > 1 without previous_page_url has already failed its metadata check).
    number = last_page
    while number > 1 and metadata(last).get("previous_page_url"):
        number -= 1
        last = follow(api, last, "previous_page_url", number, token)
        expect(page_metadata_is_consistent, last, number)

    past = api.get(
        target.applications_url(), token=token, params={"page": last_page + 1, "per": per}
    )
    # The docs leave open whether a page past the end is served or refused; only a served one is judged.
    if past.status < 400:
        expect(page_past_the_end_is_empty, past, last_page + 1)

    for application_id in sorted(created):
        apps.delete(application_id)
