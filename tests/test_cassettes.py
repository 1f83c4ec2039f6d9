"""The recorded cassette scenarios: the committed emulator set replays offline and passes,
re-recording changes nothing but timestamps and random ids, an edited cassette fails naming its
requirement, a changed request is an error, and no issued secret or token reaches a cassette."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from credly_contract.cassettes.diff import Recording, diff_recordings, interaction_changes
from credly_contract.cassettes.vcr_session import Cassettes, normalized_body
from credly_contract.cli import main
from credly_contract.emulator import EmulatorServer
from tests.cli_process import run_cli

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "cassettes" / "emulator"
SCENARIOS = {
    "pagination_metadata_over_three_pages",
    "secret_is_revealed_only_once",
    "tokens_reach_only_their_scopes",
    "delete_answers_204_and_revokes",
    "token_endpoint_issues_and_refuses",
}
STALE = "cassettes/emulator no longer matches the suite: re-record it with `credly-contract record`"


def cli(
    *args: str, offline: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own; ``offline``: one that cannot open a connection."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CREDLY_")}
    environment.update(env or {})
    return run_cli(*args, env=environment, cwd=ROOT, offline=offline)


def replay(folder: Path, reports: Path) -> subprocess.CompletedProcess[str]:
    return cli("certify", "--target", "replay", "--cassettes-dir", str(folder), "--reports-dir",
               str(reports), offline=True)  # fmt: skip


def statuses(reports: Path) -> dict[str, str]:
    certificate = json.loads((reports / "certificate.json").read_text(encoding="utf-8"))
    return {r["id"]: r["status"] for r in certificate["requirements"]}


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def save(path: Path, cassette: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(cassette, sort_keys=False), encoding="utf-8")


def copy_of_committed(tmp_path: Path) -> Path:
    folder = tmp_path / "cassettes"
    shutil.copytree(COMMITTED, folder)
    return folder


def test_committed_set_holds_one_cassette_per_scenario_and_the_target():
    names = {p.stem for p in COMMITTED.glob("*.yaml")}
    assert names == SCENARIOS | {"preflight", "target"}, STALE
    metadata = load(COMMITTED / "target.yaml")
    assert metadata["api_base_url"] == "http://emulator.invalid/v1"
    assert (
        metadata["client_id"] == "<CLIENT_ID_1>"
        and metadata["client_secret"] == "<CLIENT_SECRET_1>"
    )


def test_committed_cassettes_replay_offline_and_pass(tmp_path):
    # How fast replay runs is measured by `python -m benchmarks`, not asserted here.
    result = replay(COMMITTED, tmp_path / "reports")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout
    proven = {rid for rid, status in statuses(tmp_path / "reports").items() if status == "passed"}
    certificate = json.loads((tmp_path / "reports" / "certificate.json").read_text("utf-8"))
    assert certificate["verdict"] == "passed_in_scope"
    assert {r["id"] for r in certificate["requirements"] if r["in_scope"]} == proven
    assert {"PAGE-META", "APP-SECRET-ONCE", "APP-CREDENTIALS", "SCOPE-ENFORCED", "TOKEN-SCOPE",
            "BADGES-LIST", "APP-DELETE", "SEC-REVOKE-ON-DELETE", "TOKEN-ISSUE",
            "OAUTH-INVALID-CLIENT", "OAUTH-GRANT-TYPE", "OAUTH-NO-STORE"} <= proven  # fmt: skip


def test_the_offline_guard_stops_a_run_that_uses_the_network(tmp_path):
    """What makes the offline replays above prove anything: a run that connects cannot pass."""
    result = cli("certify", "--profile", "quick", "--reports-dir", str(tmp_path), offline=True)
    assert result.returncode == 3, result.stdout[-2000:] + result.stderr
    assert "an offline run tried to use the network" in result.stdout + result.stderr


def test_replay_is_passed_in_scope_never_certified_and_the_console_says_why(tmp_path):
    result = replay(COMMITTED, tmp_path / "reports")
    assert result.returncode == 0, result.stdout + result.stderr
    certificate = json.loads((tmp_path / "reports" / "certificate.json").read_text("utf-8"))
    counts = certificate["counts"]["requirements"]
    total = len(certificate["requirements"])
    assert counts["not_run"] > 0 and counts["failed"] == 0
    lines = result.stdout.strip().splitlines()
    not_run = [line for line in lines if line.startswith("NOT_RUN")]
    assert len(not_run) == counts["not_run"]
    assert all(line.endswith("(outside this run's scope)") for line in not_run)
    assert any("NOT_RUN because they are outside this run's scope" in line for line in lines)
    assert lines[-3] == (
        f"credly-contract: verdict passed_in_scope: {counts['passed']} passed, 0 failed, "
        f"{counts['not_run']} not run of {total} requirements"
    )
    assert f"{counts['passed']} of {total} requirements are in this run's scope" in lines[-2]
    assert "not a certification" in lines[-2]
    assert str(tmp_path / "reports" / "certificate.html") in lines[-1]


def _normalised(text: str) -> str:
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<TIMESTAMP>", text)
    text = re.sub(r'"created_at":\d+', '"created_at":<EPOCH>', text)
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<UUID>", text)


def test_recording_again_changes_only_timestamps_and_random_ids(tmp_path):
    fresh = tmp_path / "emulator"
    result = cli("record", "--cassettes-dir", str(fresh))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "recorded 5 scenario cassettes" in result.stdout
    assert not (tmp_path / "emulator.recording").exists()

    compared = cli("cassettes", "diff", str(COMMITTED), str(fresh))
    assert compared.returncode == 0, f"{STALE}\n{compared.stdout}"
    assert sorted(p.name for p in fresh.glob("*.yaml")) == sorted(
        p.name for p in COMMITTED.glob("*.yaml")
    )
    for path in sorted(COMMITTED.glob("*.yaml")):
        committed = _normalised(path.read_text(encoding="utf-8")).splitlines()
        recorded = _normalised((fresh / path.name).read_text(encoding="utf-8")).splitlines()
        assert committed == recorded, f"{path.name}: {STALE}"


def replay_fails_naming(folder: Path, reports: Path, failure: str) -> str:
    """Replay an edited folder: exit 1, the failure message, only its requirement failed; returns
    what `cassettes diff` says changed against the committed set."""
    result = replay(folder, reports)
    assert result.returncode == 1, result.stdout + result.stderr
    assert failure in result.stdout
    failed = {rid for rid, status in statuses(reports).items() if status == "failed"}
    assert failed == {failure.split(":")[0]}
    diff = cli("cassettes", "diff", str(COMMITTED), str(folder))
    assert diff.returncode == 1, diff.stdout
    return diff.stdout


def test_secret_shown_on_get_fails_replay_naming_app_secret_once(tmp_path):
    folder = copy_of_committed(tmp_path)
    path = folder / "secret_is_revealed_only_once.yaml"
    cassette = load(path)
    (get,) = [
        i
        for i in cassette["interactions"]
        if i["request"]["method"] == "GET"
        and re.search(r"/oauth_applications/\d+$", i["request"]["uri"])
    ]
    body = json.loads(get["response"]["body"]["string"])
    body["data"]["secret"] = "shown-again-on-get"
    get["response"]["body"]["string"] = json.dumps(body)
    save(path, cassette)

    drift = replay_fails_naming(folder, tmp_path / "reports", "APP-SECRET-ONCE: application")
    assert "#4 GET /organizations/{organization_id}/oauth_applications/{id}" in drift
    assert "type changed: data.secret null -> string" in drift


def test_delete_answering_200_fails_replay_naming_app_delete(tmp_path):
    folder = copy_of_committed(tmp_path)
    path = folder / "delete_answers_204_and_revokes.yaml"
    cassette = load(path)
    delete = next(i for i in cassette["interactions"] if i["request"]["method"] == "DELETE")
    assert delete["response"]["status"]["code"] == 204
    delete["response"]["status"] = {"code": 200, "message": "OK"}
    delete["response"]["body"]["string"] = '{"data":{"message":"Deleted"},"metadata":{}}'
    save(path, cassette)

    drift = replay_fails_naming(folder, tmp_path / "reports", "APP-DELETE: delete answered 200")
    assert "status 204 -> 200" in drift and "field added: data.message (string)" in drift


def test_a_changed_request_is_an_error_not_a_wrong_answer(tmp_path):
    folder = copy_of_committed(tmp_path)
    path = folder / "secret_is_revealed_only_once.yaml"
    cassette = load(path)
    create = next(i for i in cassette["interactions"] if i["request"]["method"] == "POST"
                  and i["request"]["uri"].endswith("/oauth_applications"))  # fmt: skip
    create["request"]["body"] = create["request"]["body"].replace("secret 1", "secret 2")
    save(path, cassette)

    result = replay(folder, tmp_path / "reports")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "the request differs from the recording" in result.stderr
    assert "secret_is_revealed_only_once.yaml" in result.stderr
    assert "body differs" in result.stderr


def test_replay_without_a_recording_names_the_folder(tmp_path):
    result = replay(tmp_path / "nothing", tmp_path / "reports")
    assert result.returncode == 2
    assert f"{tmp_path / 'nothing'} holds no recording" in result.stderr


def live_env(server: EmulatorServer) -> dict[str, str]:
    """The CREDLY_* variables of a live target, pointing at an emulator this test started."""
    return {
        "CREDLY_API_BASE_URL": server.api_base_url,
        "CREDLY_TOKEN_URL": server.token_url,
        "CREDLY_ORGANIZATION_ID": server.bootstrap.organization_id,
        "CREDLY_CLIENT_ID": server.bootstrap.client_id,
        "CREDLY_CLIENT_SECRET": server.bootstrap.client_secret,
    }


@pytest.fixture
def emulator():
    with EmulatorServer() as server:
        yield server


def test_no_issued_secret_or_token_reaches_a_cassette(emulator, tmp_path):
    folder, reports = tmp_path / "recorded", tmp_path / "reports"
    result = cli(
        "record", "--target", "live", "--cassettes-dir", str(folder), env=live_env(emulator)
    )
    assert result.returncode == 0, result.stdout + result.stderr

    issued = emulator.issued_secrets()
    assert len(issued) > 20  # every application secret and every token of the run
    texts = {p: p.read_text(encoding="utf-8") for p in folder.glob("*.yaml")}
    assert len(texts) == len(SCENARIOS) + 2
    leaks = [(p.name, v[:6]) for p, text in texts.items() for v in issued if v in text]
    assert leaks == []
    everything = "".join(texts.values())
    assert "<ACCESS_TOKEN_" in everything and "<CLIENT_SECRET_" in everything

    # A recording of a live target replays offline as well (its real URLs are in target.yaml).
    replayed = replay(folder, reports)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr


# --- the pieces, in process ----------------------------------------------------------------------


def test_form_and_json_bodies_are_scrubbed_into_one_canonical_form():
    form = normalized_body(
        b"client_id=abc&client_secret=s3cr3t-value&scope=a+b", "application/x-www-form-urlencoded"
    )
    assert b"s3cr3t-value" not in form and b"client_secret=<CLIENT_SECRET_" in form
    # The placeholder a replay sends (form-encoded) normalises to the same bytes as the recording.
    encoded = form.decode().replace("<", "%3C").replace(">", "%3E").encode()
    assert normalized_body(encoded, "application/x-www-form-urlencoded") == form
    assert normalized_body(form, "application/x-www-form-urlencoded") == form
    # A JSON body that is not an object (vcrpy's filter_post_data_parameters raises on these).
    assert normalized_body(b'["a", {"secret": "another-secret"}]', "application/json") == (
        normalized_body(b'["a", {"secret": "another-secret"}]', "application/json")
    )
    assert b"another-secret" not in normalized_body(
        b'["a", {"secret": "another-secret"}]', "application/json"
    )


def test_recorded_requests_keep_no_authorization_value_and_no_incidental_headers():
    from vcr.request import Request

    hooks = Cassettes("record", None)
    request = Request(
        "POST", "http://127.0.0.1:1/oauth/token", b'{"client_secret": "json-secret-1"}',
        {"Authorization": "Bearer tok-abcdef-123", "Content-Type": "application/json", "X-Y": "z"},
    )  # fmt: skip
    scrubbed = hooks.before_record_request(request)
    assert dict(scrubbed.headers)["authorization"].startswith("Bearer <")
    assert "tok-abcdef-123" not in str(dict(scrubbed.headers))
    assert "x-y" not in {k.lower() for k in scrubbed.headers}
    assert b"json-secret-1" not in scrubbed.body


def test_diff_lists_status_fields_and_types_and_ignores_values():
    committed = Recording.load(COMMITTED)
    (interactions,) = [committed.cassettes["token_endpoint_issues_and_refuses"]]
    changed = json.loads(json.dumps(interactions))
    changed[0]["response"]["body"]["string"] = json.dumps(
        {
            "access_token": "<ACCESS_TOKEN_99>",
            "token_type": "Bearer",
            "expires_in": "7200",
            "scope": "x",
        }
    )
    changed[1]["response"]["status"]["code"] = 400
    lines = interaction_changes(committed, committed, interactions, changed)
    assert any("field removed: created_at (integer)" in line for line in lines)
    assert any("type changed: expires_in integer -> string" in line for line in lines)
    assert any("value changed: scope 'oauth_applications' -> 'x'" in line for line in lines)
    assert any("status 401 -> 400" in line for line in lines)
    assert not any("access_token" in line for line in lines)
    assert diff_recordings(COMMITTED, COMMITTED) == []


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_scenario_cassette_tells_its_story_with_placeholders_only(name):
    text = (COMMITTED / f"{name}.yaml").read_text(encoding="utf-8")
    assert "127.0.0.1" not in text
    for match in re.finditer(r'"(secret|access_token)":"([^"]*)"', text):
        assert re.fullmatch(r"<[A-Z_]+_\d+>", match.group(2)), match.group(0)
    for match in re.finditer(r"client_secret=([^&\s]*)", text):
        assert re.fullmatch(r"<[A-Z_]+_\d+>|<REDACTED>", match.group(1)), match.group(0)


def test_a_recording_of_a_non_compliant_server_fails_on_replay(tmp_path):
    with EmulatorServer(faults=["token_cacheable"]) as broken:
        folder = tmp_path / "broken"
        recorded = cli(
            "record", "--target", "live", "--cassettes-dir", str(folder), env=live_env(broken)
        )
    # The evidence is kept: recording a server that breaks rules is what QA records staging for.
    assert recorded.returncode == 1, recorded.stdout + recorded.stderr
    assert (folder / "token_endpoint_issues_and_refuses.yaml").is_file()

    result = replay(folder, tmp_path / "reports")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "OAUTH-NO-STORE: a token endpoint response (200) has Cache-Control None" in result.stdout
    failed = {rid for rid, status in statuses(tmp_path / "reports").items() if status == "failed"}
    assert failed == {"OAUTH-NO-STORE"}
    certificate = json.loads((tmp_path / "reports" / "certificate.json").read_text("utf-8"))
    assert certificate["verdict"] == "not_certified"
    assert "credly-contract: verdict not_certified: " in result.stdout


def _can_unshare_network() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    probe = subprocess.run([unshare, "-rn", "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_unshare_network(), reason="no unprivileged network namespaces here")
def test_replay_passes_in_a_sandbox_without_any_network_interface(tmp_path):
    """`unshare -rn` gives the process a network namespace whose only interface (lo) is down."""
    command = [
        "unshare", "-rn", sys.executable, "-m", "credly_contract.cli", "certify", "--target", "replay",
        "--cassettes-dir", str(COMMITTED), "--reports-dir", str(tmp_path / "reports"),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout


def test_record_refuses_production_before_anything_is_sent_without_naming_a_profile(
    monkeypatch, capsys
):
    for key in list(os.environ):
        if key.startswith("CREDLY_"):
            monkeypatch.delenv(key)
    for key, value in {
        "CREDLY_API_BASE_URL": "https://api.credly.com/v1",
        "CREDLY_TOKEN_URL": "https://www.credly.com/oauth/token",
        "CREDLY_ORGANIZATION_ID": "org",
        "CREDLY_CLIENT_ID": "id",
        "CREDLY_CLIENT_SECRET": "secret-value",
    }.items():
        monkeypatch.setenv(key, value)
    assert main(["record", "--target", "live"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        "credly-contract: refusing to record against production host api.credly.com"
    )
    assert "readonly" not in err and "\n" not in err
