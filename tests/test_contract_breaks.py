"""An HTTP answer that breaks the contract where the suite prepares a test (a scratch application, a
token, the preflight) fails the requirement it breaks, with evidence; it is never reported as an
outage (TargetUnreachable), and whatever the server said it created is ledgered and deleted."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from credly_contract.checks import PrerequisiteFailed
from credly_contract.emulator import EmulatorServer
from credly_contract.http_client import ApiClient
from credly_contract.ledger import Ledger
from credly_contract.preflight import preflight
from credly_contract.session import Resources, Tokens
from credly_contract.targets import emulated_target

Rewrite = Callable[[httpx.Request, dict], dict | None]


class RewritingTransport(httpx.HTTPTransport):
    """Sends to the emulator on 127.0.0.1 and rewrites the JSON answers ``rewrite`` picks."""

    def __init__(self, rewrite: Rewrite, status: int | None = None) -> None:
        super().__init__()
        self.rewrite = rewrite
        self.status = status

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        response.read()
        try:
            body = json.loads(response.content or b"null")
        except ValueError:
            return response
        changed = self.rewrite(request, body)
        if changed is None:
            return response
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return httpx.Response(
            self.status or response.status_code,
            headers=headers,
            content=json.dumps(changed).encode(),
            request=request,
        )


def resources(emulator: EmulatorServer, tmp_path: Path, rewrite: Rewrite) -> Resources:
    client = ApiClient(emulated_target(emulator), transport=RewritingTransport(rewrite))
    return Resources(client, Tokens(client), Ledger(tmp_path / "ledger.jsonl", "feedc0de"))


def id_as_string(request: httpx.Request, body: dict) -> dict | None:
    if request.method == "POST" and request.url.path.endswith("/oauth_applications"):
        return {**body, "data": {**body["data"], "id": str(body["data"]["id"])}}
    return None


def test_a_create_answering_a_string_id_fails_app_create_and_the_application_is_still_deleted(
    emulator, tmp_path
):
    apps = resources(emulator, tmp_path, id_as_string)
    organization_id = emulator.bootstrap.organization_id
    with pytest.raises(PrerequisiteFailed) as raised:
        apps.scratch_application()
    failure = raised.value
    assert failure.requirement == "APP-CREATE"
    assert "integer id" in failure.message
    assert failure.exchange is not None and failure.exchange.status == 201
    assert failure.evidence()["prerequisite"] is True
    (entry,) = apps.ledger.outstanding()
    created = entry["application_id"]
    assert isinstance(created, str)  # ledgered as the server wrote it
    assert apps.cleanup() == []
    assert apps.ledger.outstanding() == []
    assert int(created) not in {a.id for a in emulator.store.list_applications(organization_id)}


def test_a_token_endpoint_answering_200_without_a_token_fails_token_issue_not_the_configuration(
    emulator, tmp_path
):
    def no_access_token(request: httpx.Request, body: dict) -> dict | None:
        if request.url.path == "/oauth/token" and isinstance(body, dict) and "access_token" in body:
            return {k: v for k, v in body.items() if k != "access_token"}
        return None

    apps = resources(emulator, tmp_path, no_access_token)
    preflight(
        apps.client, apps.tokens.remember
    )  # not the configuration's fault: the tests judge it
    with pytest.raises(PrerequisiteFailed) as raised:
        apps.tokens.get("oauth_applications")
    assert raised.value.requirement == "TOKEN-ISSUE"
    assert "access_token" in raised.value.message


def test_preflight_lets_a_server_error_through_for_the_tests_to_judge(emulator, tmp_path):
    def server_error(request: httpx.Request, body: dict) -> dict | None:
        return {"error": "boom"} if request.method == "GET" else None

    client = ApiClient(
        emulated_target(emulator), transport=RewritingTransport(server_error, status=500)
    )
    preflight(client)  # neither ConfigError nor TargetUnreachable
    client.close()
