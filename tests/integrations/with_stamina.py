"""A partner integration on httpx with stamina, as stamina's documentation shows it: ``@stamina.retry``
with its default backoff (0.1 s plus up to 1 s of jitter before the first retry, then growing) around
each call, retrying 5xx, and a backoff hook that returns the Retry-After of a 429 as the wait
(https://stamina.hynek.me/en/stable/api.html#stamina.retry). A 401 is answered by fetching a new
client-credentials token.

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

import httpx
import stamina


class TokenExpired(Exception):
    """The API answered 401: the token stopped working."""


def retry_or_wait(error: Exception) -> bool | float:
    """stamina's backoff hook: the Retry-After of a 429, True for a 5xx or a dead token."""
    if isinstance(error, TokenExpired):
        return True
    if not isinstance(error, httpx.HTTPStatusError):
        return isinstance(error, httpx.TransportError)
    if error.response.status_code == 429:
        return float(error.response.headers.get("Retry-After", "1"))
    return error.response.status_code >= 500


class Credly:
    def __init__(self, naive: bool) -> None:
        self.api = os.environ["CREDLY_API_BASE_URL"].rstrip("/")
        self.http = httpx.Client(timeout=10)
        self.token: str | None = None
        self.call = self._send if naive else stamina.retry(on=retry_or_wait, attempts=6)(self._call)

    def fetch_token(self) -> None:
        response = self.http.post(
            os.environ["CREDLY_TOKEN_URL"],
            data={
                "grant_type": "client_credentials",
                "scope": "oauth_applications",
                "client_id": os.environ["CREDLY_CLIENT_ID"],
                "client_secret": os.environ["CREDLY_CLIENT_SECRET"],
            },
        )
        self.token = response.raise_for_status().json()["access_token"]

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if self.token is None:
            self.fetch_token()
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.http.request(method, url, headers=headers, **kwargs).raise_for_status()

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._send(method, url, **kwargs)
        except httpx.HTTPStatusError as error:
            if error.response.status_code == 401:
                self.token = None  # fetched again on the retry
                raise TokenExpired from error
            raise


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--naive", action="store_true", help="no retries, no token renewal")
    credly = Credly(parser.parse_args().naive)
    base = f"{credly.api}/organizations/{os.environ['CREDLY_ORGANIZATION_ID']}/oauth_applications"
    applications: list[dict[str, Any]] = []
    url: str | None = base
    while url:
        page = credly.call("GET", url).json()
        applications += page["data"]
        url = page["metadata"]["next_page_url"]
    fields = {"name": "Synced by the partner", "description": "Created with stamina."}
    created = credly.call("POST", base, json=fields).json()["data"]
    credly.call("GET", f"{base}/{created['id']}")
    credly.call("PUT", f"{base}/{created['id']}", json={"name": "Renamed by the partner"})
    credly.call("DELETE", f"{base}/{created['id']}")  # 204 No Content
    print(f"synced {len(applications)} applications; created, read, renamed and deleted one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
