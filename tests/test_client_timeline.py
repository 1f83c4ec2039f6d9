"""Evidence people read at a glance: the client certificate's exchange timeline (every exchange in order,
injected answers marked, the exchanges behind a failure highlighted, one self-contained SVG), a
reaction's evidence that shows the injected answer first and the measured wait, and a console that
ends as `certify`'s does."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from credly_contract import cli
from credly_contract.report.timeline import failure_exchanges, timeline_svg

SYNC = Path(__file__).resolve().parent / "integrations" / "sync.py"


def entry(index: int, at: float, status: int, injection: str | None = None) -> dict:
    return {
        "exchange": index,
        "at": at,
        "took": 0.01,
        "method": "GET",
        "target": "/v1/organizations/9312b6d6-a3e8-4610-a5cc-d64fb2d26924/oauth_applications",
        "status": status,
        "injection": injection,
        "phase": "injected",
    }


def test_the_timeline_draws_every_exchange_marks_injections_and_highlights_failures():
    certificate = {
        "timeline": [entry(0, 0.1, 200), entry(1, 0.2, 429, "rate_limited"), entry(2, 0.21, 200)],
        "requirements": [
            {
                "id": "CLIENT-RETRY-AFTER",
                "status": "failed",
                "evidence": [{"exchange": 2, "reacted_to": {"exchange": 1}}],
            },
            {"id": "CLIENT-BEARER", "status": "passed"},
        ],
    }

    svg = timeline_svg(certificate)

    assert failure_exchanges(certificate) == {1, 2}
    assert [int(n) for n in re.findall(r'<text x="4" y="\d+"[^>]*>#(\d+)', svg)] == [0, 1, 2]
    assert svg.count('class="failure"') == 2
    assert "injected: rate_limited" in svg
    assert "9312b6d6…" in svg and "a3e8-4610" not in svg  # organization ids shortened
    # self-contained: no script, no link, no external resource of any kind
    assert not re.search(r"<script|href=|src=|url\(|@import", svg)


def test_a_certificate_without_a_timeline_draws_none():
    assert timeline_svg({"requirements": []}) == ""


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory) -> tuple[int, Path, str]:
    reports = tmp_path_factory.mktemp("timeline") / "reports"
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(
            [
                *("certify-client", "--reports-dir", str(reports), "--"),
                *(sys.executable, str(SYNC), "--defect", "ignore_retry_after"),
            ]
        )
    return code, reports, out.getvalue()


def test_a_failed_runs_certificate_holds_every_exchange_in_its_timeline(failed_run):
    code, reports, _ = failed_run
    cert = json.loads((reports / "certificate.json").read_text(encoding="utf-8"))
    html = (reports / "certificate.html").read_text(encoding="utf-8")

    assert code == 1
    assert [e["exchange"] for e in cert["timeline"]] == list(range(cert["counts"]["requests_sent"]))
    assert [e["at"] for e in cert["timeline"]] == sorted(e["at"] for e in cert["timeline"])
    assert "rate_limited" in {e["injection"] for e in cert["timeline"]}
    assert html.count("<svg") == 1 and 'id="timeline"' in html
    assert 'class="failure"' in html


def test_a_reactions_evidence_shows_the_injected_answer_first_and_the_measured_wait(failed_run):
    _, reports, _ = failed_run
    cert = json.loads((reports / "certificate.json").read_text(encoding="utf-8"))
    html = (reports / "certificate.html").read_text(encoding="utf-8")
    failure = next(r for r in cert["requirements"] if r["id"] == "CLIENT-RETRY-AFTER")
    evidence = failure["evidence"][0]

    keys = list(evidence)
    assert keys.index("reacted_to") < keys.index("request")
    assert evidence["reacted_to"]["response"]["status"] == 429
    waited = evidence["at_seconds"] - evidence["reacted_to"]["at_seconds"]
    assert 0 <= evidence["waited_seconds"] <= waited + 0.001
    first = html.index("1. The injected answer")
    second = html.index("2. The client's reaction")
    assert first < second
    assert f"{evidence['waited_seconds']} s later" in html


def test_the_console_ends_as_certifys_does(failed_run):
    _, reports, out = failed_run
    lines = out.strip().splitlines()

    assert re.search(r"^FAILED +CLIENT-RETRY-AFTER$", out, re.M)
    assert re.search(r"^PASSED +CLIENT-BEARER$", out, re.M)
    assert re.match(r"credly-contract: verdict not_certified: \d+ passed, 1 failed", lines[-2])
    assert lines[-1].startswith(f"credly-contract: certificate {reports / 'certificate.html'}")


def test_report_output_redraws_the_timeline_from_the_json_alone(failed_run, tmp_path, capsys):
    _, reports, _ = failed_run

    assert cli.main(["report", str(reports), "--output", str(tmp_path / "again")]) == 0
    redrawn = (tmp_path / "again" / "certificate.html").read_text(encoding="utf-8")
    original = (reports / "certificate.html").read_text(encoding="utf-8")
    svg = re.compile(r"<svg.*?</svg>", re.S)
    assert svg.search(redrawn)[0] == svg.search(original)[0]
