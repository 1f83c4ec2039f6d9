"""The OAuth 2.0 rules, in one place: the client-credentials grant (RFC 6749 §4.4, §5) and Bearer
authentication with scopes (RFC 6750), as Doorkeeper, Credly's provider, applies them.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

from credly_contract.emulator.store import Application, Store, Token
from credly_contract.spec import oauth_scopes

SCOPES = frozenset(oauth_scopes())
# RFC 6749 §5.2 and RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E, so an echoed
# request value (a scope with a NUL, a quote, a non-ASCII letter) cannot break the body or the header.
_NOT_DESCRIPTION_TEXT = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")


def description_text(text: str) -> str:
    """``text`` restricted to the characters RFC 6749 §5.2 allows in error_description."""
    return _NOT_DESCRIPTION_TEXT.sub("?", text.replace('"', "'"))


class OAuthError(Exception):
    """An RFC 6749 §5.2 error answered by the token endpoint."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description_text(description)
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class BearerError(Exception):
    """A request to the API whose token is missing, malformed, unknown, expired or revoked (401),
    or lacks the scope or the organization it acts on (403)."""

    def __init__(self, status: int, message: str, error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error = error

    def challenge(self) -> str:
        parts = ['Bearer realm="Credly"']
        if self.error:
            parts.append(f'error="{self.error}"')
            parts.append(f'error_description="{description_text(self.message)}"')
        return ", ".join(parts)


def invalid_request(error: Exception) -> OAuthError:
    """A token request the endpoint cannot parse."""
    return OAuthError("invalid_request", str(error))


def token_error_headers(error: OAuthError) -> dict[str, str]:
    """Doorkeeper 5.5 answers every token endpoint error with a Bearer challenge naming the error."""
    return {
        "WWW-Authenticate": f'Bearer realm="Credly", error="{error.error}", '
        f'error_description="{error.description}"'
    }


def bearer_error_headers(error: BearerError, faults: Any) -> dict[str, str]:
    """Headers of an API 401 or 403, as Doorkeeper 5.5 sends them: never cacheable; a Bearer
    challenge on a 401 (RFC 6750 §3), none on a 403, insufficient_scope included."""
    headers = {"Cache-Control": "no-store"}
    if error.status == 401 and "no_www_authenticate" not in faults:
        headers["WWW-Authenticate"] = error.challenge()
    return headers


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except ValueError:  # binascii.Error, UnicodeDecodeError, and non-ASCII header text
        raise OAuthError("invalid_client", "Client authentication failed.", 401) from None
    uid, _, secret = decoded.partition(":")
    return uid, secret


def grant_client_credentials(
    store: Store, params: Mapping[str, Any], authorization: str | None = None
) -> dict[str, Any]:
    """Issue a token for a client_credentials request, or raise OAuthError."""
    faults = store.faults
    grant_type = params.get("grant_type")
    if "grant_type_not_checked" not in faults:
        if not grant_type:
            raise OAuthError("invalid_request", "The request is missing the grant_type parameter.")
        if grant_type != "client_credentials":
            raise OAuthError(
                "unsupported_grant_type", "The authorization grant type is not supported."
            )
    basic = _basic_credentials(authorization)
    uid, secret = basic if basic else (params.get("client_id"), params.get("client_secret"))
    app = None
    if isinstance(uid, str) and isinstance(secret, str):
        app = store.client(uid, secret)
    if app is None:
        if "invalid_client_wrong_error" in faults:
            raise OAuthError("access_denied", "Access denied.", 401)
        raise OAuthError(
            "invalid_client",
            "Client authentication failed due to unknown client, no client authentication "
            "included, or unsupported authentication method.",
            401,
        )
    scopes = _requested_scopes(params.get("scope"), faults)
    token = store.issue_token(app, scopes)
    return token_response(token, "token_type_mac" in faults)


def _requested_scopes(raw: Any, faults: Any) -> tuple[str, ...]:
    if not isinstance(raw, str) or not raw.strip():
        raise OAuthError("invalid_request", "The request is missing the scope parameter.")
    requested = tuple(dict.fromkeys(raw.split()))
    unknown = [s for s in requested if s not in SCOPES]
    if unknown and "unknown_scope_accepted" in faults:
        requested = tuple(s for s in requested if s in SCOPES)
    elif unknown:
        raise OAuthError(
            "invalid_scope",
            f"The requested scope is invalid, unknown, or malformed: {' '.join(unknown)}",
        )
    if "scope_widened" in faults:
        return tuple(sorted(SCOPES))
    return requested


def token_response(token: Token, mac: bool = False) -> dict[str, Any]:
    return {
        "access_token": token.value,
        "token_type": "mac" if mac else "Bearer",
        "expires_in": token.expires_in,
        "scope": " ".join(token.scopes),
        "created_at": int(token.created_at),
    }


def authenticate(store: Store, authorization: str | None, organization_id: str) -> Token | None:
    """The active token behind an Authorization header, or BearerError (401).

    Returns None only when the ``bearer_not_required`` fault lets an anonymous request through.
    """
    if not authorization:
        if "bearer_not_required" in store.faults:
            return None
        raise BearerError(401, "You need to sign in or sign up before continuing.")
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip() or " " in value.strip():
        raise BearerError(401, "The Authorization header is malformed.", "invalid_request")
    token = store.token(value.strip())
    if token is None:
        raise BearerError(401, "The access token is invalid, expired or revoked.", "invalid_token")
    return token


def authorize(store: Store, token: Token | None, organization_id: str, scope: str) -> None:
    """403 unless the token acts for this organization and carries the operation's scope."""
    if token is None:
        return
    if token.organization_id != organization_id and "tenant_not_isolated" not in store.faults:
        raise BearerError(403, "You are not authorized to access this organization.")
    if scope not in token.scopes and "scope_not_enforced" not in store.faults:
        raise BearerError(403, f"The access token lacks the {scope} scope.", "insufficient_scope")


def application_of(store: Store, token: Token | None) -> Application | None:
    if token is None:
        return None
    return store.applications.get(token.application_id)
