"""A partner integration on requests with urllib3's Retry, the recipe most guides give: a Session whose
HTTPAdapter retries 429, 502, 503 and 504 with exponential backoff and honours Retry-After
(https://urllib3.readthedocs.io/en/stable/reference/urllib3.util.html#urllib3.util.Retry). The token
is fetched with a plain form POST and renewed when the API answers 401.

Its task: read every application (following next_page_url), then create, read, rename and delete one.
``--naive`` is the first integration people write: no Retry, no renewal; any error status ends it.

It reads CREDLY_API_BASE_URL, CREDLY_TOKEN_URL, CREDLY_ORGANIZATION_ID, CREDLY_CLIENT_ID and
CREDLY_CLIENT_SECRET.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry


class Credly:
    def __init__(self, naive: bool) -> None:
        self.api = os.environ["CREDLY_API_BASE_URL"].rstrip("/")
        self.naive = naive
        self.session = requests.Session()
        if not naive:
            retry = Retry(
                total=5,
                status_forcelist=[429, 502, 503, 504],
                backoff_factor=0.5,
                respect_retry_after_header=True,
            )
            self.session.mount("http://", HTTPAdapter(max_retries=retry))
            self.session.mount("https://", HTTPAdapter(max_retries=retry))
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

    def call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        if self.token is None:
            self.fetch_token()
        response = self.session.request(
            method, url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10, **kwargs
        )
        if response.status_code == 401 and not self.naive:  # the token stopped working: renew
            self.fetch_token()
            response = self.session.request(
                method, url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10, **kwargs
            )
        response.raise_for_status()
        return response


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
    fields = {"name": "Synced by the partner", "description": "Created with requests."}
    created = credly.call("POST", base, json=fields).json()["data"]
    credly.call("GET", f"{base}/{created['id']}")
    credly.call("PUT", f"{base}/{created['id']}", json={"name": "Renamed by the partner"})
    credly.call("DELETE", f"{base}/{created['id']}")  # 204 No Content
    print(f"synced {len(applications)} applications; created, read, renamed and deleted one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
