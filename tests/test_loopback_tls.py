"""HTTPS on loopback: the emulator and certify-client serve HTTPS with a certificate authority made for
the run (trustme), hand the integration the variables each ecosystem reads to trust it, keep its
private keys out of every file and remove its folder when the run ends."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from credly_contract import cli
from credly_contract.emulator.server import EmulatorServer, LoopbackTLS

TRUST_VARIABLES = (
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "CREDLY_CA_BUNDLE",
)


def token_form(server: EmulatorServer) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": server.bootstrap.client_id,
        "client_secret": server.bootstrap.client_secret,
        "scope": "oauth_applications",
    }


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_emulator_serves_https_that_the_runs_ca_verifies(host):
    with LoopbackTLS() as tls, EmulatorServer(tls=tls) as server:
        url = server.token_url.replace("127.0.0.1", host)
        answer = httpx.post(url, data=token_form(server), verify=tls.client_context())

        assert server.origin.startswith("https://")
        assert answer.status_code == 200


def test_a_client_that_does_not_trust_the_runs_ca_is_refused():
    with (
        LoopbackTLS() as tls,
        EmulatorServer(tls=tls) as server,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        httpx.post(server.token_url, data=token_form(server), verify=ssl.create_default_context())


def test_the_ca_folder_holds_the_public_certificate_only_and_is_removed_on_close():
    tls = LoopbackTLS()
    files = list(tls.folder.iterdir())
    content = tls.ca_file.read_bytes()
    tls.close()

    assert files == [tls.ca_file]
    assert b"BEGIN CERTIFICATE" in content and b"PRIVATE KEY" not in content
    assert not tls.folder.exists()
    assert set(tls.environment().values()) == {str(tls.ca_file)}


# What a tiny integration finds: each trust variable, whether its file is a CA (and no key), and
# whether Python's default context (which reads SSL_CERT_FILE) verifies the token URL.
PROBE = """
import json, os, ssl, sys, urllib.request
names = sys.argv[2:]
found = {}
for name in names:
    path = os.environ.get(name)
    text = open(path).read() if path and os.path.isfile(path) else ""
    found[name] = {"path": path, "ca": "BEGIN CERTIFICATE" in text, "key": "PRIVATE KEY" in text}
request = urllib.request.Request(os.environ["CREDLY_TOKEN_URL"], data=b"grant_type=x", method="POST")
try:
    urllib.request.urlopen(request, context=ssl.create_default_context())
except urllib.error.HTTPError as answer:
    found["token_url_status"] = answer.code
json.dump(found, open(sys.argv[1], "w"))
"""


def test_certify_client_serves_https_by_default_and_the_integration_trusts_it(tmp_path):
    probe = tmp_path / "probe.json"
    reports = tmp_path / "reports"

    cli.main(
        [
            "certify-client",
            "--reports-dir",
            str(reports),
            "--",
            sys.executable,
            "-c",
            PROBE,
            str(probe),
            *TRUST_VARIABLES,
        ]
    )

    found = json.loads(probe.read_text(encoding="utf-8"))
    certificate = json.loads((reports / "certificate.json").read_text(encoding="utf-8"))
    assert found.pop("token_url_status") == 400  # verified, and answered by the emulator
    for name in TRUST_VARIABLES:
        assert found[name]["ca"] and not found[name]["key"], name
        assert not Path(found[name]["path"]).exists(), f"{name}: the run's CA outlived the run"
    assert certificate["target"]["scheme"] == "https"
    assert certificate["target"]["api_base_url"].startswith("https://127.0.0.1:")


def test_certify_client_scheme_http_serves_plain_http(tmp_path):
    probe = tmp_path / "probe.json"
    reports = tmp_path / "reports"
    script = (
        "import json, os, sys; "
        "json.dump({k: os.environ.get(k) for k in sys.argv[2:]}, open(sys.argv[1], 'w'))"
    )

    cli.main(
        [
            *("certify-client", "--scheme", "http", "--reports-dir", str(reports), "--"),
            *(sys.executable, "-c", script, str(probe), "CREDLY_TOKEN_URL", *TRUST_VARIABLES),
        ]
    )

    found = json.loads(probe.read_text(encoding="utf-8"))
    certificate = json.loads((reports / "certificate.json").read_text(encoding="utf-8"))
    assert found["CREDLY_TOKEN_URL"].startswith("http://127.0.0.1:")
    # plain HTTP changes none of them: the integration keeps whatever trust our environment set
    assert all(found[name] == os.environ.get(name) for name in TRUST_VARIABLES)
    assert certificate["target"]["scheme"] == "http"


def test_emulate_https_prints_how_to_trust_it_and_removes_the_ca_when_stopped():
    process = subprocess.Popen(
        [sys.executable, "-m", "credly_contract.cli", "emulate", "--https", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("CREDLY_CA_BUNDLE" in x for x in lines):
            lines.append(process.stdout.readline())
        exports = dict(
            line.strip().removeprefix("export ").split("=", 1) for line in lines if "export" in line
        )
        assert exports["CREDLY_API_BASE_URL"].startswith("https://127.0.0.1:")
        ca = Path(exports["CREDLY_CA_BUNDLE"])
        assert set(TRUST_VARIABLES) <= set(exports)
        assert ca.is_file()
        context = ssl.create_default_context(cafile=str(ca))
        url = exports["CREDLY_API_BASE_URL"] + "/organizations/x/applications"
        assert _get_once_listening(url, context).status_code in (401, 404)  # answered over TLS
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert not ca.exists()


def _get_once_listening(url: str, context: ssl.SSLContext) -> httpx.Response:
    """The emulator prints its variables just before it starts listening: try for a while."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(url, verify=context)
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
