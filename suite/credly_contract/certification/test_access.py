"""Who may call what: Bearer authentication, scopes, tenancy and revocation (BEARER-*, SCOPE-*, SEC-*)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from credly_contract import spec
from credly_contract.checks import Expect, security
from credly_contract.config import Target
from credly_contract.facts import ObservationKind
from credly_contract.fixtures import engine_of
from credly_contract.http_client import ApiClient, Exchange
from credly_contract.profiles import Profile
from credly_contract.session import CertificationRun, Resources, Tokens


@dataclass(frozen=True)
class Operation:
    """A probe of one contract operation: its method and scope come from openapi/credly.yaml; only
    how to address it (and what to send) is said here."""

    name: str
    operation_id: str
    url: Callable[[Target, Resources, str | None], str]
    body: dict[str, Any] | None = None

    @property
    def method(self) -> str:
        return str(spec.operations()[self.operation_id]["method"])

    @property
    def scope(self) -> str:
        return spec.required_scope(self.operation_id)

    @property
    def mutates(self) -> bool:
        return self.method not in {"GET", "HEAD", "OPTIONS"}


OPERATIONS = [
    Operation("list", "listOAuthApplications", lambda t, apps, org: t.applications_url(org)),
    Operation(
        "create",
        "createOAuthApplication",
        lambda t, apps, org: t.applications_url(org),
        {"name": "credly-contract access probe"},
    ),
    Operation(
        "get",
        "getOAuthApplication",
        lambda t, apps, org: t.application_url(apps.readable_application(), org),
    ),
    Operation(
        "update",
        "updateOAuthApplication",
        lambda t, apps, org: t.application_url(apps.scratch_application(), org),
        {"description": "credly-contract access probe"},
    ),
    Operation(
        "delete",
        "deleteOAuthApplication",
        lambda t, apps, org: t.application_url(apps.scratch_application(), org),
    ),
    Operation("badges", "listIssuedBadges", lambda t, apps, org: t.badges_url(org)),
]
# Every Bearer-protected operation of the contract is probed; a new one needs its probe here.
assert {o.operation_id for o in OPERATIONS} == set(spec.api_operations()), "probe every operation"


def another_scope(scope: str) -> str:
    """A scope that another operation of the contract needs, and this one does not: a token that
    holds it is valid, only not for this operation."""
    return next(s for op in spec.api_operations() if (s := spec.required_scope(op)) != scope)


def call(
    api: ApiClient,
    apps: Resources,
    operation: Operation,
    token: str | None,
    organization_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> Exchange:
    body = None
    if operation.body is not None:
        body = {k: (apps.name("probe") if k == "name" else v) for k, v in operation.body.items()}
    url = operation.url(apps.target, apps, organization_id)
    exchange = api.request(operation.method, url, token=token, headers=headers, json=body)
    if operation.name == "create" and organization_id in (None, apps.target.organization_id):
        apps.note_created(exchange)
    return exchange


def _skip_if_read_only(operation: Operation, profile: Profile) -> None:
    if operation.mutates and profile.read_only:
        pytest.skip("the read-only profile changes nothing")


@pytest.mark.requirement("SCOPE-ENFORCED")
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: o.name)
def test_operation_refuses_a_token_without_its_scope_and_accepts_one_with_it(
    api: ApiClient,
    apps: Resources,
    tokens: Tokens,
    profile: Profile,
    operation: Operation,
    expect: Expect,
) -> None:
    _skip_if_read_only(operation, profile)
    refused = call(api, apps, operation, tokens.get(another_scope(operation.scope)))
    expect(security.token_without_scope_refused, refused, operation.scope)
    accepted = call(api, apps, operation, tokens.get(operation.scope))
    expect(security.token_with_scope_accepted, accepted, operation.scope)


@pytest.mark.requirement("BEARER-REQUIRED", "BEARER-CHALLENGE")
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: o.name)
@pytest.mark.parametrize(
    ("how", "authorization"),
    [
        ("no Authorization header", None),
        ("a malformed Authorization header", "Token abc"),
        ("an empty Bearer credential", "Bearer"),
        ("an unknown token", "Bearer credly-contract-unknown-token-0000000000000"),
    ],
    ids=["missing", "malformed", "empty", "unknown"],
)
def test_operation_requires_a_valid_bearer_token(
    api: ApiClient,
    apps: Resources,
    profile: Profile,
    operation: Operation,
    how: str,
    authorization: str | None,
    expect: Expect,
) -> None:
    _skip_if_read_only(operation, profile)
    headers = {"Authorization": authorization} if authorization else None
    exchange = call(api, apps, operation, None, headers=headers)
    # An empty Bearer credential is a malformed Bearer request: RFC 6750 §3.1 allows 400 for it.
    malformed = authorization == "Bearer"
    expect(security.unauthenticated_request_refused, exchange, how, malformed)
    expect(security.unauthorized_carries_bearer_challenge, exchange)


@pytest.mark.requirement("BADGES-LIST")
def test_badges_list_answers_the_pagination_envelope(
    api: ApiClient, target: Target, tokens: Tokens
) -> None:
    exchange = api.get(target.badges_url(), token=tokens.for_operation("listIssuedBadges"))
    security.badges_list_answers_pagination_envelope(exchange)


def _foreign_organizations(target: Target) -> list[str]:
    found = [target.foreign_organization_id] if target.foreign_organization_id else []
    return [*found, str(uuid.uuid4())]


@pytest.mark.requirement("SEC-TENANT")
@pytest.mark.parametrize(
    "operation", [o for o in OPERATIONS if o.scope == "oauth_applications"], ids=lambda o: o.name
)
def test_token_cannot_act_on_another_organization(
    api: ApiClient,
    apps: Resources,
    tokens: Tokens,
    profile: Profile,
    operation: Operation,
    expect: Expect,
    pytestconfig: pytest.Config,
) -> None:
    _skip_if_read_only(operation, profile)
    token = tokens.get(*spec.api_scopes())
    for organization_id in _foreign_organizations(apps.target):
        exchange = call(api, apps, operation, token, organization_id)
        expect(
            security.foreign_organization_refused,
            exchange,
            f"{operation.method} {operation.name} on organization {organization_id}",
        )
        if 400 <= exchange.status < 500:
            # Which refusal (403 or 404) is the server's choice: the docs do not say.
            engine_of(pytestconfig).results.observe(
                {
                    "kind": ObservationKind.TENANT_REFUSAL,
                    "detail": f"another organization's applications are refused with "
                    f"{exchange.status} (the docs do not say 403 or 404)",
                    "example": exchange.summary(),
                }
            )


@pytest.mark.requirement("SEC-TENANT")
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_foreign_application_is_not_reachable_through_the_own_organization(
    api: ApiClient,
    target: Target,
    tokens: Tokens,
    certification: CertificationRun,
    method: str,
    expect: Expect,
    profile: Profile,
) -> None:
    """Another organization's application id, asked for under our own organization's path."""
    if method != "GET" and profile.read_only:
        pytest.skip("the read-only profile changes nothing")
    foreign_id = certification.foreign_application_id()
    if foreign_id is None:
        pytest.skip("no application id of another organization is known for this target")
    body = {"description": "credly-contract tenant probe"} if method == "PUT" else None
    exchange = api.request(
        method,
        target.application_url(foreign_id),
        json=body,
        token=tokens.for_operation(*spec.application_operations()),
    )
    expect(
        security.foreign_organization_refused,
        exchange,
        f"{method} of another organization's application {foreign_id} through our own path",
    )


@pytest.mark.requirement("SEC-REVOKE-ON-DELETE")
def test_deleting_an_application_revokes_its_tokens_and_credentials(
    api: ApiClient, target: Target, apps: Resources, expect: Expect, mutating: None
) -> None:
    exchange, created = apps.new_application("revoke")
    credentials = apps.credentials(exchange)
    issued = api.request_token("oauth_applications", **credentials)
    token = (issued.json() or {}).get("access_token")
    if issued.status != 200 or not token:
        pytest.skip("the new application's credentials got no token (see APP-CREDENTIALS)")
    apps.delete(created["id"])
    expect(
        security.deleted_application_token_refused, api.get(target.applications_url(), token=token)
    )
    again = api.request_token("oauth_applications", **credentials)
    expect(security.deleted_application_credentials_refused, again)
