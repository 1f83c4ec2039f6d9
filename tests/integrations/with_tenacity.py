"""A partner integration on requests with tenacity, as tenacity's documentation shows it: ``@retry``
with ``wait_random_exponential`` ("exponential backoff with jitter", the default here) or
``wait_exponential`` (``--wait exponential``), ``stop_after_attempt``, and a wait that honours the
Retry-After of a 429 before falling back to the exponential one
(https://tenacity.readthedocs.io/en/latest/#waiting-before-retrying). A 401 is answered by fetching a
new client-credentials token.

Its task: read every application (following next_page_url), then create, read, rename and delete one.
``--naive`` is the first integration people write: no retries, no renewal; any error status ends it.

It reads CREDLY_API_BASE_URL, CREDLY_TOKEN_URL, CREDLY_ORGANIZATION_ID, CREDLY_CLIENT_ID and
CREDLY_CLIENT_SECRET.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random_exponential,
)
from tenacity.wait import wait_base


def retryable(error: BaseException) -> bool:
    """429, 5xx and a token that stopped working (401) are worth another attempt."""
    if isinstance(error, requests.ConnectionError):
        return True
    response = getattr(error, "response", None)
    return (
        isinstance(error, requests.HTTPError)
        and response is not None
        and (response.status_code in (401, 429) or response.status_code >= 500)
    )


class wait_retry_after(wait_base):
    """The Retry-After of a 429 when the answer has one; otherwise the ``fallback`` wait."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        response = getattr(error, "response", None)
        if response is not None and response.status_code == 429:
            return float(response.headers.get("Retry-After", "1"))
        return self.fallback(retry_state)


class Credly:
    def __init__(self, naive: bool, wait: str) -> None:
        self.api = os.environ["CREDLY_API_BASE_URL"].rstrip("/")
        self.session = requests.Session()
        self.naive = naive
        fallback = wait_exponential(multiplier=0.5, max=8)
        if wait == "random":
            fallback = wait_random_exponential(multiplier=0.5, max=8)
        self.retrying = Retrying(
            retry=retry_if_exception(retryable),
            wait=wait_retry_after(fallback),
            stop=stop_after_attempt(6),
            reraise=True,
        )
        self.token: str | None = None

    def fetch_token(self) -> None:
        response = self.session.post(
            os.environ["CREDLY_TOKEN_URL"],
            data={
                "grant_type": "client_credentials",
                "scope": "oauth_applications",
                "client_id": os.environ["CREDLY_CLIENT_ID"],
                "client_secret": os.environ["CREDLY_CLIENT_SECRET"],
            },
            timeout=10,
        )
        response.raise_for_status()
        self.token = response.json()["access_token"]

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        if self.token is None:
            self.fetch_token()
        headers = {"Authorization": f"Bearer {self.token}"}
        response = self.session.request(method, url, headers=headers, timeout=10, **kwargs)
        if response.status_code == 401:
            self.token = None  # fetched again on the next attempt
        response.raise_for_status()
        return response

    def call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        if self.naive:
            return self._send(method, url, **kwargs)
        return self.retrying(self._send, method, url, **kwargs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--naive", action="store_true", help="no retries, no token renewal")
    parser.add_argument("--wait", choices=["random", "exponential"], default="random")
    args = parser.parse_args()
    credly = Credly(args.naive, args.wait)
    base = f"{credly.api}/organizations/{os.environ['CREDLY_ORGANIZATION_ID']}/oauth_applications"
    applications: list[dict[str, Any]] = []
    url: str | None = base
    while url:
        page = credly.call("GET", url).json()
        applications += page["data"]
        url = page["metadata"]["next_page_url"]
    fields = {"name": "Synced by the partner", "description": "Created with tenacity."}
    created = credly.call("POST", base, json=fields).json()["data"]
    credly.call("GET", f"{base}/{created['id']}")
    credly.call("PUT", f"{base}/{created['id']}", json={"name": "Renamed by the partner"})
    credly.call("DELETE", f"{base}/{created['id']}")  # 204 No Content
    print(f"synced {len(applications)} applications; created, read, renamed and deleted one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
