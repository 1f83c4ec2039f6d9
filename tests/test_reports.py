"""Run artefacts through real certifications: three `credly-contract certify --target live` runs (in
subprocesses, concurrently) against emulators this module starts, so the test knows every secret and
token the target issued. One run is clean, one has a MUST fault (token_cacheable) and a waivers file
that must not help it, one has a SHOULD fault (tokens_survive_delete) that a waiver covers."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest

from credly_contract import catalogue, spec
from credly_contract.checks import registry
from credly_contract.cli import main
from credly_contract.config import ENVIRONMENT, ConfigError
from credly_contract.report import link_latest, verdict_lines
from credly_contract.report.certificate import build_certificate
from credly_contract.report.manifest import MANIFEST, verify_manifest, write_manifest
from credly_contract.report.verify import (
    SCHEMA_PATH,
    certificate_schema,
    consistency_problems,
    schema_problems,
)
from credly_contract.report.waivers import Waiver, apply_waivers, load_waivers
from credly_contract.results import Results
from credly_contract.verdict import ErrorKind, ExitCode, RunError, Verdict

slow = pytest.mark.slow  # the tests that read the module's three certification runs

CERTIFICATE_FIELDS = {
    "verdict",
    "target",
    "suite_version",
    "spec_sha256",
    "started_at",
    "finished_at",
    "profile",
    "requirements",
    "observations",
    "counts",
    "request_plan",
}
MUST_FAULT, MUST_FAULT_BREAKS = "token_cacheable", "OAUTH-NO-STORE"
SHOULD_FAULT, SHOULD_FAULT_BREAKS = "tokens_survive_delete", "SEC-REVOKE-ON-DELETE"
WAIVER_REASON = "QA-123: revocation lands in release 7; accepted by QA"


# An emulator in its own process (three in this one would share the GIL and triple the runs' time).
# It prints its target as one JSON line, and on a line from stdin every secret and token it issued.
EMULATOR_PROCESS = """
import json, sys
from credly_contract.emulator import EmulatorServer
server = EmulatorServer(faults=sys.argv[1:]).start()
print(json.dumps({
    "api_base_url": server.api_base_url, "token_url": server.token_url,
    "organization_id": server.bootstrap.organization_id, "client_id": server.bootstrap.client_id,
    "client_secret": server.bootstrap.client_secret,
    "foreign_organization_id": server.foreign.organization_id,
}), flush=True)
sys.stdin.readline()
print(json.dumps(server.issued_secrets() + [server.foreign.client_secret]), flush=True)
server.stop()
"""


@dataclass
class Run:
    dir: Path
    code: int
    stdout: str
    stderr: str
    target: dict[str, str]
    issued: set[str]

    @property
    def certificate(self) -> dict:
        return json.loads((self.dir / "certificate.json").read_text(encoding="utf-8"))

    def requirement(self, rid: str) -> dict:
        return next(r for r in self.certificate["requirements"] if r["id"] == rid)

    def statuses(self) -> dict[str, str]:
        return {r["id"]: r["status"] for r in self.certificate["requirements"]}


def _waivers(path: Path, *entries: dict) -> Path:
    lines = ["waivers:"]
    for entry in entries:
        lines.append(f"  - id: {entry['id']}")
        lines.append(f"    reason: {json.dumps(entry['reason'])}")
        lines.append(f"    expires: {entry['expires']}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _certify_live(target: dict[str, str], run_dir: Path, waivers: Path | None) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CREDLY_")}
    environment.update({ENVIRONMENT[key]: value for key, value in target.items()})
    command = [sys.executable, "-m", "credly_contract.cli", "certify", "--target", "live"]
    command += ["--profile", "quick", "--reports-dir", str(run_dir), "--rate-limit", "10000"]
    if waivers:
        command += ["--waivers", str(waivers)]
    return subprocess.Popen(
        command,
        cwd=run_dir.parent.parent,
        env=environment,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    root = tmp_path_factory.mktemp("certifications")
    future = (dt.date.today() + dt.timedelta(days=365)).isoformat()
    plans = {
        "clean": ([], None),
        "must_fault": ([MUST_FAULT], None),
        "should_waived": (
            [SHOULD_FAULT],
            _waivers(
                root / "should.yaml",
                {"id": SHOULD_FAULT_BREAKS, "reason": WAIVER_REASON, "expires": future},
                {"id": "SEC-TENANT", "reason": "fixed since", "expires": future},
            ),
        ),
    }
    processes: list[subprocess.Popen] = []
    try:
        started = {}
        for name, (faults, waivers) in plans.items():
            emulator = subprocess.Popen(
                [sys.executable, "-c", EMULATOR_PROCESS, *faults],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            processes.append(emulator)
            target = json.loads(emulator.stdout.readline())
            certify = _certify_live(target, root / "reports" / name, waivers)
            processes.append(certify)
            started[name] = (emulator, target, certify)
        finished = {}
        for name, (emulator, target, certify) in started.items():
            stdout, stderr = certify.communicate(timeout=300)
            emulator.stdin.write("issued?\n")
            emulator.stdin.flush()
            issued = set(json.loads(emulator.stdout.readline()))
            emulator.wait(timeout=30)
            run_dir = root / "reports" / name
            finished[name] = Run(run_dir, certify.returncode, stdout, stderr, target, issued)
        yield finished
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


# --- the certificate -----------------------------------------------------------------------------


@slow
def test_clean_run_certifies_and_lists_every_catalogue_requirement_as_passed(runs):
    run = runs["clean"]
    certificate = run.certificate
    assert run.code == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert set(certificate) == CERTIFICATE_FIELDS
    assert certificate["verdict"] == "certified"
    assert [r["id"] for r in certificate["requirements"]] == list(catalogue.requirements())
    for requirement in certificate["requirements"]:
        listed = catalogue.get(requirement["id"])
        assert (requirement["level"], requirement["title"], requirement["source"]) == (
            listed.level,
            listed.title,
            listed.source,
        )
        assert requirement["status"] == "passed", requirement
        assert requirement["tests"], f"{requirement['id']} names no test that proves it"
        assert "evidence" not in requirement
    counts = certificate["counts"]
    assert counts["requirements"] == {
        "passed": len(catalogue.requirements()),
        "failed": 0,
        "waived": 0,
        "not_run": 0,
    }
    assert counts["tests"]["passed"] > 0 and counts["tests"]["failed"] == 0
    assert counts["requests_sent"] > 0


@slow
def test_certificate_names_the_target_without_credentials_and_the_run_in_utc(runs):
    run = runs["clean"]
    certificate = run.certificate
    assert certificate["target"] == {
        "kind": "live",
        "api_base_url": run.target["api_base_url"],
        "token_url": run.target["token_url"],
        "organization_id": run.target["organization_id"],
    }
    assert certificate["profile"] == "quick"
    started = dt.datetime.fromisoformat(certificate["started_at"])
    finished = dt.datetime.fromisoformat(certificate["finished_at"])
    assert certificate["started_at"].endswith("Z") and started.utcoffset() == dt.timedelta(0)
    assert started <= finished


@slow
def test_spec_sha256_is_the_contract_files_hash(runs):
    expected = hashlib.sha256(spec.SPEC_PATH.read_bytes()).hexdigest()
    assert runs["clean"].certificate["spec_sha256"] == expected


@slow
def test_one_must_fault_fails_exactly_its_requirement_with_evidence(runs):
    run = runs["must_fault"]
    assert run.code == 1
    assert run.certificate["verdict"] == "not_certified"
    failed = {rid for rid, status in run.statuses().items() if status != "passed"}
    assert failed == {MUST_FAULT_BREAKS}
    evidence = run.requirement(MUST_FAULT_BREAKS)["evidence"]
    assert evidence
    first = evidence[0]
    assert first["message"] and first["test"] and first["check"]
    assert first["request"]["url"] == run.target["token_url"]
    assert first["response"]["status"] == 200
    assert first["curl"].startswith("curl ") and run.target["token_url"] in first["curl"]


@pytest.mark.parametrize(
    ("entry", "refusal"),
    [
        (
            {"id": MUST_FAULT_BREAKS, "reason": "trying to waive a MUST", "expires": "2099-01-01"},
            f"{MUST_FAULT_BREAKS} is a MUST requirement and cannot be waived; remove its waiver",
        ),
        (
            {"id": "SEC-NO-5XX", "reason": "ran out", "expires": "2020-01-31"},
            "the waiver for SEC-NO-5XX expired on 2020-01-31; renew it",
        ),
    ],
)
def test_a_waiver_that_cannot_apply_is_refused_with_exit_2_and_one_line(
    tmp_path, capsys, entry, refusal
):
    path = _waivers(tmp_path / "waivers.yaml", entry)
    code = main(["certify", "--waivers", str(path), "--reports-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"credly-contract: waivers file {path}: ")
    assert refusal in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


@slow
def test_a_waiver_for_a_requirement_that_passed_is_reported_for_removal(runs):
    observations = runs["should_waived"].certificate["observations"]
    by_kind = {o["kind"]: o for o in observations if o["kind"].startswith("waiver_")}
    assert by_kind["waiver_unused"]["requirement"] == "SEC-TENANT"
    assert "remove" in by_kind["waiver_unused"]["detail"]


@slow
def test_a_waived_requirement_looks_waived_on_the_console_in_junit_and_in_allure(runs):
    run = runs["should_waived"]
    line = f"WAIVED {SHOULD_FAULT_BREAKS} ({WAIVER_REASON}, until "
    assert line in run.stdout
    assert f"FAILED   {SHOULD_FAULT_BREAKS}" not in run.stdout
    junit = ElementTree.parse(run.dir / "junit.xml").getroot()
    cases = [
        c
        for c in junit.iter("testcase")
        if SHOULD_FAULT_BREAKS in ElementTree.tostring(c, encoding="unicode")
    ]
    assert cases, "no test case proves the waived requirement"
    assert not [c for c in junit.iter("testcase") if c.find("failure") is not None]
    skipped = [c.find("skipped") for c in cases if c.find("skipped") is not None]
    assert skipped and all(line in (s.get("message") or "") for s in skipped)
    results = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in (run.dir / "allure-results").glob("*-result.json")
    ]
    waived = [r for r in results if line in (r.get("statusDetails") or {}).get("message", "")]
    assert waived and all(r["status"] == "skipped" for r in waived)
    assert not [r for r in results if r["status"] in ("failed", "broken")]


@slow
def test_a_waived_should_failure_shows_waived_with_its_reason_and_still_carries_evidence(runs):
    run = runs["should_waived"]
    requirement = run.requirement(SHOULD_FAULT_BREAKS)
    assert requirement["status"] == "waived"
    assert requirement["waiver"]["reason"] == WAIVER_REASON
    assert requirement["evidence"] and requirement["evidence"][0]["curl"].startswith("curl ")
    assert {rid for rid, s in run.statuses().items() if s != "passed"} == {SHOULD_FAULT_BREAKS}
    # The only failure is waived, so the run certifies: waived is not passed, but it does not block.
    assert (run.certificate["verdict"], run.code) == ("certified", 0)
    assert run.certificate["counts"]["requirements"]["waived"] == 1
    html = (run.dir / "certificate.html").read_text(encoding="utf-8")
    assert WAIVER_REASON in html


# --- the HTML ------------------------------------------------------------------------------------


@slow
@pytest.mark.parametrize("name", ["clean", "must_fault", "should_waived"])
def test_certificate_html_loads_nothing_from_anywhere(runs, name):
    html = (runs[name].dir / "certificate.html").read_text(encoding="utf-8").lower()
    for needle in ("<script", "<link", "<img", "<iframe", " src=", "url(", "@import", "@font-face"):
        assert needle not in html, needle


@slow
def test_certificate_html_puts_failures_right_after_the_verdict_banner_which_links_to_them(runs):
    html = (runs["must_fault"].dir / "certificate.html").read_text(encoding="utf-8")
    positions = [
        html.index(marker)
        for marker in ('id="verdict"', 'id="failures"', 'id="matrix"', 'id="observations"')
    ]
    assert positions == sorted(positions)
    banner = html[html.index('id="verdict"') : html.index('id="failures"')]
    assert f'href="#failure-{MUST_FAULT_BREAKS}"' in banner
    failures = html[html.index('id="failures"') : html.index('id="matrix"')]
    assert f'id="failure-{MUST_FAULT_BREAKS}"' in failures
    assert "Reproduce" in failures and "curl -i -X POST" in failures


@slow
def test_the_console_prints_each_failure_once_in_full_never_cut_mid_word(runs):
    run = runs["must_fault"]
    lines = [line.rstrip() for line in run.stdout.splitlines() if line.strip()]
    assert "short test summary info" not in run.stdout
    messages = [e["message"] for e in run.requirement(MUST_FAULT_BREAKS)["evidence"]]
    for message in messages:
        first = message.splitlines()[0]
        assert any(first in line for line in lines), first
    cut = [
        (short, full)
        for short in lines
        for full in lines
        if short != full
        and len(short) > 40
        and full.startswith(short)
        and full[len(short)].isalnum()
    ]
    assert cut == [], f"a line repeated cut mid-word: {cut[:2]}"


def _chromium() -> str | None:
    return next(
        (
            shutil.which(n)
            for n in ("chromium", "chromium-browser", "google-chrome")
            if shutil.which(n)
        ),
        None,
    )


def _headless(browser: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=http://127.0.0.1:9",
            *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@slow
@pytest.mark.skipif(
    _chromium() is None,
    reason="headless Chromium is not installed "
    "(see the README: The two commands); the offline rendering check needs it",
)
def test_certificate_html_renders_offline_in_headless_chromium(runs, tmp_path):
    run = runs["must_fault"]
    page = (run.dir / "certificate.html").resolve().as_uri()
    shown = _headless(_chromium(), tmp_path / "profile", "--dump-dom", page)
    assert shown.returncode == 0, shown.stderr[-2000:]
    dom = shown.stdout
    assert "Not certified" in dom and "Requirement matrix" in dom
    for rid in catalogue.requirements():
        assert f'id="req-{rid}"' in dom
    assert f'href="#failure-{MUST_FAULT_BREAKS}"' in dom
    printed = _headless(
        _chromium(),
        tmp_path / "profile",
        "--no-pdf-header-footer",
        f"--print-to-pdf={tmp_path / 'certificate.pdf'}",
        page,
    )
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert (tmp_path / "certificate.pdf").read_bytes().startswith(b"%PDF")


# --- manifest, latest, report --------------------------------------------------------------------


def _sha256sum_check(run_dir: Path) -> subprocess.CompletedProcess | None:
    """`sha256sum -c manifest.sha256`, the check a recipient runs (None where coreutils is absent)."""
    if not shutil.which("sha256sum"):
        return None
    command = ["sha256sum", "--check", "--quiet", MANIFEST]
    return subprocess.run(command, cwd=run_dir, capture_output=True, text=True)


def _manifest(run_dir: Path) -> dict[str, str]:
    lines = (run_dir / MANIFEST).read_text(encoding="utf-8").splitlines()
    return {name: digest for digest, name in (line.split("  ", 1) for line in lines)}


@slow
@pytest.mark.parametrize("name", ["clean", "must_fault"])
def test_manifest_hashes_every_artefact(runs, name):
    run_dir = runs[name].dir
    listed = _manifest(run_dir)
    allure = {
        p.relative_to(run_dir).as_posix()
        for p in (run_dir / "allure-results").rglob("*")
        if p.is_file()
    }
    assert allure, "allure-pytest wrote nothing"
    assert set(listed) == {"certificate.json", "certificate.html", "junit.xml"} | allure
    for file, digest in listed.items():
        assert hashlib.sha256((run_dir / file).read_bytes()).hexdigest() == digest, file
    assert verify_manifest(run_dir) == []
    check = _sha256sum_check(run_dir)
    assert check is None or check.returncode == 0, check.stdout + check.stderr


@slow
def test_manifest_detects_a_forged_verdict_and_an_added_file(runs, tmp_path):
    forged = tmp_path / "forged"
    shutil.copytree(runs["must_fault"].dir, forged)
    certificate = forged / "certificate.json"
    text = certificate.read_text(encoding="utf-8")
    certificate.write_text(
        text.replace('"verdict": "not_certified"', '"verdict": "certified"', 1), encoding="utf-8"
    )
    (forged / "allure-results" / "extra-result.json").write_text("{}", encoding="utf-8")
    assert sorted(verify_manifest(forged)) == [
        "allure-results/extra-result.json: not in the manifest",
        "certificate.json: changed since the manifest was written",
    ]
    check = _sha256sum_check(forged)
    assert check is None or (check.returncode != 0 and "certificate.json" in check.stdout)


@slow
def test_reports_latest_points_at_a_run_of_the_same_reports_folder(runs):
    latest = runs["clean"].dir.parent / "latest"
    assert latest.is_symlink()
    assert latest.resolve() in {run.dir.resolve() for run in runs.values()}


def test_latest_moves_to_the_newest_run_and_falls_back_to_a_text_file(tmp_path, monkeypatch):
    reports = tmp_path / "reports"
    first, second = reports / "20260101T000000Z-aaaa", reports / "20260102T000000Z-bbbb"
    first.mkdir(parents=True)
    second.mkdir()
    link_latest(first)
    assert (reports / "latest").resolve() == first.resolve()
    link_latest(second)
    assert os.readlink(reports / "latest") == second.name

    def no_symlinks(*args, **kwargs):
        raise OSError("symbolic links are not available")

    monkeypatch.setattr(Path, "symlink_to", no_symlinks)
    link_latest(first)
    assert not (reports / "latest").is_symlink()
    assert (reports / "latest").read_text(encoding="utf-8").strip() == first.name
    elsewhere = tmp_path / "elsewhere" / "run"
    elsewhere.mkdir(parents=True)
    link_latest(elsewhere)
    assert not (elsewhere.parent / "latest").exists()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@slow
def test_report_verifies_and_summarises_a_run_folder_without_writing_to_it(runs, tmp_path, capsys):
    copy = tmp_path / "reports" / "copy"
    shutil.copytree(runs["must_fault"].dir, copy)
    before = _snapshot(copy)
    assert main(["report", str(copy)]) == ExitCode.CERTIFIED
    out = capsys.readouterr().out
    assert _snapshot(copy) == before
    assert "verdict:  not_certified" in out
    assert f"failed:   {MUST_FAULT_BREAKS}" in out
    assert f"{len(catalogue.requirements()) - 1} passed, 1 failed" in out
    assert out.splitlines()[-1].endswith("manifest.sha256 beside it)")


@slow
def test_report_renders_a_verified_run_into_a_new_folder_only(runs, tmp_path, capsys):
    run_dir = runs["must_fault"].dir
    before = _snapshot(run_dir)
    rendered = tmp_path / "rendered"
    assert main(["report", str(run_dir), "--output", str(rendered)]) == ExitCode.CERTIFIED
    assert (rendered / "certificate.html").read_bytes() == (
        run_dir / "certificate.html"
    ).read_bytes()
    assert verify_manifest(rendered) == []
    assert _snapshot(run_dir) == before
    assert main(["report", str(run_dir), "--output", str(rendered)]) == ExitCode.CONFIG
    assert main(["report", str(run_dir), "--output", str(run_dir)]) == ExitCode.CONFIG
    assert "new or empty folder" in capsys.readouterr().err


@slow
def test_report_follows_a_latest_text_file(runs, tmp_path, capsys):
    reports = tmp_path / "reports"
    shutil.copytree(runs["should_waived"].dir, reports / "run")
    (reports / "latest").write_text("run\n", encoding="utf-8")
    assert main(["report", str(reports / "latest")]) == 0
    assert f"waived:   {SHOULD_FAULT_BREAKS}" in capsys.readouterr().out


def _refused(capsys: pytest.CaptureFixture[str], folder: Path, *needles: str) -> None:
    """report exits 4 with one line naming the problem, no traceback, and leaves the folder as is."""
    before = _snapshot(folder)
    assert main(["report", str(folder)]) == ExitCode.REPORT_INVALID
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert _snapshot(folder) == before


@slow
def test_report_refuses_a_folder_edited_after_its_manifest_and_never_rewrites_the_manifest(
    runs, tmp_path, capsys
):
    copy = tmp_path / "copy"
    shutil.copytree(runs["must_fault"].dir, copy)
    certificate = copy / "certificate.json"
    certificate.write_text(
        certificate.read_text(encoding="utf-8").replace(
            '"verdict": "not_certified"', '"verdict": "certified"', 1
        ),
        encoding="utf-8",
    )
    _refused(capsys, copy, "certificate.json: changed since the manifest was written")
    check = _sha256sum_check(copy)
    assert check is None or check.returncode != 0
    junit_only = tmp_path / "junit-only"
    shutil.copytree(runs["clean"].dir, junit_only)
    (junit_only / "junit.xml").write_text("<testsuites/>", encoding="utf-8")
    _refused(capsys, junit_only, "junit.xml: changed since the manifest was written")
    (junit_only / MANIFEST).unlink()
    _refused(capsys, junit_only, "manifest.sha256 is missing")


def _tampered(runs: dict[str, Run], tmp_path: Path, edit) -> Path:
    """A copy of the failed run whose certificate was edited and whose manifest was re-made to
    match, as someone covering their tracks would: only the certificate's own checks can tell."""
    copy = tmp_path / "tampered"
    shutil.copytree(runs["must_fault"].dir, copy)
    certificate = json.loads((copy / "certificate.json").read_text(encoding="utf-8"))
    edit(certificate)
    (copy / "certificate.json").write_text(json.dumps(certificate), encoding="utf-8")
    write_manifest(copy)
    return copy


def _failed(certificate: dict) -> dict:
    return next(r for r in certificate["requirements"] if r["status"] == "failed")


@slow
@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda c: _failed(c).pop("evidence"), "'evidence' is a required property"),
        (lambda c: c.pop("counts"), "'counts' is a required property"),
        (lambda c: c["counts"]["requirements"].update(failed=0), "counts.requirements.failed"),
        (lambda c: _failed(c).update(id="NO-SUCH-ID"), "NO-SUCH-ID is not in credly-contract"),
        (lambda c: c.update(verdict="certified"), "verdict certified does not follow"),
        (lambda c: _failed(c).update(status="passed"), "verdict not_certified does not follow"),
    ],
    ids=["evidence removed", "field missing", "counts", "unknown id", "verdict", "status"],
)
def test_report_refuses_an_inconsistent_certificate_even_with_a_matching_manifest(
    runs, tmp_path, capsys, edit, needle
):
    _refused(capsys, _tampered(runs, tmp_path, edit), "not a consistent certificate", needle)


@slow
def test_report_refuses_an_unreadable_certificate(runs, tmp_path, capsys):
    copy = tmp_path / "unreadable"
    shutil.copytree(runs["clean"].dir, copy)
    (copy / "certificate.json").write_bytes(b"\xff{not json")
    write_manifest(copy)
    _refused(capsys, copy, "cannot be read as JSON")


@slow
@pytest.mark.parametrize("name", ["clean", "must_fault", "should_waived"])
def test_every_certificate_validates_against_the_shipped_schema(runs, name):
    certificate = runs[name].certificate
    assert schema_problems(certificate) == []
    assert consistency_problems(certificate) == []


def test_the_schema_is_shipped_inside_the_package():
    assert SCHEMA_PATH.is_file() and SCHEMA_PATH.parent.name == "report"
    assert certificate_schema()["properties"]["verdict"]["enum"] == [v.value for v in Verdict]


@slow
@pytest.mark.parametrize(
    ("name", "verdict"), [("clean", "certified"), ("must_fault", "not_certified")]
)
def test_the_console_ends_with_the_verdict_the_counts_and_the_certificate_path(runs, name, verdict):
    run = runs[name]
    last = run.stdout.strip().splitlines()[-2:]
    counts = run.certificate["counts"]["requirements"]
    assert last[0] == (
        f"credly-contract: verdict {verdict}: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['not_run']} not run of {len(run.certificate['requirements'])} requirements"
    )
    assert str(run.dir / "certificate.html") in last[1]


def test_report_on_a_folder_without_a_certificate_is_a_usage_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path) in err and "certificate.json" in err


# --- secrets -------------------------------------------------------------------------------------


@slow
@pytest.mark.parametrize("name", ["clean", "must_fault", "should_waived"])
def test_no_artefact_contains_a_secret_or_token_the_target_issued(runs, name):
    run = runs[name]
    issued = run.issued
    assert run.target["client_secret"] in issued
    assert len(issued) > 10, "the run should have created applications and fetched tokens"
    files = [p for p in run.dir.rglob("*") if p.is_file()]
    assert any(p.name == "certificate.json" for p in files)
    for file in files:
        content = file.read_bytes()
        leaked = [secret[:4] + "..." for secret in issued if secret.encode() in content]
        assert not leaked, f"{file.relative_to(run.dir)} contains issued secrets {leaked}"
    console = run.stdout + run.stderr
    assert not [secret[:4] for secret in issued if secret in console], "certify printed a secret"


# --- allure --------------------------------------------------------------------------------------


def _allure_results(run_dir: Path) -> list[dict]:
    return [
        json.loads(p.read_text(encoding="utf-8"))
        for p in (run_dir / "allure-results").glob("*-result.json")
    ]


@slow
def test_allure_results_carry_requirement_feature_severity_and_docs_link(runs):
    results = _allure_results(runs["clean"].dir)
    assert results
    for result in results:
        labels = result["labels"]
        ids = [label["value"] for label in labels if label["name"] == "requirement"]
        assert ids, f"{result['fullName']} has no requirement label"
        requirements = [catalogue.get(rid) for rid in ids]
        assert {label["value"] for label in labels if label["name"] == "feature"} == {
            r.feature for r in requirements
        }
        expected = "critical" if any(r.level == "MUST" for r in requirements) else "normal"
        assert [label["value"] for label in labels if label["name"] == "severity"] == [expected]
        assert set(ids) <= {label["value"] for label in labels if label["name"] == "tag"}
        assert catalogue.docs_url() in [link["url"] for link in result["links"]]
        assert not result.get("attachments"), "evidence is attached only on failure"


@slow
def test_allure_attaches_scrubbed_evidence_to_failed_tests_only(runs):
    run = runs["must_fault"]
    failed = [r for r in _allure_results(run.dir) if r["status"] in ("failed", "broken")]
    assert failed
    assert [r["fullName"] for r in failed if r["status"] == "broken"] == [], (
        "a broken requirement is a failed test, not a broken one"
    )
    for result in failed:
        names = [a["name"] for a in result.get("attachments", [])]
        assert f"{MUST_FAULT_BREAKS} evidence" in names, result["fullName"]
        source = next(
            a["source"]
            for a in result["attachments"]
            if a["name"] == f"{MUST_FAULT_BREAKS} evidence"
        )
        evidence = json.loads((run.dir / "allure-results" / source).read_text(encoding="utf-8"))
        assert (
            evidence["curl"].startswith("curl ")
            and evidence["request"]["url"] == run.target["token_url"]
        )
    passed = [r for r in _allure_results(run.dir) if r["status"] == "passed"]
    assert passed and not any(r.get("attachments") for r in passed)


# --- waivers files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("waivers: [oops", "not valid YAML"),
        ("- id: SEC-NO-5XX\n", "top level must be a mapping"),
        ("waivers: {id: SEC-NO-5XX}\n", "'waivers' must be a list"),
        ("waivers: [{id: SEC-NO-5XX, reason: r}]\n", "missing expires"),
        (
            "waivers: [{id: SEC-NO-5XX, reason: r, expires: 2030-01-01, until: x}]\n",
            "unknown key(s) until",
        ),
        (
            "waivers: [{id: NO-SUCH, reason: r, expires: 2030-01-01}]\n",
            "'NO-SUCH' is not a requirement",
        ),
        ("waivers: [{id: SEC-NO-5XX, reason: ' ', expires: 2030-01-01}]\n", "reason must be"),
        ("waivers: [{id: SEC-NO-5XX, reason: r, expires: soon}]\n", "'soon' is not a date"),
        ("waivers: [{id: SEC-NO-5XX, reason: r, expires: 2030-13-01}]\n", "impossible date"),
        (
            "waivers: [{id: SEC-NO-5XX, reason: r, expires: 2030-01-01},"
            " {id: SEC-NO-5XX, reason: s, expires: 2030-01-01}]\n",
            "waived twice",
        ),
    ],
)
def test_a_malformed_waivers_file_is_a_config_error_naming_file_and_problem(
    tmp_path, content, problem
):
    path = tmp_path / "waivers.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_waivers(path)
    assert str(path) in str(raised.value) and problem in str(raised.value)


def test_certify_refuses_a_malformed_waivers_file_before_running(tmp_path, capsys):
    path = tmp_path / "waivers.yaml"
    path.write_text("waivers: [{id: SEC-NO-5XX, reason: r}]\n", encoding="utf-8")
    code = main(
        [
            "certify",
            "--profile",
            "quick",
            "--waivers",
            str(path),
            "--reports-dir",
            str(tmp_path / "run"),
        ]
    )
    assert code == 2
    assert f"waivers file {path}: waiver 1: missing expires" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_waiver_holds_through_its_expiry_day():
    waiver = Waiver("SEC-NO-5XX", "accepted", dt.date(2030, 1, 31))
    applied, notes = apply_waivers({"SEC-NO-5XX": "failed"}, [waiver], dt.date(2030, 1, 31))
    assert applied == {"SEC-NO-5XX": waiver} and notes == []
    applied, notes = apply_waivers({"SEC-NO-5XX": "failed"}, [waiver], dt.date(2030, 2, 1))
    assert applied == {} and [n["kind"] for n in notes] == ["waiver_expired"]


# --- verdicts from results, without a run ----------------------------------------------------------


def _built(results: Results) -> dict:
    return build_certificate(results, None, profile="quick", waivers=[], finished_at=0.0)


def _all_passed(results: Results, only: set[str] | None = None) -> Results:
    """Every requirement (or those in ``only``) proven as in a run: its test passed and each of
    its checks judged an exchange (no pass without evidence)."""
    checks = registry()
    for rid in results.outcomes:
        if only is None or rid in only:
            results.record(f"test_{rid}", [rid], [], completed=True)
            results.count_checks(
                {
                    name: {"judged": 1, "failed": 0}
                    for name, c in checks.items()
                    if c.requirement == rid
                }
            )
    return results


def test_a_run_that_proves_every_requirement_is_certified_and_its_certificate_verifies():
    certificate = _built(_all_passed(Results()))
    assert certificate["verdict"] == Verdict.CERTIFIED
    assert schema_problems(certificate) == [] and consistency_problems(certificate) == []


def test_a_scoped_run_is_passed_in_scope_even_when_its_scope_holds_everything():
    scoped = Results()
    scoped.limit_scope({"APP-LIST", "TOKEN-ISSUE"})
    certificate = _built(_all_passed(scoped, {"APP-LIST", "TOKEN-ISSUE"}))
    assert certificate["verdict"] == Verdict.PASSED_IN_SCOPE
    assert sum(r["in_scope"] for r in certificate["requirements"]) == 2
    assert consistency_problems(certificate) == [] and schema_problems(certificate) == []
    everything = Results()
    everything.limit_scope(everything.outcomes)
    assert _all_passed(everything).verdict() == Verdict.PASSED_IN_SCOPE


def test_a_scoped_run_with_a_failure_or_an_unproven_requirement_in_scope_is_not_certified():
    failed = Results()
    failed.limit_scope({"APP-LIST"})
    failed.record("t", ["APP-LIST"], [{"requirement": "APP-LIST", "message": "m"}], True)
    assert failed.verdict() == Verdict.NOT_CERTIFIED
    unproven = Results()
    unproven.limit_scope({"APP-LIST"})
    assert unproven.verdict() == Verdict.NOT_CERTIFIED


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (ErrorKind.UNREACHABLE, ExitCode.UNREACHABLE),
        (ErrorKind.CONFIGURATION, ExitCode.CONFIG),
        (ErrorKind.INTERRUPTED, ExitCode.INTERRUPTED),
    ],
)
def test_a_run_error_is_verdict_error_with_its_own_exit_code_and_a_valid_certificate(kind, code):
    results = _all_passed(Results())
    results.fail_run(RunError(kind, "what happened"))
    certificate = _built(results)
    assert certificate["verdict"] == Verdict.ERROR and results.error.exit_code == code
    assert certificate["observations"][0] == {
        "kind": "run_error",
        "error": kind.value,
        "detail": "what happened",
    }
    assert schema_problems(certificate) == [] and consistency_problems(certificate) == []
    assert "credly-contract: " + kind.value + ": what happened" in verdict_lines(certificate, None)


def test_the_first_run_error_is_kept():
    results = Results()
    results.fail_run(RunError(ErrorKind.UNREACHABLE, "first"))
    results.fail_run(RunError(ErrorKind.CONFIGURATION, "second"))
    assert results.error is not None and results.error.message == "first"


def test_a_not_run_requirement_says_why_in_the_certificate():
    results = _all_passed(Results(), set(catalogue.requirements()) - {"APP-CREATE", "APP-GET"})
    results.record(
        "t", ["APP-CREATE"], [], completed=False, skipped="the read-only profile creates nothing"
    )
    results.limit_scope(set(results.outcomes) - {"APP-GET"})
    certificate = _built(results)
    reasons = {r["id"]: r.get("reason") for r in certificate["requirements"]}
    assert reasons["APP-CREATE"] == "skipped: the read-only profile creates nothing"
    assert reasons["APP-GET"].startswith("outside this run's scope")
    assert reasons["APP-LIST"] is None
    assert schema_problems(certificate) == [] and consistency_problems(certificate) == []
    del certificate["requirements"][1]["reason"]
    assert any("'reason' is a required property" in p for p in schema_problems(certificate))
