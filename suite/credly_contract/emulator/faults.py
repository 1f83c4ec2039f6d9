"""Named switches that make the emulator break one documented rule each.

Each switch is read where its rule lives (the store, the OAuth module, a handler), never as a chain of
``if fault == ...`` in the HTTP layer. The certification suite's own tests turn them on one at a time to
prove that every requirement check can fail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from credly_contract.config import ConfigError


@dataclass(frozen=True)
class Fault:
    """One broken rule: what the emulator then does, and every requirement a certification must
    then report failed (a fault that breaks a rule others stand on, such as a create that does not
    persist, lists each requirement it honestly breaks)."""

    description: str
    breaks: frozenset[str]
    # Applications of the organization, besides the bootstrap, that the fault needs to show itself
    # (a delete that removes a neighbour needs neighbours): the emulator seeds at least this many.
    neighbours: int = 0

    def __str__(self) -> str:
        return self.description


FAULTS: dict[str, Fault] = {
    "list_without_metadata": Fault(
        "The list answers without its pagination metadata.",
        breaks=frozenset({"APP-LIST", "PAGE-META"}),
    ),
    "list_as_text": Fault(
        "The list answers its JSON with Content-Type text/plain.",
        breaks=frozenset({"APP-LIST"}),
    ),
    "unknown_id_not_404": Fault(
        "An unknown application id answers 400 instead of 404.",
        breaks=frozenset({"APP-DELETE", "APP-GET"}),
    ),
    "create_returns_200": Fault(
        "Create answers 200 instead of 201.",
        breaks=frozenset({"APP-CREATE"}),
    ),
    "created_not_persisted": Fault(
        "Create answers 201 but the application never appears in get or list.",
        breaks=frozenset({"APP-CREATE", "APP-CREDENTIALS", "APP-DELETE", "APP-GET", "APP-UPDATE"}),
    ),
    "name_not_required": Fault(
        "Create accepts a missing or blank name.",
        breaks=frozenset({"APP-NAME-REQUIRED", "APP-SCHEMA"}),
    ),
    "update_not_persisted": Fault(
        "Update answers 200 with the new values but does not store them.",
        breaks=frozenset({"APP-UPDATE"}),
    ),
    "update_clears_omitted": Fault(
        "Update sets fields that were not sent to null.",
        breaks=frozenset({"APP-UPDATE"}),
    ),
    "update_renames_when_not_asked": Fault(
        "Update without a name changes the name too (the other field of update_clears_omitted).",
        breaks=frozenset({"APP-UPDATE"}),
    ),
    "update_rotates_credentials": Fault(
        "Update gives the application a new uid and secret (the partner's Client ID stops working).",
        breaks=frozenset({"APP-UPDATE"}),
    ),
    "update_resets_created_at": Fault(
        "Update sets created_at to the time of the update.",
        breaks=frozenset({"APP-UPDATE"}),
    ),
    "update_changes_a_neighbour": Fault(
        "Update also writes the sent fields into another application of the organization.",
        breaks=frozenset({"APP-UPDATE"}),
        neighbours=1,
    ),
    "delete_returns_200": Fault(
        "Delete answers 200 with a JSON body instead of 204 with none.",
        breaks=frozenset({"APP-DELETE"}),
    ),
    "delete_not_persisted": Fault(
        "Delete answers 204 but the application is still there.",
        breaks=frozenset({"APP-DELETE", "SEC-REVOKE-ON-DELETE"}),
    ),
    "delete_removes_a_neighbour": Fault(
        "Delete also removes another application of the organization (one each time).",
        breaks=frozenset({"APP-DELETE"}),
        # A quick run deletes a few applications before the test that counts the neighbours.
        neighbours=8,
    ),
    "secret_on_read": Fault(
        "Get, list and update show the client secret again.",
        breaks=frozenset({"APP-SECRET-ONCE"}),
    ),
    "new_credentials_rejected": Fault(
        "Credentials of applications created through the API are refused.",
        breaks=frozenset({"APP-CREDENTIALS"}),
    ),
    "timestamps_not_iso": Fault(
        "Application timestamps are epoch seconds instead of ISO 8601 strings.",
        breaks=frozenset({"APP-SCHEMA"}),
    ),
    "pagination_arithmetic": Fault(
        "total_pages is computed as total_count // per (off by one on partial pages).",
        breaks=frozenset({"PAGE-META"}),
    ),
    "next_page_url_on_last_page": Fault(
        "The last page still carries a next_page_url.",
        breaks=frozenset({"PAGE-META"}),
    ),
    "links_downgrade_to_http": Fault(
        "Page links name plain http and the host without its port, as an application behind a TLS "
        "terminator writes them from the request it saw.",
        breaks=frozenset({"SEC-LINKS-ON-ORIGIN"}),
    ),
    "token_type_mac": Fault(
        "Token responses say token_type 'mac'.",
        breaks=frozenset({"TOKEN-ISSUE"}),
    ),
    "scope_widened": Fault(
        "Tokens are granted every scope, whatever was requested.",
        breaks=frozenset({"SCOPE-ENFORCED", "TOKEN-SCOPE"}),
    ),
    "unknown_scope_accepted": Fault(
        "Unknown scopes are silently dropped instead of refused with invalid_scope.",
        breaks=frozenset({"TOKEN-SCOPE"}),
    ),
    "scope_not_enforced": Fault(
        "API operations accept a token without their scope.",
        breaks=frozenset({"SCOPE-ENFORCED"}),
    ),
    "bearer_not_required": Fault(
        "A request without an Authorization header is served.",
        breaks=frozenset({"BEARER-REQUIRED"}),
    ),
    "badges_wrong_envelope": Fault(
        "The badges list answers a bare JSON array.",
        breaks=frozenset({"BADGES-LIST", "PAGE-META"}),
    ),
    "invalid_client_wrong_error": Fault(
        "Bad client credentials answer 401 with error 'access_denied'.",
        breaks=frozenset({"OAUTH-INVALID-CLIENT", "SEC-REVOKE-ON-DELETE"}),
    ),
    "grant_type_not_checked": Fault(
        "Any grant_type, or none, issues a token.",
        breaks=frozenset({"OAUTH-GRANT-TYPE"}),
    ),
    "token_cacheable": Fault(
        "Token responses carry no Cache-Control: no-store.",
        breaks=frozenset({"OAUTH-NO-STORE"}),
    ),
    "no_www_authenticate": Fault(
        "401 answers from the API carry no WWW-Authenticate challenge.",
        breaks=frozenset({"BEARER-CHALLENGE"}),
    ),
    "tenant_not_isolated": Fault(
        "A token acts for any organization, not only its own.",
        breaks=frozenset({"SEC-TENANT"}),
    ),
    "tokens_survive_delete": Fault(
        "Deleting an application leaves its tokens and credentials working.",
        breaks=frozenset({"SEC-REVOKE-ON-DELETE"}),
    ),
    "per_zero_500": Fault(
        "per=0 crashes the list with a 500.",
        breaks=frozenset({"SEC-NO-5XX"}),
    ),
    "type_coercion": Fault(
        "Wrong JSON types are coerced (name: 123 becomes '123') instead of refused.",
        breaks=frozenset({"SEC-INPUT-REJECTED"}),
    ),
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
