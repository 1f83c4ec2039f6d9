"""An example partner integration of Credly's OAuth Applications API, written as a partner would: plain
urllib, nothing from credly-contract. Its task: read every application (following next_page_url), then
create, read, rename and delete one.

Run as it is, it is the careful integration `certify-client` certifies; ``--auth basic`` sends the client
credentials with HTTP Basic instead of in the form body. Each ``--defect NAME`` is one mistake real
integrations make, and breaks exactly one CLIENT requirement (see DEFECTS).

It reads CREDLY_API_BASE_URL, CREDLY_TOKEN_URL, CREDLY_ORGANIZATION_ID, CREDLY_CLIENT_ID and
CREDLY_CLIENT_SECRET.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

DOCUMENTED_SCOPES = (
    "authorization_tokens badge_templates events invitations issued_badges memberships "
    "oauth_applications pathways recommendations workforce"
)
# defect -> the CLIENT requirement it breaks
DEFECTS = {
    "credentials_in_query": "CLIENT-TOKEN-REQUEST",
    "unauthenticated_probe": "CLIENT-BEARER",
    "token_in_query": "CLIENT-SECRETS-CONFINED",
    "undocumented_scope_first": "CLIENT-SCOPE-DOCUMENTED",
    "missing_scope_call": "CLIENT-SCOPE-HELD",
    "all_scopes": "CLIENT-LEAST-PRIVILEGE",
    "token_per_call": "CLIENT-TOKEN-REUSE",
    "retry_dead_token": "CLIENT-RENEWAL",
    "ignore_retry_after": "CLIENT-RETRY-AFTER",
    "hot_5xx_retry": "CLIENT-BACKOFF",
    "gives_up_on_503": "CLIENT-RESILIENT",
    "page_past_end": "CLIENT-PAGINATION",
    "rails_wrapped_create": "CLIENT-VALID-REQUESTS",
    "delete_204_as_error": "CLIENT-COMPLETES",
    "prints_token": "CLIENT-NO-LEAK",
    "logs_basic_auth": "CLIENT-NO-LEAK",
    "prints_basic_pair": "CLIENT-NO-LEAK",
    "writes_secret": "CLIENT-NO-LEAK",
}


class Credly:
    """A small Credly client: one cached token, renewed on 401; 429 and 5xx retried with waits."""

    def __init__(self, auth: str, defect: str | None) -> None:
        self.api = os.environ["CREDLY_API_BASE_URL"].rstrip("/")
        self.token_url = os.environ["CREDLY_TOKEN_URL"]
        self.org = os.environ["CREDLY_ORGANIZATION_ID"]
        self.client_id = os.environ["CREDLY_CLIENT_ID"]
        self.client_secret = os.environ["CREDLY_CLIENT_SECRET"]
        self.auth = "basic" if defect == "logs_basic_auth" else auth
        self.defect = defect
        self.token: str | None = None

    def scope(self) -> str:
        return DOCUMENTED_SCOPES if self.defect == "all_scopes" else "oauth_applications"

    def fetch_token(self) -> str:
        scopes = [self.scope()]
        if self.defect == "undocumented_scope_first":
            scopes.insert(0, "oauth_applications oauth_applications:read")
        for scope in scopes:
            form = {"grant_type": "client_credentials", "scope": scope}
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            if self.auth == "basic":
                pair = f"{self.client_id}:{self.client_secret}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
                if self.defect == "logs_basic_auth":
                    print(f"debug: token request with {headers['Authorization']}", file=sys.stderr)
            else:
                form |= {"client_id": self.client_id, "client_secret": self.client_secret}
            url = self.token_url
            if self.defect == "credentials_in_query":
                query = {"client_id": self.client_id, "client_secret": self.client_secret}
                url += "?" + urllib.parse.urlencode(query)
            status, body, _ = send("POST", url, urllib.parse.urlencode(form).encode(), headers)
            if self.defect == "prints_basic_pair":  # sent in the form body, printed as Basic
                pair = f"{self.client_id}:{self.client_secret}".encode()
                print("debug: credentials", base64.b64encode(pair).decode())
            if status == 200:
                self.token = body["access_token"]
                if self.defect == "prints_token":
                    print(f"debug: got token {self.token}")
                return self.token
        raise SystemExit(f"could not get a token: {status} {body}")

    def call(self, method: str, url: str, payload: Any = None, query: str = "") -> tuple[int, Any]:
        renewals = retries = 0
        while True:
            if self.token is None or self.defect == "token_per_call":
                self.fetch_token()
            headers = {"Authorization": f"Bearer {self.token}"}
            data = None
            if payload is not None:
                headers["Content-Type"] = "application/json"
                data = json.dumps(payload).encode()
            status, body, response_headers = send(method, url + query, data, headers)
            if status == 401 and renewals < 2:
                renewals += 1
                if self.defect == "retry_dead_token" and renewals == 1:
                    continue  # tries the dead token once more
                self.token = None
                continue
            if status == 429 and retries < 5:
                retries += 1
                if self.defect != "ignore_retry_after":
                    time.sleep(float(response_headers.get("Retry-After", "1")))
                continue
            if self.defect == "hot_5xx_retry" and status >= 500:
                continue  # at once, for as long as it takes
            if status >= 500 and retries < 4 and self.defect != "gives_up_on_503":
                time.sleep(0.5 * 2**retries)
                retries += 1
                continue
            return status, body


# One TLS context for the whole run (it reads the trusted certificates, SSL_CERT_FILE included,
# once), not one per request.
TLS = ssl.create_default_context()


def send(
    method: str, url: str, data: bytes | None, headers: dict[str, str]
) -> tuple[int, Any, dict[str, str]]:
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10, context=TLS) as response:
            raw, status, answer_headers = response.read(), response.status, response.headers
    except urllib.error.HTTPError as error:
        raw, status, answer_headers = error.read(), error.code, error.headers
    body = json.loads(raw) if raw else None
    return status, body, dict(answer_headers)


def read_all(credly: Credly) -> list[dict[str, Any]]:
    url = f"{credly.api}/organizations/{credly.org}/oauth_applications"
    applications: list[dict[str, Any]] = []
    if credly.defect == "page_past_end":
        page = 1
        while True:  # counts pages until one comes back empty, ignoring next_page_url
            status, body = credly.call("GET", url, query=f"?page={page}")
            if status != 200 or not body["data"]:
                return applications
            applications += body["data"]
            page += 1
    next_url: str | None = url
    while next_url:
        status, body = credly.call("GET", next_url)
        if status != 200:
            raise SystemExit(f"listing failed: {status}")
        applications += body["data"]
        next_url = body["metadata"]["next_page_url"]
    return applications


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--auth", choices=["body", "basic"], default="body")
    parser.add_argument("--defect", choices=sorted(DEFECTS), default=None)
    parser.add_argument("--out", default=None, help="a folder for the sync log")
    args = parser.parse_args()
    credly = Credly(args.auth, args.defect)
    base = f"{credly.api}/organizations/{credly.org}"
    if args.defect == "unauthenticated_probe":
        send("GET", f"{base}/oauth_applications", None, {})  # "is the API up?" without a token
    applications = read_all(credly)
    if args.defect == "missing_scope_call":
        credly.call("GET", f"{base}/badges")  # the token has no issued_badges scope; 403 ignored
    fields = {"name": "Synced by the partner", "description": "Created by the example integration."}
    payload: dict[str, Any] = fields
    if args.defect == "rails_wrapped_create":
        status, created = credly.call(
            "POST", f"{base}/oauth_applications", {"oauth_application": fields}
        )
        if status != 201:
            status, created = credly.call("POST", f"{base}/oauth_applications", payload)
    else:
        status, created = credly.call("POST", f"{base}/oauth_applications", payload)
    if status != 201:
        raise SystemExit(f"create failed: {status}")
    app_url = f"{base}/oauth_applications/{created['data']['id']}"
    query = f"?access_token={credly.token}" if args.defect == "token_in_query" else ""
    status, _read = credly.call("GET", app_url, query=query)
    if status != 200:
        raise SystemExit(f"read failed: {status}")
    status, _ = credly.call("PUT", app_url, {"name": "Renamed by the partner"})
    if status != 200:
        raise SystemExit(f"update failed: {status}")
    status, _ = credly.call("DELETE", app_url)
    expected = (200,) if args.defect == "delete_204_as_error" else (204,)
    if status not in expected:
        print(f"delete failed: {status}", file=sys.stderr)
        return 1
    summary = f"synced {len(applications)} applications; created, read, renamed and deleted one"
    print(summary)
    if args.out:
        log = Path(args.out) / "sync.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        text = summary + "\n"
        if args.defect == "writes_secret":
            text += f"client_id={credly.client_id} client_secret={credly.client_secret}\n"
        log.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
