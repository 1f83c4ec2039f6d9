"""Checks of the list pagination metadata (PAGE-META)."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import parse_qs, urlsplit

from credly_contract import spec
from credly_contract.checks.base import Violation, check
from credly_contract.http_client import Exchange

# The seven documented fields, read from the contract (openapi/credly.yaml), never restated here.
METADATA_FIELDS = tuple(spec.document()["components"]["schemas"]["PaginationMetadata"]["required"])


@check("PAGE-META")
def page_metadata_is_consistent(exchange: Exchange, page: int) -> dict[str, Any]:
    """count, total_pages, current_page and the previous/next links agree with each other on one page."""
    body = exchange.json()
    meta = body.get("metadata") if isinstance(body, dict) else None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(meta, dict) or not isinstance(data, list):
        raise Violation(f"page {page} has no data list and metadata object", exchange)
    missing = [name for name in METADATA_FIELDS if name not in meta]
    if missing:
        raise Violation(f"page {page} metadata lacks {', '.join(missing)}", exchange)
    count, total, per, pages = meta["count"], meta["total_count"], meta["per"], meta["total_pages"]
    if (
        not all(isinstance(v, int) for v in (count, total, per, pages, meta["current_page"]))
        or per < 1
    ):
        raise Violation(f"page {page} metadata numbers are not positive integers: {meta}", exchange)
    problems = []
    if count != len(data):
        problems.append(f"count={count} but data holds {len(data)} items")
    if pages != math.ceil(total / per):
        problems.append(
            f"total_pages={pages} but ceil(total_count {total} / per {per}) = {math.ceil(total / per)}"
        )
    if meta["current_page"] != page:
        problems.append(f"current_page={meta['current_page']} on a request for page {page}")
    if (meta["previous_page_url"] is None) != (page == 1):
        problems.append(f"previous_page_url={meta['previous_page_url']!r} on page {page}")
    if (meta["next_page_url"] is None) != (page >= pages):
        problems.append(f"next_page_url={meta['next_page_url']!r} on page {page} of {pages}")
    expected_count = max(0, min(per, total - (page - 1) * per))
    if count != expected_count and not problems:
        problems.append(
            f"page {page} holds {count} items, expected {expected_count} of {total} at {per} per page"
        )
    for name, target in (("previous_page_url", page - 1), ("next_page_url", page + 1)):
        url = meta[name]
        named = _page_of(url) if isinstance(url, str) else None
        if named is not None and named != target:
            problems.append(f"{name}={url!r} does not point at page {target}")
    if problems:
        raise Violation(f"page {page} metadata is inconsistent: " + "; ".join(problems), exchange)
    return meta


@check("PAGE-META")
def page_past_the_end_is_empty(exchange: Exchange, page: int) -> None:
    """A page past the last one holds nothing and links nowhere further. What previous_page_url and
    current_page say there is left open by the docs (paginators differ), so it is not asserted."""
    body = exchange.json()
    meta = body.get("metadata") if isinstance(body, dict) else None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(meta, dict) or not isinstance(data, list):
        raise Violation(
            f"page {page} (past the end) has no data list and metadata object", exchange
        )
    problems = []
    if data or meta.get("count") != 0:
        problems.append(f"it holds {len(data)} item(s), count={meta.get('count')!r}")
    if meta.get("next_page_url") is not None:
        problems.append(f"next_page_url={meta.get('next_page_url')!r}")
    total, per, pages = meta.get("total_count"), meta.get("per"), meta.get("total_pages")
    if (
        not (isinstance(total, int) and isinstance(per, int) and isinstance(pages, int))
        or per < 1
        or pages != math.ceil(total / per)
    ):
        problems.append(f"total_pages={pages!r} does not match total_count={total!r} / per={per!r}")
    if problems:
        raise Violation(
            f"page {page}, past the end, is inconsistent: " + "; ".join(problems), exchange
        )


def _page_of(url: str) -> int | None:
    """The page number a link names in a ``page`` query parameter, or None when it names none the
    suite can read: the docs do not give the links' form, so only a readable number is compared."""
    raw = parse_qs(urlsplit(url).query).get("page", [""])[0]
    return int(raw) if raw.isdigit() else None


@check("PAGE-META")
def next_links_visit_every_item_once(visited: list[int], expected: set[int]) -> None:
    """Following next_page_url from page 1 returns each listed application exactly once."""
    duplicates = sorted({i for i in visited if visited.count(i) > 1})
    if duplicates:
        raise Violation(
            f"following next_page_url returned applications {duplicates} more than once"
        )
    missing = sorted(expected - set(visited))
    if missing:
        raise Violation(f"following next_page_url never returned applications {missing}")


@check("PAGE-META")
def per_is_honoured_or_ignored(exchange: Exchange, per: int) -> bool:
    """True when metadata.per echoes the requested per; a server may ignore it (the docs are silent)."""
    meta = (exchange.json() or {}).get("metadata") or {}
    return meta.get("per") == per
