"""schemathesis, driven by openapi/credly.yaml: schema loading for a target, the client-credentials auth
provider (the token host differs from the API host), and the checks of each generated call.

schemathesis's own built-in checks judge each answer against the contract (server errors, status
codes, content types, response schemas and headers); their failures are mapped to requirement ids
(``checks.built_ins``). Our own checks add only what schemathesis cannot know: which request bodies
the docs make invalid (and what a refused nameless create proves), and the run's ledger."""

from __future__ import annotations

from typing import Any

import requests
import schemathesis
import schemathesis.checks
from schemathesis import GenerationMode
from schemathesis.config import OperationConfig
from schemathesis.core import NotSet
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.filters import FilterSet

from credly_contract import spec
from credly_contract.checks import CheckFailed, built_ins, count
from credly_contract.checks.applications import nameless_create_refused
from credly_contract.checks.security import bad_input_refused
from credly_contract.http_client import Exchange
from credly_contract.ledger import resource_name
from credly_contract.session import CertificationRun

TOKEN_OPERATION = "createAccessToken"

# The conformance of status codes and content types is judged only for valid (positive) requests,
# and no built-in but not_a_server_error judges a 5xx (SEC-NO-5XX's).
_CONFORMANCE = {"status_code_conformance", "content_type_conformance"}
# The docs show no error bodies: what a 4xx carries (its content type, its body) is not judged, only
# observed (checks/observations.py); its headers are (a 401's WWW-Authenticate, RFC 6750 §3).
_SUCCESS_BODY_ONLY = {"content_type_conformance", "response_schema_conformance"}


class RequirementFailure(Failure):
    """A schemathesis failure that carries the requirement check that failed. schemathesis keeps one
    failure per operation and ``_unique_key``: the key is the requirement, so each keeps its own."""

    code = "CREDLY"
    kind_title = "Credly requirement failed"

    def __init__(self, *, operation: str, failure: CheckFailed) -> None:
        super().__init__(
            operation=operation,
            title=f"[{failure.requirement}] {failure.message[:120]}",
            message=failure.describe(),
        )
        self.check_failed = failure

    @property
    def _unique_key(self) -> str:
        return self.check_failed.requirement


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


def built_in_failures(case: Any, response: Any, exchange: Exchange) -> list[CheckFailed]:
    """schemathesis's built-in checks on one answer, each failure mapped to its requirement."""
    operation_id = case.operation.definition.raw.get("operationId")
    negative = case.meta is not None and case.meta.generation.mode == GenerationMode.NEGATIVE
    found: list[CheckFailed] = []
    for name in built_ins.BUILT_INS:
        if name != "not_a_server_error" and exchange.status >= 500:
            continue
        if name in _CONFORMANCE and negative:
            continue
        if name in _SUCCESS_BODY_ONLY and exchange.status >= 400:
            continue
        if name == "status_code_conformance" and exchange.status == 429:
            continue  # throttling (RFC 6585 §4) may answer any request; the client waited and retried
        try:
            case.validate_response(
                response,
                checks=[getattr(schemathesis.checks, name)],
                headers=dict(case.headers or {}),
            )
        except FailureGroup as group:
            for failure in group.exceptions:
                requirement = built_ins.requirement_for(
                    name, failure, operation_id, exchange.status
                )
                count(built_ins.check_name(name, requirement), failed=True)
                found.append(
                    CheckFailed(requirement, f"{failure.title}: {failure.message}", exchange, name)
                )
            continue
        own = built_ins.own_requirement(name, operation_id)
        count(built_ins.check_name(name, own), failed=False)
    return found


def _request_violations(case: Any, operation_id: str) -> list[str]:
    operation = spec.operations()[operation_id]
    if case.body is None or isinstance(case.body, NotSet):
        return ["the required request body is missing"] if operation["body_required"] else []
    schema_name = operation["request_schema"]
    if schema_name is None:
        return []
    return spec.schema_errors(schema_name, case.body)


def requirement_checks(
    run: CertificationRun, case: Any, response: Any, exchange: Exchange
) -> list[CheckFailed]:
    """Every check that applies to one generated call: the built-ins, then ours for what the
    contract's request schemas make invalid."""
    operation_id = case.operation.definition.raw.get("operationId")
    if operation_id == "createOAuthApplication" and exchange.status < 300:
        run.resources.note_created(exchange)
    failures = built_in_failures(case, response, exchange)
    violations = _request_violations(case, operation_id)
    if violations:
        body = case.body
        missing = body is None or isinstance(body, NotSet)
        nameless = operation_id == "createOAuthApplication" and (
            missing
            or (
                isinstance(body, dict)
                and (
                    body.get("name") is None
                    or (isinstance(body["name"], str) and not body["name"].strip())
                )
            )
        )
        try:
            if nameless:
                nameless_create_refused(exchange, None if missing else body)
            else:
                bad_input_refused(exchange, f"{operation_id} with {violations[0]}")
        except CheckFailed as failure:
            failures.append(failure)
    return failures


def load_schema(
    run: CertificationRun,
    mode: GenerationMode,
    phases: tuple[str, ...] = ("examples", "fuzzing"),
    skip: tuple[str, ...] = (),
) -> Any:
    """The contract as a schemathesis schema aimed at the run's target, with client-credentials auth,
    without the operations in ``skip`` (the profile leaves them to other tests). Each call loads its
    own copy: schemathesis schemas share their config with every filtered view."""
    schema = schemathesis.openapi.from_path(str(spec.SPEC_PATH))
    if skip:
        # Through the config: schemathesis's pytest integration keeps a fixture schema's
        # configured operation filters, and replaces its own.
        skipped = FilterSet()
        skipped.include(operation_id=list(skip))
        schema.config.operations.operations.append(
            OperationConfig(filter_set=skipped, enabled=False)
        )
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

        fetched = False

        def get(self, case: Any, ctx: Any) -> str:
            # The run's shared token first; a fresh one each refresh interval after that.
            token = run.tokens.get(*spec.api_scopes(), fresh=self.fetched)
            self.fetched = True
            return token

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


def send(run: CertificationRun, case: Any) -> tuple[schemathesis.Response, Exchange]:
    """Send a generated case through the run's one client (budget, rate limit, 429 and gateway
    retries, read-only refusal); returns schemathesis's response (for links) and our Exchange."""
    prepare(run, case)
    url = run.target.api_base_url + case.formatted_path
    sent: list[schemathesis.Response] = []

    def transmit() -> Exchange:
        try:
            # verify too: schemathesis passes its own (True: certifi) unless told, over the session's.
            session = run.client.requests_session()
            timeout = run.client.limits.timeout
            sent.append(case.call(session=session, verify=session.verify, timeout=timeout))
        except (requests.RequestException, OSError) as error:
            raise run.client.unreachable(case.method, url, error) from None
        return exchange_of(sent[-1])

    exchange = run.client.send(case.method, url, transmit)
    return sent[-1], exchange


def raise_failures(run: CertificationRun, case: Any, response: Any, exchange: Exchange) -> None:
    """Run the requirement checks on one generated call; raise them as one schemathesis-style group."""
    failures = requirement_checks(run, case, response, exchange)
    if failures:
        label = case.operation.label
        raise ExceptionGroup(
            f"{len(failures)} requirement(s) failed on {label}",
            [RequirementFailure(operation=label, failure=f) for f in failures],
        )


def call_and_check(run: CertificationRun, case: Any) -> Exchange:
    response, exchange = send(run, case)
    raise_failures(run, case, response, exchange)
    return exchange
