"""The preflight knows a token endpoint: an answer that is neither an OAuth token response nor an
OAuth error is exit 2 naming CREDLY_TOKEN_URL with what came back, before the suite spends anything;
an OAuth error to the documented request that is not about the credentials is the target's contract
break (TOKEN-ISSUE, exit 1), not the user's; each error names the setting really wrong."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from credly_contract import cli
from credly_contract.checks import PrerequisiteFailed
from credly_contract.config import ConfigError, guard_production, live_target
from credly_contract.http_client import ApiClient
from credly_contract.preflight import preflight
from credly_contract.session import Tokens
from credly_contract.targets import emulated_target
from credly_contract.verdict import ExitCode

SECRET = "preflight-test-secret-0000000000"


class Canned(BaseHTTPRequestHandler):
    """Answers every request with the server's one canned answer, and counts them."""

    def _answer(self) -> None:
        server: Any = self.server
        server.seen.append(f"{self.command} {self.path}")
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, content_type, body = server.answer
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


class QuietStaticFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


def serve(handler: Any) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def canned() -> Iterator[ThreadingHTTPServer]:
    yield from serve(Canned)


@pytest.fixture
def static_site(tmp_path: Path) -> Iterator[ThreadingHTTPServer]:
    """python's http.server serving a folder with an index page: answers POST with 501."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html><body>Welcome</body></html>", encoding="utf-8")
    yield from serve(partial(QuietStaticFiles, directory=str(site)))


def environment(origin: str, token_path: str = "/oauth/token", api_path: str = "/v1") -> dict:
    return {
        "CREDLY_API_BASE_URL": origin + api_path,
        "CREDLY_TOKEN_URL": origin + token_path,
        "CREDLY_ORGANIZATION_ID": "org",
        "CREDLY_CLIENT_ID": "client",
        "CREDLY_CLIENT_SECRET": SECRET,
    }


@pytest.fixture
def credly_env(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("API_BASE_URL", "TOKEN_URL", "ORGANIZATION_ID", "CLIENT_ID", "CLIENT_SECRET"):
        monkeypatch.delenv(f"CREDLY_{name}", raising=False)
    monkeypatch.delenv("CREDLY_CLIENT_SECRET_FILE", raising=False)
    monkeypatch.delenv("CREDLY_DENY_HOSTS", raising=False)

    def set_env(values: dict[str, str]) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)

    return set_env


def certify_live(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> tuple[int, str]:
    code = cli.main(["certify", "--target", "live", "--reports-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return code, lines[0]


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        ((200, "text/html; charset=utf-8", b"<html>Credly</html>"), "200 (text/html)"),
        ((501, "text/html", b"<html>Not Implemented</html>"), "501 (text/html)"),
        ((200, "application/json", b'{"status": "ok"}'), "200 (application/json)"),
        ((400, "application/json", b'{"message": "bad"}'), "400 (application/json)"),
        ((404, "text/plain", b"not found"), "404 (text/plain)"),
    ],
)
def test_a_token_url_that_is_no_token_endpoint_is_exit_2_naming_it_with_status_and_content_type(
    canned, credly_env, capsys, tmp_path, answer, shown
):
    canned.answer, canned.seen = answer, []
    origin = f"http://127.0.0.1:{canned.server_port}"
    credly_env(environment(origin, token_path="/"))
    code, line = certify_live(capsys, tmp_path)
    assert code == ExitCode.CONFIG
    assert f"CREDLY_TOKEN_URL={origin} is not a token endpoint" in line
    assert shown in line and SECRET not in line
    assert canned.seen == ["POST /"]  # one request, then nothing more
    assert not (tmp_path / "run").exists()


def test_the_root_of_a_plain_static_server_as_token_url_is_exit_2(
    static_site, credly_env, capsys, tmp_path
):
    origin = f"http://127.0.0.1:{static_site.server_port}"
    credly_env(environment(origin, token_path="/"))
    code, line = certify_live(capsys, tmp_path)
    assert code == ExitCode.CONFIG
    assert "CREDLY_TOKEN_URL" in line and "501 (text/html)" in line


def test_an_api_base_url_whose_list_answer_is_not_json_is_exit_2_naming_it(
    emulator, canned, credly_env, capsys, tmp_path
):
    canned.answer, canned.seen = (200, "text/html", b"<html>Welcome</html>"), []
    target = emulated_target(emulator)
    credly_env(
        replace(target, api_base_url=f"http://127.0.0.1:{canned.server_port}/v1").environment()
    )
    code, line = certify_live(capsys, tmp_path)
    assert code == ExitCode.CONFIG
    assert line.startswith("credly-contract: CREDLY_API_BASE_URL=")
    assert "does not answer like the Credly API" in line and "200 (text/html)" in line


@pytest.mark.parametrize("error", ["invalid_request", "unsupported_grant_type"])
def test_an_oauth_error_to_the_documented_request_fails_token_issue_with_the_exchange(
    canned, error
):
    canned.answer = (400, "application/json", json.dumps({"error": error}).encode())
    canned.seen = []
    origin = f"http://127.0.0.1:{canned.server_port}"
    target = live_target({}, environ=environment(origin))
    client = ApiClient(target)
    tokens = Tokens(client)
    preflight(client, tokens.remember)  # no ConfigError: nothing the user could fix
    with pytest.raises(PrerequisiteFailed) as raised:
        tokens.get("oauth_applications")
    client.close()
    assert raised.value.requirement == "TOKEN-ISSUE"
    assert raised.value.exchange is not None and raised.value.exchange.status == 400
    assert error in raised.value.describe()


def test_an_api_base_url_ending_in_v2_is_named_rather_than_the_organization(
    emulator, credly_env, capsys, tmp_path
):
    target = emulated_target(emulator)
    credly_env(replace(target, api_base_url=f"{emulator.origin}/v2").environment())
    code, line = certify_live(capsys, tmp_path)
    assert code == ExitCode.CONFIG
    assert line.startswith(f"credly-contract: CREDLY_API_BASE_URL={emulator.origin}/v2 ")
    assert "end in /v1" in line and "CREDLY_ORGANIZATION_ID" not in line


def test_a_production_token_url_is_refused_naming_the_token_url_not_the_api():
    env = environment("https://sandbox-api.credly.com")
    env["CREDLY_TOKEN_URL"] = "https://www.credly.com/oauth/token"
    with pytest.raises(ConfigError) as refused:
        guard_production(live_target({}, environ=env), False, False, environ={})
    message = str(refused.value)
    assert "production host www.credly.com (CREDLY_TOKEN_URL)" in message
    assert "set CREDLY_TOKEN_URL to staging" in message
    assert "CREDLY_API_BASE_URL" not in message


def test_a_deny_listed_host_is_called_deny_listed_not_production():
    env = environment("https://staging.example.com")
    with pytest.raises(ConfigError) as refused:
        guard_production(
            live_target({}, environ=env),
            False,
            False,
            environ={"CREDLY_DENY_HOSTS": "staging.example.com"},
        )
    message = str(refused.value)
    assert "host staging.example.com, listed in CREDLY_DENY_HOSTS (CREDLY_API_BASE_URL)" in message
    assert "production" not in message.split(":")[0]
