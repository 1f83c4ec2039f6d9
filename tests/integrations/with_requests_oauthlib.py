"""A partner integration on requests-oauthlib, as its documentation shows the client credentials
grant ("Backend Application Flow": BackendApplicationClient, OAuth2Session.fetch_token, which sends
the client credentials with HTTP Basic), with urllib3's Retry mounted on the session for 429 and 5xx
(https://requests-oauthlib.readthedocs.io/en/latest/oauth2_workflow.html#backend-application-flow).
Client credentials come without a refresh token, so a 401 is answered by fetching a new token.

Its task: read every application (following next_page_url), then create, read, rename and delete one.
``--naive`` is the first integration people write: no Retry, no renewal; any error status ends it.

It reads CREDLY_API_BASE_URL, CREDLY_TOKEN_URL, CREDLY_ORGANIZATION_ID, CREDLY_CLIENT_ID and
CREDLY_CLIENT_SECRET. requests-oauthlib refuses a token URL that is not https:// (certify-client serves HTTPS).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import requests
from oauthlib.oauth2 import BackendApplicationClient
from requests.adapters import HTTPAdapter
from requests_oauthlib import OAuth2Session
from urllib3.util import Retry


class Credly:
    def __init__(self, naive: bool) -> None:
        self.api = os.environ["CREDLY_API_BASE_URL"].rstrip("/")
        self.naive = naive
        scope = ["oauth_applications"]
        client = BackendApplicationClient(client_id=os.environ["CREDLY_CLIENT_ID"], scope=scope)
        self.session = OAuth2Session(client=client, scope=scope)
        if not naive:
            retry = Retry(
                total=5,
                status_forcelist=[429, 502, 503, 504],
                backoff_factor=0.5,
                respect_retry_after_header=True,
            )
            self.session.mount("https://", HTTPAdapter(max_retries=retry))
            self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.fetch_token()

    def fetch_token(self) -> None:
        self.session.fetch_token(
            token_url=os.environ["CREDLY_TOKEN_URL"],
            client_id=os.environ["CREDLY_CLIENT_ID"],
            client_secret=os.environ["CREDLY_CLIENT_SECRET"],
            timeout=10,
        )

    def call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        response = self.session.request(method, url, timeout=10, **kwargs)
        if response.status_code == 401 and not self.naive:  # no refresh token: fetch a new one
            self.fetch_token()
            response = self.session.request(method, url, timeout=10, **kwargs)
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
    fields = {"name": "Synced by the partner", "description": "Created with requests-oauthlib."}
    created = credly.call("POST", base, json=fields).json()["data"]
    credly.call("GET", f"{base}/{created['id']}")
    credly.call("PUT", f"{base}/{created['id']}", json={"name": "Renamed by the partner"})
    credly.call("DELETE", f"{base}/{created['id']}")  # 204 No Content
    print(f"synced {len(applications)} applications; created, read, renamed and deleted one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
