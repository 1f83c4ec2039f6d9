"""A partner integration on Authlib's httpx OAuth2Client, as Authlib documents the client credentials
grant: given the token endpoint and grant_type="client_credentials", the client fetches a token and
fetches a new one by itself when the old one expires
(https://docs.authlib.org/en/latest/client/httpx.html). httpx retries no status, so the careful
variant is a plain loop: it waits what Retry-After says after a 429, 0.2 s, 0.4 s, 0.8 s after a 5xx,
and fetches a new token when the API answers 401 to one that has not expired yet (revoked).

Its task: read every application (following next_page_url), then create, read, rename and delete one.
``--naive`` is the first integration people write: no retries, no renewal on 401; any error status
ends it.

It reads CREDLY_API_BASE_URL, CREDLY_TOKEN_URL, CREDLY_ORGANIZATION_ID, CREDLY_CLIENT_ID and
CREDLY_CLIENT_SECRET.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import httpx
from authlib.integrations.httpx_client import OAuth2Client

WAITS_AFTER_5XX = (0.2, 0.4, 0.8)


class Credly:
    def __init__(self, naive: bool) -> None:
        self.api = os.environ["CREDLY_API_BASE_URL"].rstrip("/")
        self.naive = naive
        self.client = OAuth2Client(
            os.environ["CREDLY_CLIENT_ID"],
            os.environ["CREDLY_CLIENT_SECRET"],
            scope="oauth_applications",
            token_endpoint=os.environ["CREDLY_TOKEN_URL"],
            grant_type="client_credentials",
            timeout=10,
        )
        self.client.fetch_token()

    def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = self.client.request(method, url, **kwargs)
        if self.naive:
            return response.raise_for_status()
        renewed, waits = False, list(WAITS_AFTER_5XX)
        while True:
            if response.status_code == 429:
                time.sleep(float(response.headers.get("Retry-After", "1")))
            elif response.status_code >= 500 and waits:
                time.sleep(waits.pop(0))
            elif response.status_code == 401 and not renewed:  # revoked before it expired
                self.client.fetch_token()
                renewed = True
            else:
                return response.raise_for_status()
            response = self.client.request(method, url, **kwargs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--naive", action="store_true", help="no retries, no renewal on 401")
    credly = Credly(parser.parse_args().naive)
    base = f"{credly.api}/organizations/{os.environ['CREDLY_ORGANIZATION_ID']}/oauth_applications"
    applications: list[dict[str, Any]] = []
    url: str | None = base
    while url:
        page = credly.call("GET", url).json()
        applications += page["data"]
        url = page["metadata"]["next_page_url"]
    fields = {"name": "Synced by the partner", "description": "Created with Authlib."}
    created = credly.call("POST", base, json=fields).json()["data"]
    credly.call("GET", f"{base}/{created['id']}")
    credly.call("PUT", f"{base}/{created['id']}", json={"name": "Renamed by the partner"})
    credly.call("DELETE", f"{base}/{created['id']}")  # 204 No Content
    print(f"synced {len(applications)} applications; created, read, renamed and deleted one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
