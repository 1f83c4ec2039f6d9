"""schemathesis, driven by openapi/credly.yaml: schema loading for a target, the client-credentials auth
provider (the token host differs from the API host), and one custom check that runs our requirement
checks on every generated call, so schemathesis failures carry requirement ids."""

from __future__ import annotations

import functools
from typing import Any

import requests
import schemathesis
from schemathesis import GenerationMode
from schemathesis.core.failures import Failure

from credly_contract import spec
from credly_contract.checks import CheckFailed
from credly_contract.checks.applications import (
    application_objects_match_schema,
    nameless_create_refused,
    secret_hidden_after_create,
    secret_shown_on_create,
)
from credly_contract.checks.security import bad_input_refused, no_server_error
from credly_contract.client import Exchange, unreachable
from credly_contract.ledger import resource_name
from credly_contract.session import CertificationRun

TOKEN_OPERATION = "createAccessToken"


class RequirementFailure(Failure):
    """A schemathesis failure that carries the requirement check that failed."""

    code = "CREDLY"

    def __init__(self, *, operation: str, failure: CheckFailed) -> None:
        super().__init__(
            operation=operation,
            title=f"[{failure.requirement}] {failure.message[:120]}",
            message=failure.describe(),
        )
        self.check_failed = failure


@functools.cache
def _failure_class(requirement_id: str) -> type[RequirementFailure]:
    # schemathesis keeps one failure per (class, operation): one class per requirement keeps them all.
    return type(f"Failure_{requirement_id.replace('-', '_')}", (RequirementFailure,), {})


def failure_to_check(exc: BaseException) -> CheckFailed | None:
    """The CheckFailed behind a schemathesis failure (ours, or a built-in one with a known meaning)."""
    if isinstance(exc, RequirementFailure):
        return exc.check_failed
    if isinstance(exc, Failure) and "not_a_server_error" in getattr(type(exc), "checks", ()):
        return CheckFailed("SEC-NO-5XX", f"{exc.title}: {exc.message}")
    return None


def exchange_of(response: Any) -> Exchange:
    """An Exchange from a schemathesis Response (requests underneath)."""
    request = response.request
    body = request.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    headers = {
        k.lower(): (v[0] if isinstance(v, list) and v else str(v))
        for k, v in response.headers.items()
    }
    return Exchange(
        method=request.method,
        url=request.url,
        request_headers=dict(request.headers),
        request_body=body or None,
        status=response.status_code,
        response_headers=headers,
        response_body=response.text or "",
        elapsed=float(response.elapsed or 0),
    )


def _undocumented_status(exchange: Exchange, operation_id: str) -> str | None:
    documented = spec.operations()[operation_id]["responses"]
    if str(exchange.status) in documented or exchange.status >= 500:
        return None
    return (
        f"{operation_id} answered {exchange.status}, which the contract does not document "
        f"({', '.join(documented)})"
    )


def _undocumented_content_type(exchange: Exchange, operation_id: str) -> str | None:
    if (
        not 200 <= exchange.status < 300
        or spec.response_schema_ref(operation_id, exchange.status) is None
    ):
        return None
    content_type = exchange.header("content-type") or ""
    if content_type.split(";")[0].strip().lower() == "application/json":
        return None
    return (
        f"{operation_id} answered {exchange.status} with Content-Type {content_type or None!r}; "
        "the contract documents application/json"
    )


def operation_conforms(exchange: Exchange, operation_id: str) -> None:
    """The status code and content type are ones the contract documents for the operation; a failure
    belongs to the operation's own requirement (a 5xx is SEC-NO-5XX's)."""
    for problem in (
        _undocumented_status(exchange, operation_id),
        _undocumented_content_type(exchange, operation_id),
    ):
        if problem:
            raise CheckFailed(
                spec.requirement_of(operation_id), problem, exchange, "operation_conforms"
            )


def _request_violations(case: Any, operation_id: str) -> list[str]:
    schema_name = spec.operations()[operation_id]["request_schema"]
    if schema_name is None or case.body is None:
        return []
    return spec.schema_errors(schema_name, case.body)


def requirement_checks(run: CertificationRun, case: Any, exchange: Exchange) -> list[CheckFailed]:
    """Every requirement check that applies to one generated call."""
    operation_id = case.operation.definition.raw.get("operationId")
    checks: list[Any] = [functools.partial(no_server_error, exchange)]
    if operation_id == "createOAuthApplication" and exchange.status < 300:
        run.resources.note_created(exchange)
    negative = case.meta is not None and case.meta.generation.mode == GenerationMode.NEGATIVE
    violations = _request_violations(case, operation_id)
    if violations:
        body = case.body
        nameless = (
            operation_id == "createOAuthApplication"
            and isinstance(body, dict)
            and (
                body.get("name") is None
                or (isinstance(body["name"], str) and not body["name"].strip())
            )
        )
        if nameless:
            checks.append(functools.partial(nameless_create_refused, exchange, body))
        else:
            checks.append(
                functools.partial(
                    bad_input_refused, exchange, f"{operation_id} with {violations[0]}"
                )
            )
    if not negative and exchange.status < 500:
        checks.append(functools.partial(operation_conforms, exchange, operation_id))
    if 200 <= exchange.status < 300 and operation_id != "listIssuedBadges":
        checks.append(functools.partial(application_objects_match_schema, exchange))
        if operation_id == "createOAuthApplication":
            checks.append(functools.partial(secret_shown_on_create, exchange))
        else:
            checks.append(functools.partial(secret_hidden_after_create, exchange))
    failures = []
    for run_check in checks:
        try:
            run_check()
        except CheckFailed as failure:
            failures.append(failure)
    return failures


def load_schema(
    run: CertificationRun, mode: GenerationMode, phases: tuple[str, ...] = ("examples", "fuzzing")
) -> Any:
    """The contract as a schemathesis schema aimed at the run's target, with client-credentials auth.
    Each call loads its own copy: schemathesis schemas share their config with every filtered view."""
    schema = schemathesis.openapi.from_path(str(spec.SPEC_PATH))
    schema.config.update(
        base_url=run.target.api_base_url,
        request_timeout=run.client.limits.timeout,
        parameters={"path.organization_id": run.target.organization_id},
    )
    schema.config.generation.update(modes=[mode], max_examples=run.profile.examples)
    schema.config.phases.update(phases=list(phases))

    @schema.auth(refresh_interval=600)
    class ClientCredentials:
        """Fetches (and refreshes on 401) a client-credentials token from the token URL."""

        def get(self, case: Any, ctx: Any) -> str:
            run.tokens.forget()
            return run.tokens.get(*spec.api_scopes())

        def set(self, case: Any, data: str, ctx: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    return schema


def prepare(run: CertificationRun, case: Any) -> None:
    """Name generated applications after the run so that cleanup and sweep recognise them, and aim
    generated updates and deletes at applications this run created, never at anyone else's."""
    # Generated calls only ever address the run's own organization (the stateful machine does not
    # apply the configured parameter override).
    case.path_parameters = {
        **(case.path_parameters or {}),
        "organization_id": run.target.organization_id,
    }
    app_id = case.path_parameters.get("oauth_application_id")
    owned = isinstance(app_id, int) and run.ledger.owns(run.target.organization_id, app_id)
    if case.method in ("PUT", "DELETE") and isinstance(app_id, int) and not owned:
        case.path_parameters["oauth_application_id"] = run.resources.scratch_application()
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("name"), str) and body["name"].strip():
        body["name"] = resource_name(run.run_id, "st " + body["name"][:60])


def send(run: CertificationRun, case: Any) -> tuple[Any, Exchange]:
    """Send a generated case through the run's one client (budget, rate limit, 429 and gateway
    retries, read-only refusal); returns schemathesis's response (for links) and our Exchange."""
    prepare(run, case)
    url = run.target.api_base_url + case.formatted_path
    sent: list[Any] = []

    def transmit() -> Exchange:
        try:
            sent.append(case.call(timeout=run.client.limits.timeout))
        except (requests.RequestException, OSError) as error:
            raise unreachable(case.method, url, error) from None
        return exchange_of(sent[-1])

    exchange = run.client.send(case.method, url, transmit)
    return sent[-1], exchange


def raise_failures(run: CertificationRun, case: Any, exchange: Exchange) -> None:
    """Run the requirement checks on one generated call; raise them as one schemathesis-style group."""
    failures = requirement_checks(run, case, exchange)
    if failures:
        label = case.operation.label
        raise ExceptionGroup(
            f"{len(failures)} requirement(s) failed on {label}",
            [_failure_class(f.requirement)(operation=label, failure=f) for f in failures],
        )


def call_and_check(run: CertificationRun, case: Any) -> Exchange:
    _, exchange = send(run, case)
    raise_failures(run, case, exchange)
    return exchange
