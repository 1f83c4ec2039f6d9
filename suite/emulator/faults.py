"""Named switches that make the emulator break one documented rule each.

Each switch is read where its rule lives (the store, the OAuth module, a handler), never as a chain of
``if fault == ...`` in the HTTP layer. The certification suite's own tests turn them on one at a time to
prove that every requirement check can fail.
"""

from __future__ import annotations

from collections.abc import Iterable

from credly_contract.config import ConfigError

FAULTS: dict[str, str] = {
    "list_without_metadata": "The list answers without its pagination metadata.",
    "list_as_text": "The list answers its JSON with Content-Type text/plain.",
    "unknown_id_not_404": "An unknown application id answers 400 instead of 404.",
    "create_returns_200": "Create answers 200 instead of 201.",
    "created_not_persisted": "Create answers 201 but the application never appears in get or list.",
    "name_not_required": "Create accepts a missing or blank name.",
    "update_not_persisted": "Update answers 200 with the new values but does not store them.",
    "update_clears_omitted": "Update sets fields that were not sent to null.",
    "delete_returns_200": "Delete answers 200 with a JSON body instead of 204 with none.",
    "delete_not_persisted": "Delete answers 204 but the application is still there.",
    "secret_on_read": "Get, list and update show the client secret again.",
    "new_credentials_rejected": "Credentials of applications created through the API are refused.",
    "timestamps_not_iso": "Application timestamps are epoch seconds instead of ISO 8601 strings.",
    "pagination_arithmetic": "total_pages is computed as total_count // per (off by one on partial pages).",
    "next_page_url_on_last_page": "The last page still carries a next_page_url.",
    "token_type_mac": "Token responses say token_type 'mac'.",
    "scope_widened": "Tokens are granted every scope, whatever was requested.",
    "unknown_scope_accepted": "Unknown scopes are silently dropped instead of refused with invalid_scope.",
    "scope_not_enforced": "API operations accept a token without their scope.",
    "bearer_not_required": "A request without an Authorization header is served.",
    "badges_wrong_envelope": "The badges list answers a bare JSON array.",
    "invalid_client_wrong_error": "Bad client credentials answer 401 with error 'access_denied'.",
    "grant_type_not_checked": "Any grant_type, or none, issues a token.",
    "token_cacheable": "Token responses carry no Cache-Control: no-store.",
    "no_www_authenticate": "401 answers from the API carry no WWW-Authenticate challenge.",
    "tenant_not_isolated": "A token acts for any organization, not only its own.",
    "tokens_survive_delete": "Deleting an application leaves its tokens and credentials working.",
    "per_zero_500": "per=0 crashes the list with a 500.",
    "type_coercion": "Wrong JSON types are coerced (name: 123 becomes '123') instead of refused.",
}


class UnknownFault(ConfigError, ValueError):
    """A fault name that the emulator does not know."""


class Faults:
    """The set of active faults; ``"name" in faults`` asks whether a rule is to be broken."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._active: set[str] = set()
        for name in names:
            self.enable(name)

    def enable(self, name: str) -> None:
        if name not in FAULTS:
            known = ", ".join(sorted(FAULTS))
            raise UnknownFault(f"unknown fault {name!r}; known faults: {known}")
        self._active.add(name)

    def disable(self, name: str) -> None:
        self._active.discard(name)

    def clear(self) -> None:
        self._active.clear()

    def __contains__(self, name: object) -> bool:
        return name in self._active

    @property
    def active(self) -> list[str]:
        return sorted(self._active)
