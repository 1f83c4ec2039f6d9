"""The preflight: two requests that prove a live target's settings before any test (`certify` and
`certify-client --upstream live` both call :func:`check_target`; a certification run calls
:func:`preflight` with its own client).

Where the line runs (exit codes in verdict.py):
- exit 2 (ConfigError) for what the user can fix: a token URL that is no token endpoint (its answer
  is neither an OAuth token response nor an OAuth error: an HTML page, a 404, 405 or 501, JSON of
  another kind), credentials the endpoint refuses (``invalid_client``, 401), a bootstrap application
  without every scope or the client-credentials grant, an API base URL or organization the API
  refuses, an API base URL whose list answer is not JSON;
- exit 1 (the tests fail the requirement) for an answer of the token endpoint or the API that
  breaks the contract: a 5xx, a token response without a usable token, an OAuth error to the
  documented, well-formed request that is not about the credentials (``invalid_request``,
  ``unsupported_grant_type``). Preflight lets those through; the first test that asks for a token
  meets the same answer and fails TOKEN-ISSUE with it as evidence;
- exit 3 (TargetUnreachable, raised by the client) only when no HTTP answer came.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from credly_contract import spec
from credly_contract.config import EXAMPLE_URLS, ConfigError, Target
from credly_contract.http_client import ApiClient, Exchange, Limits

# RFC 6749 §5.2: the errors that say the client's own credentials or grants are wrong, which the
# user fixes in the bootstrap application. Any other error to the documented request breaks the
# contract (TOKEN-ISSUE).
CREDENTIAL_ERRORS = frozenset({"invalid_client", "unauthorized_client", "invalid_scope"})
# RFC 6749 §5.1: a token response carries access_token and token_type. An answer with either is the
# token endpoint speaking (a missing access_token is its contract break); with neither, and no
# OAuth error, it is no token endpoint.
TOKEN_FIELDS = ("access_token", "token_type")
# The documented API root's last path segment (openapi/credly.yaml servers: .../v1).
API_VERSION = "v1"


def check_target(target: Target, timeout: float = 10.0) -> None:
    """Prove a live target's settings with a client of its own (certify, certify-client)."""
    client = ApiClient(target, Limits(timeout=timeout))
    try:
        preflight(client)
    finally:
        client.close()


def preflight(
    client: ApiClient, remember: Callable[[list[str], Exchange], None] | None = None
) -> None:
    """Prove a target's configuration with two requests (more only to explain a failure): the
    bootstrap credentials get a token with every scope, and that token lists the organization's
    applications. Raises ConfigError naming the setting to fix; lets a contract break through for
    the tests to judge (see the module's docstring). ``remember`` is handed the token answer, for
    a run to share (session.Tokens.remember)."""
    target = client.target
    scopes = spec.oauth_scopes()
    exchange = client.request_token(" ".join(scopes))
    if _server_error(exchange):
        return  # SEC-NO-5XX, for the tests to judge
    body = exchange.json() if isinstance(exchange.json(), dict) else None
    error = body.get("error") if body is not None else None
    if body is None or not (isinstance(error, str) or any(k in body for k in TOKEN_FIELDS)):
        raise ConfigError(
            f"CREDLY_TOKEN_URL={target.token_url} is not a token endpoint: a client-credentials "
            f"request got {_what_came_back(exchange)}, neither an OAuth token response nor an "
            f"OAuth error; set it to your environment's token endpoint "
            f"(e.g. {EXAMPLE_URLS['CREDLY_TOKEN_URL']})"
        )
    if error == "invalid_client" or (exchange.status == 401 and isinstance(error, str)):
        raise ConfigError(
            f"the token endpoint refused CREDLY_CLIENT_ID={target.client_id} with its secret "
            f"({exchange.status} {error}): check CREDLY_CLIENT_ID and CREDLY_CLIENT_SECRET "
            "(or CREDLY_CLIENT_SECRET_FILE) belong to the same application"
        )
    if error == "unauthorized_client":
        raise ConfigError(
            f"the bootstrap application CREDLY_CLIENT_ID={target.client_id} may not use the "
            f"client-credentials grant ({exchange.status} {error}): enable it for the "
            "application or use one that has it"
        )
    if error == "invalid_scope":
        missing = [s for s in scopes if client.request_token(s).status != 200]
        raise ConfigError(
            f"the bootstrap application CREDLY_CLIENT_ID={target.client_id} lacks the scope(s) "
            f"{' '.join(missing or scopes)}: the suite needs every documented scope "
            f"({' '.join(scopes)}); grant them to the application or use one that has them"
        )
    token = exchange.access_token()
    if token is None:
        return  # invalid_request, unsupported_grant_type, no access_token: TOKEN-ISSUE's to judge
    if remember is not None:
        remember(scopes, exchange)
    _check_api(client, target, token)


def _check_api(client: ApiClient, target: Target, token: str) -> None:
    listing = client.get(target.applications_url(), token=token, params={"per": 1})
    if _server_error(listing):
        return  # SEC-NO-5XX, for the tests to judge
    version = urlsplit(target.api_base_url).path.rstrip("/").rsplit("/", 1)[-1]
    if listing.status in (403, 404) and version != API_VERSION:
        # The documented root ends in /v1: a /v2 (or no version) is the likelier mistake.
        raise ConfigError(
            f"CREDLY_API_BASE_URL={target.api_base_url} is not the documented API root (it "
            f"should end in /{API_VERSION}): GET {target.applications_url()} answered "
            f"{listing.status}; set it like {EXAMPLE_URLS['CREDLY_API_BASE_URL']}"
        )
    if listing.status in (403, 404):
        raise ConfigError(
            f"CREDLY_ORGANIZATION_ID={target.organization_id} was refused ({listing.status}) at "
            f"{target.applications_url()}: set it to the bootstrap application's organization"
        )
    if listing.status == 401:
        raise ConfigError(
            f"CREDLY_API_BASE_URL={target.api_base_url} refused a fresh token from "
            f"CREDLY_TOKEN_URL={target.token_url} (401): are both URLs of the same environment?"
        )
    # 200 with JSON of the wrong shape breaks APP-LIST (the tests judge it); a page that is not JSON
    # at all, or another status, means the URL is not the API root.
    if listing.status != 200 or listing.json() is None:
        raise ConfigError(
            f"CREDLY_API_BASE_URL={target.api_base_url} does not answer like the Credly API: "
            f"GET {target.applications_url()} got {_what_came_back(listing)}; set it to the API "
            f"root, e.g. {EXAMPLE_URLS['CREDLY_API_BASE_URL']}"
        )


def _server_error(exchange: Exchange) -> bool:
    """A 5xx the server meant as its own failure (SEC-NO-5XX); 501 Not Implemented instead says the
    URL does not do what was asked, like a 404 or 405."""
    return exchange.status >= 500 and exchange.status != 501


def _what_came_back(exchange: Exchange) -> str:
    kind = (exchange.header("content-type") or "no content type").split(";")[0].strip()
    return f"{exchange.status} ({kind})"
