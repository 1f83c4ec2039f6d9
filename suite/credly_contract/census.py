"""How many applications an organization holds that this run did not create: the cheap way a test
proves that a request changed nothing it was not asked to change (a refused input, a delete)."""

from __future__ import annotations

import json
from typing import Any

from credly_contract.config import Target
from credly_contract.http_client import ApiClient
from credly_contract.ledger import read_outstanding
from credly_contract.session import Resources, list_all


def applications_not_ours(api: ApiClient, target: Target, apps: Resources) -> int:
    """The organization's applications less the run's own, in one request: the list's total_count
    (a list without it is counted page by page, which that list's own tests fail) less the run's
    own, as its ledger has them (shared by every worker of the run, so what tests running side by
    side create and delete cancels out). Side by side, a create of another worker may be counted
    before its answer reaches the ledger: the count is read again until two readings agree."""
    readings = [_count_not_ours(api, target, apps)]
    while api.limits.clients > 1 and len(readings) < 4 and readings[-2:-1] != readings[-1:]:
        readings.append(_count_not_ours(api, target, apps))
    return readings[-1]


def ours(target: Target, apps: Resources) -> set[Any]:
    """Every application id the run has created in the organization (its ledger, shared by every
    worker), deleted or not."""
    if not apps.ledger.path.exists():
        return set()
    ids = set()
    for line in apps.ledger.path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if (
            entry.get("event") == "created"
            and entry.get("organization_id") == target.organization_id
        ):
            ids.add(entry.get("application_id"))
    return ids


def _count_not_ours(api: ApiClient, target: Target, apps: Resources) -> int:
    token = apps.tokens.for_operation("listOAuthApplications")
    body = api.get(target.applications_url(), token=token, params={"per": 1}).json()
    meta = body.get("metadata") if isinstance(body, dict) else None
    total: object = meta.get("total_count") if isinstance(meta, dict) else None
    if not isinstance(total, int):
        total = len(list_all(api, target, token))
    own = read_outstanding(apps.ledger.path) if apps.ledger.path.exists() else []
    return total - sum(1 for entry in own if entry["organization_id"] == target.organization_id)
