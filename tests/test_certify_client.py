"""`credly-contract certify-client` judged on example integrations (tests/integrations/sync.py): the careful
one and its HTTP Basic variant certify; each defect fails exactly its CLIENT requirement, with evidence;
the live upstream path works through the recording proxy against an emulator in another process.

The example runs are slow-ish (each waits out a Retry-After), so they run concurrently, once per module.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest

from credly_contract import cli, preflight
from credly_contract.catalogue import client_requirements
from credly_contract.checks import CheckFailed
from credly_contract.client_cert import upstream
from credly_contract.client_cert.exchanges import TOKEN, Observed
from credly_contract.client_cert.injections import Injector
from credly_contract.client_cert.judges import JUDGES, ClientRun
from credly_contract.client_cert.runner import Outcome
from credly_contract.emulator.server import LoopbackServer
from tests.cli_process import run_cli

SYNC = Path(__file__).resolve().parent / "integrations" / "sync.py"
# The example integration is a script, not a module of the project: load its defect table by path.
_spec = importlib.util.spec_from_file_location("example_sync", SYNC)
assert _spec is not None and _spec.loader is not None
_sync = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_sync)
DEFECTS: dict[str, str] = _sync.DEFECTS

EXAMPLES = {"careful": [], "basic": ["--auth", "basic"]} | {
    defect: ["--defect", defect] for defect in DEFECTS
}
EXPECTED_FAILURES = {"careful": set(), "basic": set()} | {d: {r} for d, r in DEFECTS.items()}
# A defect that ends the integration's run leaves the judges of what came later nothing to judge.
EXPECTED_NOT_RUN = {
    "gives_up_on_503": {"CLIENT-BACKOFF", "CLIENT-RENEWAL"},  # stopped at the 503, before the 401
    "delete_204_as_error": {"CLIENT-RESILIENT"},  # it fails without injections too
}
# Requirements whose violation is a reaction to an injection: their evidence names it.
REACTIONS = {"CLIENT-RENEWAL", "CLIENT-RETRY-AFTER", "CLIENT-BACKOFF", "CLIENT-RESILIENT"}


def certify_client(reports: Path, *args: str, integration: list[str]) -> int:
    return cli.main(
        ["certify-client", "--reports-dir", str(reports), *args, "--", sys.executable, *integration]
    )


def certificate(reports: Path) -> dict:
    return json.loads((reports / "certificate.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def example_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, Path]]:
    root = tmp_path_factory.mktemp("examples")

    def run(name: str) -> tuple[int, Path]:
        out = root / name / "out"
        out.mkdir(parents=True)
        integration = [str(SYNC), "--out", str(out), *EXAMPLES[name]]
        reports = root / name / "reports"
        # Each certification a process of its own, as users run them: in one process, eight
        # recorders share one interpreter lock and stamp a client's requests late by a third of a
        # second at times, which no judge of a client's timing should have to absorb.
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CREDLY_")}
        done = run_cli(
            "certify-client", "--reports-dir", str(reports), "--watch-dir", str(out),
            "--", sys.executable, *integration, env=environment,
        )  # fmt: skip
        return done.returncode, reports

    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(zip(EXAMPLES, pool.map(run, EXAMPLES), strict=True))


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_integration_fails_exactly_its_requirement(example, example_runs):
    code, reports = example_runs[example]
    cert = certificate(reports)
    failed = {r["id"] for r in cert["requirements"] if r["status"] == "failed"}
    not_run = {r["id"] for r in cert["requirements"] if r["status"] == "not_run"}

    assert failed == EXPECTED_FAILURES[example], cert["observations"]
    assert not_run == EXPECTED_NOT_RUN.get(example, set()), cert["observations"]
    assert code == (0 if not failed else 1)
    assert cert["verdict"] == ("certified" if not failed else "not_certified")
    for requirement in cert["requirements"]:
        if requirement["status"] == "failed":
            evidence = requirement["evidence"][0]
            assert evidence["message"]
            assert evidence["request"]["method"] in {"GET", "POST", "PUT", "DELETE"}
            if requirement["id"] in REACTIONS:
                assert evidence["injection"] in {"token_revoked", "rate_limited", "unavailable"}
                assert evidence["reacted_to"]["response"]["status"] in {401, 429, 503}


def test_every_client_requirement_is_broken_by_some_example():
    assert set(DEFECTS.values()) == set(client_requirements())


def test_every_client_requirement_has_one_registered_judge():
    from credly_contract.checks import checks_in
    from credly_contract.client_cert import judges

    for rid in client_requirements():
        registered = [c.name for c in checks_in(judges).values() if c.requirement == rid]
        assert registered == [JUDGES[rid].check_name]
        assert JUDGES[rid].requirement == rid


def test_the_certificate_names_every_injection_and_where_it_fired(example_runs):
    cert = certificate(example_runs["careful"][1])

    fired = {i["name"]: i["fired_at_exchange"] for i in cert["injections"]}
    assert set(fired) == {"rate_limited", "unavailable", "token_revoked"}
    assert all(isinstance(index, int) for index in fired.values())
    assert cert["integration"]["exit_code"] == 0


@pytest.mark.parametrize("example", ["careful", "hot_5xx_retry"])
def test_a_client_certificate_verifies_as_a_server_certificate_does(example, example_runs, capsys):
    reports = example_runs[example][1]
    schema = json.loads(
        (Path(cli.__file__).parent / "report" / "certificate.schema.json").read_text("utf-8")
    )

    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(certificate(reports)))

    assert not errors, [error.message for error in errors]
    assert cli.main(["report", str(reports)]) == 0, capsys.readouterr().err


def test_a_client_certification_writes_the_server_certifications_artefacts(example_runs):
    reports = example_runs["careful"][1]

    names = {p.name for p in reports.iterdir()}
    assert {"certificate.json", "certificate.html", "junit.xml", "manifest.sha256"} <= names
    exchanges = json.loads((reports / "exchanges.json").read_text(encoding="utf-8"))
    assert len(exchanges) == certificate(reports)["counts"]["requests_sent"]
    assert {e.get("injection") for e in exchanges} >= {"rate_limited", "unavailable"}
    requirements = len(client_requirements())  # one test case per requirement
    assert len(list((reports / "allure-results").glob("*-result.json"))) == requirements
    junit = (reports / "junit.xml").read_text(encoding="utf-8")
    assert junit.count("<testcase") == requirements
    listed = (reports / "manifest.sha256").read_text(encoding="utf-8")
    assert all(name in listed for name in ("certificate.json", "junit.xml", "exchanges.json"))


@pytest.fixture
def emulators(monkeypatch) -> Iterator[list[upstream.EmulatedUpstream]]:
    """Every emulated upstream certify-client starts, to read what it issued afterwards."""
    started: list[upstream.EmulatedUpstream] = []

    class Remembered(upstream.EmulatedUpstream):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(upstream, "EmulatedUpstream", Remembered)
    yield started


@pytest.mark.parametrize("defect", ["prints_token", "logs_basic_auth"])
def test_no_issued_secret_reaches_the_console_or_any_artefact(tmp_path, capfd, emulators, defect):
    code = certify_client(tmp_path, integration=[str(SYNC), "--defect", defect])

    assert code == 1
    emulator = emulators[0].server
    pair = f"{emulator.bootstrap.client_id}:{emulator.bootstrap.client_secret}"
    secrets = [*emulator.issued_secrets(), base64.b64encode(pair.encode()).decode()]
    console = "".join(capfd.readouterr())
    # the integration printed it; we showed it masked
    assert "<ACCESS_TOKEN_" in console if defect == "prints_token" else "<CREDENTIAL_" in console
    written = [p.read_text(encoding="utf-8") for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "exchanges.json" for p in tmp_path.rglob("*"))
    for secret in secrets:
        assert secret not in console
        assert all(secret not in text for text in written)


def test_a_hanging_integration_is_stopped_at_the_time_limit(tmp_path):
    began = time.monotonic()
    code = certify_client(
        tmp_path, "--timeout-seconds", "1", integration=["-c", "import time; time.sleep(60)"]
    )

    assert code == 1
    assert time.monotonic() - began < 30
    cert = certificate(tmp_path)
    statuses = {r["id"]: r for r in cert["requirements"]}
    assert statuses["CLIENT-COMPLETES"]["status"] == "failed"
    assert "within 1 s" in statuses["CLIENT-COMPLETES"]["evidence"][0]["message"]
    assert statuses["CLIENT-BEARER"]["status"] == "not_run"
    assert statuses["CLIENT-BEARER"]["reason"] == "skipped: the integration made no API call"


def test_a_switched_off_injection_is_named_and_its_requirement_not_run(tmp_path, capsys):
    code = certify_client(tmp_path, "--no-429", integration=[str(SYNC)])

    cert = certificate(tmp_path)
    retry_after = next(r for r in cert["requirements"] if r["id"] == "CLIENT-RETRY-AFTER")
    out = capsys.readouterr().out
    # outside the run's scope, so the verdict is the scoped one: exit 0, never certified
    assert (code, cert["verdict"]) == (0, "passed_in_scope")
    assert retry_after["status"] == "not_run"
    assert retry_after["in_scope"] is False
    assert "--no-429" in retry_after["reason"]
    assert [r["id"] for r in cert["requirements"] if not r["in_scope"]] == ["CLIENT-RETRY-AFTER"]
    assert "credly-contract: verdict passed_in_scope" in out
    assert "outside it (switched off by --no-429)" in out
    named = {i["name"]: i["switched_off_by"] for i in cert["injections"]}
    assert named["rate_limited"] == "--no-429"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["certify-client"], "needs the integration's command after --"),
        (["certify-client", "--", "/nonexistent/integration"], "cannot run the integration"),
        (["certify-client", "--timeout-seconds", "0", "--", "true"], "--timeout-seconds"),
        (["certify-client", "--upstream", "live", "--", "true"], "--upstream live needs CREDLY_"),
        (["certify-client", "--reports-dir", "a-file/reports", "--", "true"], "--reports-dir"),
        (["certify-client", "--watch-dir", "a-file", "--", "true"], "--watch-dir a-file is a file"),
        (
            ["certify-client", "--watch-dir", "nowhere", "--", "true"],
            "--watch-dir nowhere does not",
        ),
        (["certify-client", "--profile", "thorough", "--", "true"], "invalid choice"),
        (["certify-client", "--timeout-seconds", "soon", "--", "true"], "invalid float"),
    ],
    ids=[
        "no-command",
        "missing-executable",
        "zero-timeout",
        "live-without-settings",
        "unwritable-reports-dir",
        "watch-dir-is-a-file",
        "watch-dir-missing",
        "unknown-profile",
        "non-numeric-timeout",
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, monkeypatch, tmp_path):
    for variable in [v for v in os.environ if v.startswith("CREDLY_")]:
        monkeypatch.delenv(variable)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a folder\n", encoding="utf-8")

    code = cli.main(argv)

    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert "--api-base-url" not in err  # a flag certify-client does not have


@contextlib.contextmanager
def emulate(seed_applications: int) -> Iterator[dict[str, str]]:
    """`credly-contract emulate` in its own process, standing in for staging; its CREDLY_* settings."""
    process = subprocess.Popen(
        [sys.executable, "-m", "credly_contract.cli", "emulate", "--port", "0",
         "--seed-applications", str(seed_applications)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    settings: dict[str, str] = {}
    assert process.stdout is not None
    try:
        for line in process.stdout:
            found = re.match(r"\s+export (CREDLY_\w+)=(\S+)", line)
            if found:
                settings[found[1]] = found[2]
            if "CREDLY_FOREIGN_APPLICATION_ID" in settings:
                break
        yield settings
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def emulator_process() -> Iterator[dict[str, str]]:
    with emulate(seed_applications=120) as settings:
        yield settings


@pytest.mark.parametrize(
    ("options", "integration", "failed"),
    [
        ([], [], set()),
        ([], ["--defect", "ignore_retry_after"], {"CLIENT-RETRY-AFTER"}),
        ([], ["--defect", "retry_dead_token"], {"CLIENT-RENEWAL"}),
        (["--profile", "standard"], [], set()),
    ],
    ids=["careful", "ignore_retry_after", "retry_dead_token", "standard-profile-expires-tokens"],
)
def test_live_upstream_judges_through_the_recording_proxy(
    emulator_process, monkeypatch, tmp_path, options, integration, failed
):
    for variable, value in emulator_process.items():
        monkeypatch.setenv(variable, value)

    code = certify_client(
        tmp_path, "--upstream", "live", *options, integration=[str(SYNC), *integration]
    )

    cert = certificate(tmp_path)
    assert {r["id"] for r in cert["requirements"] if r["status"] != "passed"} == failed
    assert code == (1 if failed else 0)
    # the certified target is the live one; the loopback proxy is how the integration reached it
    assert cert["target"]["kind"] == "live"
    assert cert["target"]["api_base_url"] == emulator_process["CREDLY_API_BASE_URL"]
    assert cert["target"]["token_url"] == emulator_process["CREDLY_TOKEN_URL"]
    assert cert["target"]["transport"]["api_base_url"].startswith("https://127.0.0.1:")
    assert all(i["fired_at_exchange"] is not None for i in cert["injections"])
    assert "smaller_pages" in {i["name"] for i in cert["injections"]}


def test_live_upstream_certifies_a_correct_client_in_an_organization_with_two_applications(
    monkeypatch, tmp_path
):
    """smaller_pages: the proxy asks for pages of one, so the client walks two pages where staging's
    organization would otherwise fit on one."""
    with emulate(seed_applications=1) as settings:
        for variable, value in settings.items():
            monkeypatch.setenv(variable, value)
        code = certify_client(tmp_path, "--upstream", "live", integration=[str(SYNC)])

    cert = certificate(tmp_path)
    exchanges = json.loads((tmp_path / "exchanges.json").read_text(encoding="utf-8"))
    pages = {
        e["request"]["url"].split("page=")[1][:1]
        for e in exchanges
        if "page=" in e["request"]["url"]
    }
    assert {r["id"] for r in cert["requirements"] if r["status"] != "passed"} == set()
    assert (code, cert["verdict"]) == (0, "certified")
    assert "2" in pages
    smaller = next(i for i in cert["injections"] if i["name"] == "smaller_pages")
    assert smaller["fired_at_exchange"] is not None


def test_a_live_organization_with_one_page_leaves_pagination_not_run_and_says_why(
    monkeypatch, tmp_path
):
    """Against staging the applications are whatever the organization holds: with one page there is
    no next page to follow, so CLIENT-PAGINATION is not judged, never passed for free, and the
    integration is not certified (a certification needs every requirement), with nothing failed."""
    with emulate(seed_applications=0) as settings:
        for variable, value in settings.items():
            monkeypatch.setenv(variable, value)
        code = certify_client(tmp_path, "--upstream", "live", integration=[str(SYNC)])
    requirements = {r["id"]: r for r in certificate(tmp_path)["requirements"]}
    pagination = requirements.pop("CLIENT-PAGINATION")
    assert pagination["status"] == "not_run"
    # The reason names the target's one page, not the client (issue 17: it used to blame it).
    assert "one page only" in pagination["reason"]
    assert "never read beyond" not in pagination["reason"]
    assert {r["status"] for r in requirements.values()} == {"passed"}
    assert certificate(tmp_path)["verdict"] == "not_certified"
    assert code == 1


@pytest.fixture
def unreachable_live_target(monkeypatch: pytest.MonkeyPatch) -> None:
    """Live settings pointing at a loopback port nothing listens on (9, discard)."""
    monkeypatch.setenv("CREDLY_API_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("CREDLY_TOKEN_URL", "http://127.0.0.1:9/oauth/token")
    monkeypatch.setenv("CREDLY_ORGANIZATION_ID", "org")
    monkeypatch.setenv("CREDLY_CLIENT_ID", "client")
    monkeypatch.setenv("CREDLY_CLIENT_SECRET", "not-a-real-secret")


@pytest.mark.usefixtures("unreachable_live_target")
def test_live_upstream_that_cannot_be_reached_exits_3(tmp_path, capsys):
    code = certify_client(tmp_path, "--upstream", "live", integration=[str(SYNC)])

    err = capsys.readouterr().err
    assert code == 3
    assert "unreachable" in err
    assert "not-a-real-secret" not in err


def test_standard_profile_also_expires_every_token_and_the_careful_integration_certifies(tmp_path):
    code = certify_client(tmp_path, "--profile", "standard", integration=[str(SYNC)])

    cert = certificate(tmp_path)
    fired = {i["name"]: i["fired_at_exchange"] for i in cert["injections"]}
    assert code == 0, cert["observations"]
    assert fired["token_expired"] is not None
    assert fired["token_expired"] > fired["token_revoked"]


def test_the_html_certificate_names_the_integration_and_the_injection_a_failure_reacted_to(
    example_runs,
):
    html = (example_runs["ignore_retry_after"][1] / "certificate.html").read_text(encoding="utf-8")

    assert "Client integration certification" in html
    assert "1. The injected answer <code>rate_limited</code>" in html
    assert "sync.py" in html


@pytest.mark.usefixtures("unreachable_live_target")
def test_a_live_target_lost_during_the_run_is_an_error_not_a_failure(monkeypatch, tmp_path, capsys):
    # Preflight passed (skipped here), then the target stopped answering: no HTTP answer is exit 3.
    monkeypatch.setattr(preflight, "check_target", lambda target: None)

    code = certify_client(tmp_path, "--upstream", "live", integration=[str(SYNC)])

    assert code == 3
    assert certificate(tmp_path)["verdict"] == "error"
    assert "the live target: POST http://127.0.0.1:9/oauth/token got no answer" in (
        capsys.readouterr().err
    )
    assert "got no answer" in (tmp_path / "certificate.json").read_text(encoding="utf-8")


async def _always_503(scope: dict, receive: object, send: Callable) -> None:
    await send({"type": "http.response.start", "status": 503, "headers": []})
    await send({"type": "http.response.body", "body": b"Service Unavailable"})


THREE_TOKEN_REQUESTS = """
import os, urllib.request, urllib.error
for _ in range(3):
    try:
        urllib.request.urlopen(os.environ["CREDLY_TOKEN_URL"], b"grant_type=client_credentials")
    except urllib.error.HTTPError as error:
        print("token request answered", error.code)
"""


def test_a_live_target_answering_503_again_and_again_is_an_error_not_a_failure(
    monkeypatch, tmp_path, capsys
):
    monkeypatch.setattr(preflight, "check_target", lambda target: None)
    with LoopbackServer(_always_503, name="failing staging") as staging:
        monkeypatch.setenv("CREDLY_API_BASE_URL", staging.origin + "/v1")
        monkeypatch.setenv("CREDLY_TOKEN_URL", staging.origin + "/oauth/token")
        monkeypatch.setenv("CREDLY_ORGANIZATION_ID", "org")
        monkeypatch.setenv("CREDLY_CLIENT_ID", "client")
        monkeypatch.setenv("CREDLY_CLIENT_SECRET", "not-a-real-secret")

        code = certify_client(
            tmp_path, "--upstream", "live", integration=["-c", THREE_TOKEN_REQUESTS]
        )

    out, err = capsys.readouterr()
    assert out.count("token request answered 503") == 3
    assert code == 3
    assert certificate(tmp_path)["verdict"] == "error"
    assert "answered 503, after 2 more 502/503/504 in a row" in err


def _token_exchange(index: int, started: float, expires_in: int) -> Observed:
    body = {
        "access_token": f"token-number-{index}",
        "token_type": "Bearer",
        "expires_in": expires_in,
    }
    return Observed(
        index=index,
        kind=TOKEN,
        method="POST",
        path="/oauth/token",
        query="",
        headers={"content-type": "application/x-www-form-urlencoded"},
        body=b"grant_type=client_credentials&scope=oauth_applications",
        started=started,
        finished=started + 0.01,
        status=200,
        response_body=json.dumps(body).encode(),
    )


def _run_of(exchanges: list[Observed]) -> ClientRun:
    outcome = Outcome(returncode=0, timed_out=False, stdout=b"", stderr=b"", seconds=1.0)
    injector = Injector.for_profile("quick", set())
    return ClientRun(exchanges, injector, outcome, "the-client-secret", [], "/v1")


@pytest.mark.parametrize(
    ("expires_in", "holds"),
    [(1, True), (7200, False)],
    ids=["each-token-expired-before-the-next", "third-token-inside-one-window"],
)
def test_token_reuse_counts_tokens_per_expiry_window(expires_in, holds):
    run = _run_of([_token_exchange(n, started=2.0 * n, expires_in=expires_in) for n in range(3)])

    if holds:
        JUDGES["CLIENT-TOKEN-REUSE"](run)
    else:
        with pytest.raises(CheckFailed, match=r"token #3 .* within one expiry window"):
            JUDGES["CLIENT-TOKEN-REUSE"](run)


NUL_SCOPE_REQUEST = """
import os, urllib.parse, urllib.request, urllib.error
form = {"grant_type": "client_credentials", "scope": "\\x00odd",
        "client_id": os.environ["CREDLY_CLIENT_ID"], "client_secret": os.environ["CREDLY_CLIENT_SECRET"]}
try:
    urllib.request.urlopen(os.environ["CREDLY_TOKEN_URL"], urllib.parse.urlencode(form).encode())
except urllib.error.HTTPError as error:
    print("token request answered", error.code)
"""


def test_control_characters_an_integration_sent_leave_junit_xml_parseable(tmp_path, capsys):
    code = certify_client(tmp_path, integration=["-c", NUL_SCOPE_REQUEST])

    assert code == 1
    assert "token request answered 400" in capsys.readouterr().out
    root = ElementTree.parse(tmp_path / "junit.xml").getroot()
    (failure,) = [f.get("message") for f in root.iter("failure")]
    assert failure.startswith(
        "CLIENT-SCOPE-DOCUMENTED: the token request asked for undocumented scope(s) '\\x00odd'"
    )


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["sigterm", "ctrl-c"]
)
def test_a_cancelled_certification_stops_the_integration_with_it(tmp_path, signum, code):
    pid_file = tmp_path / "integration.pid"
    sleeper = (
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    )
    command_line = [sys.executable, "-m", "credly_contract.cli", "certify-client"]
    command_line += [
        "--reports-dir",
        str(tmp_path / "reports"),
        "--",
        sys.executable,
        "-c",
        sleeper,
    ]
    certification = subprocess.Popen(command_line, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the integration never started"
        time.sleep(0.05)
    integration = int(pid_file.read_text())

    try:
        certification.send_signal(signum)
        _, err = certification.communicate(timeout=30)

        assert certification.returncode == code
        assert "the integration was stopped" in err
        with pytest.raises(ProcessLookupError):
            os.kill(integration, 0)
    finally:  # never leave a failed test's integration behind
        with contextlib.suppress(ProcessLookupError):
            os.kill(integration, signal.SIGKILL)


def test_an_unreadable_file_in_the_watched_folder_is_said_not_a_traceback(tmp_path, monkeypatch):
    watched = tmp_path / "logs"
    watched.mkdir()
    (watched / "locked.log").write_text("whatever\n", encoding="utf-8")
    read_bytes = Path.read_bytes

    def refuse_the_locked_log(path: Path) -> bytes:  # as for another user's 0600 file
        if path.name == "locked.log":
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", refuse_the_locked_log)

    code = certify_client(
        tmp_path / "reports", "--watch-dir", str(watched), integration=["-c", "pass"]
    )

    assert code == 1
    notes = [o["detail"] for o in certificate(tmp_path / "reports")["observations"]]
    assert any("locked.log could not be read (Permission denied)" in n for n in notes), notes


ODD_SECRET = 'pa/ss+word=with "quotes" & spaces'
LEAKED_FORMS = {
    "raw": ODD_SECRET,
    "url-encoded": "pa%2Fss%2Bword%3Dwith%20%22quotes%22%20%26%20spaces",
    "form-encoded": "pa%2Fss%2Bword%3Dwith+%22quotes%22+%26+spaces",
    "json-escaped": 'pa/ss+word=with \\"quotes\\" & spaces',
    "basic-pair": base64.b64encode(f"the-client-id:{ODD_SECRET}".encode()).decode(),
}


@pytest.mark.parametrize("form", LEAKED_FORMS)
def test_no_leak_catches_every_encoding_of_the_secret_and_the_console_masks_the_same(form):
    from credly_contract.scrub import Scrubber, basic_credentials, encodings

    printed = f"debug: {LEAKED_FORMS[form]}\n".encode()
    outcome = Outcome(returncode=0, timed_out=False, stdout=printed, stderr=b"", seconds=1.0)
    run = ClientRun(
        [], Injector.for_profile("quick", set()), outcome, ODD_SECRET, [ODD_SECRET], "/v1",
        client_id="the-client-id",
    )  # fmt: skip

    with pytest.raises(CheckFailed, match=r"CLIENT-NO-LEAK: .* appears.* in stdout \(line 1\)"):
        JUDGES["CLIENT-NO-LEAK"](run)
    scrubber = Scrubber()
    scrubber.register(ODD_SECRET, "CLIENT_SECRET")
    for value in basic_credentials("the-client-id", ODD_SECRET):
        scrubber.register(value, "CREDENTIAL")
    assert LEAKED_FORMS[form] in [
        *encodings(ODD_SECRET),
        *basic_credentials("the-client-id", ODD_SECRET),
    ]
    assert LEAKED_FORMS[form] not in scrubber.text(printed.decode())


def test_a_judge_that_breaks_blames_credly_contract_not_the_integration(tmp_path, monkeypatch):
    def pages_followed_in_order(run: ClientRun) -> None:
        raise KeyError("next_page_url")

    monkeypatch.setitem(JUDGES, "CLIENT-PAGINATION", pages_followed_in_order)

    code = certify_client(tmp_path, integration=[str(SYNC)])

    statuses = {r["id"]: r for r in certificate(tmp_path)["requirements"]}
    assert statuses["CLIENT-PAGINATION"]["status"] == "not_run"
    assert "KeyError" in statuses["CLIENT-PAGINATION"]["reason"]
    assert "a credly-contract bug, not the integration's" in statuses["CLIENT-PAGINATION"]["reason"]
    assert not [rid for rid, r in statuses.items() if r["status"] == "failed"]
    assert code == 1  # not certified: a requirement was not judged


def test_pytest_options_a_ci_job_sets_for_its_own_tests_do_not_reach_the_judging(
    tmp_path, monkeypatch, capsys
):
    # A CI job's PYTEST_ADDOPTS ("-n auto", "-k ...") would split, filter or break the judging.
    monkeypatch.setenv("PYTEST_ADDOPTS", "-k nothing -n 2")

    code = certify_client(tmp_path, integration=[str(SYNC)])

    assert code == 0, capsys.readouterr().err
    assert certificate(tmp_path)["verdict"] == "certified"
    assert "PYTEST_ADDOPTS set aside" in capsys.readouterr().err
    assert os.environ["PYTEST_ADDOPTS"] == "-k nothing -n 2"  # put back afterwards
