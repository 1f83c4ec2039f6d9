"""The certification as a pytest plugin, used the way a team would from its own test folder: loaded by
the ``pytest11`` entry point, inert in other pytest runs, and carrying the team's own
requirement-tagged checks (declared with --credly-requirements) into the same certificate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from credly_contract import catalogue

TEAM_REQUIREMENTS = """
requirements:
  - id: TEAM-LIST-NEWEST
    level: MUST
    title: The list shows an application right after it is created.
    source: Our integration guide, section 3
"""

TEAM_CHECK = """
import pytest


@pytest.mark.requirement("TEAM-LIST-NEWEST")
def test_a_created_application_is_listed(apps, api, target, tokens):
    exchange, data = apps.new_application("team")
    listing = api.get(target.applications_url(), token=tokens.get("oauth_applications"),
                      params={"per": 100})
    assert data["id"] in [item["id"] for item in listing.json()["data"]]
"""

# A session fixture whose teardown meets a server error: the finding must reach the certificate
# although every test report was already written.
TEARDOWN_5XX = """
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Boom(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def audit_on_the_way_out(api):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Boom)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield
    api.get(f"http://127.0.0.1:{server.server_address[1]}/audit")
    server.shutdown()


@pytest.mark.requirement("TEAM-LIST-NEWEST")
def test_something_with_an_audit_at_the_end(audit_on_the_way_out):
    pass
"""


def pytest_run(folder: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """`python -m pytest` in the user's folder, with nothing of this repository's configuration."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CREDLY_", "PYTEST_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *arguments],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def certify_team_tests(folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Only the team's own tests, against the emulator, with the team's requirements declared."""
    return pytest_run(
        folder,
        "test_team.py",
        "--credly-target=emulated",
        "--credly-requirements=team-requirements.yaml",
        "--credly-reports-dir=reports",
        "-q",
        *extra,
    )


def certificate(folder: Path) -> dict:
    return json.loads((folder / "reports" / "certificate.json").read_text(encoding="utf-8"))


@pytest.fixture
def team_folder(tmp_path: Path) -> Path:
    (tmp_path / "team-requirements.yaml").write_text(TEAM_REQUIREMENTS, encoding="utf-8")
    (tmp_path / "test_team.py").write_text(textwrap.dedent(TEAM_CHECK), encoding="utf-8")
    return tmp_path


def test_the_plugin_is_registered_as_a_pytest11_entry_point():
    found = [ep for ep in entry_points(group="pytest11") if ep.name == "credly_contract"]
    assert [ep.value for ep in found] == ["credly_contract.plugin"]


def test_the_plugin_stays_inert_in_a_pytest_run_that_does_not_ask_for_it(tmp_path):
    (tmp_path / "test_other.py").write_text(
        "def test_unrelated():\n    assert True\n\n"
        "def test_has_no_certification_fixtures(request):\n"
        "    import pytest\n"
        "    with pytest.raises(pytest.FixtureLookupError):\n"
        "        request.getfixturevalue('apps')\n",
        encoding="utf-8",
    )
    done = pytest_run(tmp_path, "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "credly-contract" not in done.stdout + done.stderr
    assert not (tmp_path / "reports").exists()


def test_a_team_certifies_from_its_own_folder_with_its_own_check_in_the_certificate(team_folder):
    done = pytest_run(
        team_folder,
        "--pyargs",
        "credly_contract.certification",
        "test_team.py",
        "--credly-target",
        "emulated",
        "--credly-profile",
        "quick",
        "--credly-requirements",
        "team-requirements.yaml",
        "--credly-reports-dir",
        "reports",
        "-q",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    issued = certificate(team_folder)
    assert issued["verdict"] == "certified"
    team = next(r for r in issued["requirements"] if r["id"] == "TEAM-LIST-NEWEST")
    assert team["status"] == "passed" and team["declared_by"] == "team"
    assert team["tests"] == ["test_team.py::test_a_created_application_is_listed"]
    everyone = len(catalogue.requirements()) + 1  # the suite's own and the team's
    assert len(issued["requirements"]) == everyone
    assert f"credly-contract: verdict certified: {everyone} passed" in done.stdout


def test_an_undeclared_requirement_id_is_one_clear_usage_error(team_folder):
    done = pytest_run(team_folder, "test_team.py", "--credly-target", "emulated", "-q")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "requirement TEAM-LIST-NEWEST is in no catalogue" in done.stderr
    assert "--credly-requirements" in done.stderr and "Traceback" not in done.stderr


def test_a_server_error_met_in_session_teardown_reaches_the_certificate(team_folder):
    (team_folder / "test_team.py").write_text(TEARDOWN_5XX, encoding="utf-8")
    done = certify_team_tests(team_folder)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    issued = certificate(team_folder)
    no_5xx = next(r for r in issued["requirements"] if r["id"] == "SEC-NO-5XX")
    assert no_5xx["status"] == "failed"
    assert no_5xx["tests"] == ["test_team.py::test_something_with_an_audit_at_the_end (teardown)"]
    assert "/audit" in no_5xx["evidence"][0]["request"]["url"]
    assert issued["verdict"] == "not_certified"


# A requirement failure that arrives inside an exception group, as schemathesis reports its checks.
GROUPED_FAILURE = """
import pytest

from credly_contract.checks import CheckFailed


@pytest.mark.requirement("TEAM-LIST-NEWEST")
def test_a_failure_reported_the_way_schemathesis_does(certification):
    raise ExceptionGroup("checks failed", [CheckFailed("TEAM-LIST-NEWEST", "the list was stale")])
"""


def test_allure_marks_a_requirement_failed_inside_an_exception_group_failed_not_broken(team_folder):
    (team_folder / "test_team.py").write_text(GROUPED_FAILURE, encoding="utf-8")
    done = certify_team_tests(team_folder, "--alluredir", "allure")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    (result,) = [
        json.loads(path.read_text(encoding="utf-8"))
        for path in (team_folder / "allure").glob("*-result.json")
    ]
    assert result["status"] == "failed"
    team = next(
        r for r in certificate(team_folder)["requirements"] if r["id"] == "TEAM-LIST-NEWEST"
    )
    assert team["status"] == "failed" and team["evidence"][0]["message"] == "the list was stale"


TEAM_SHOULD = """
requirements:
  - id: TEAM-NEWEST-FIRST
    level: SHOULD
    title: The list shows the newest application first.
    source: Our integration guide, section 4
"""

TEAM_SHOULD_FAILS = """
import pytest


@pytest.mark.requirement("TEAM-NEWEST-FIRST")
def test_the_newest_application_comes_first():
    assert False, "the oldest came first"
"""


def test_a_waiver_may_name_a_teams_own_should_requirement(tmp_path):
    (tmp_path / "team-requirements.yaml").write_text(TEAM_SHOULD, encoding="utf-8")
    (tmp_path / "test_team.py").write_text(TEAM_SHOULD_FAILS, encoding="utf-8")
    (tmp_path / "waivers.yaml").write_text(
        "waivers: [{id: TEAM-NEWEST-FIRST, reason: 'ticket T-9', expires: 2099-01-31}]\n",
        encoding="utf-8",
    )

    done = certify_team_tests(tmp_path, "--credly-waivers", "waivers.yaml")

    assert "Traceback" not in done.stderr and "not a requirement" not in done.stderr, done.stderr
    team = next(r for r in certificate(tmp_path)["requirements"] if r["id"] == "TEAM-NEWEST-FIRST")
    assert team["status"] == "waived" and team["waiver"]["reason"] == "ticket T-9"
