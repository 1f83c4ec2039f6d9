"""A run's artefacts for QA and CI: certificate.json, certificate.html and manifest.sha256 (next to
the junit.xml and allure-results/ that pytest writes), the verdict lines the console ends with, and
`credly-contract report DIR`, which verifies a run folder before it renders it anywhere new."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from credly_contract.facts import ObservationKind, RunFacts
from credly_contract.report.certificate import Certificate, build_certificate, render_html
from credly_contract.report.folders import link_latest, resolve_run_dir, run_folder
from credly_contract.report.manifest import (
    MANIFEST,
    TOP_LEVEL_ARTEFACTS,
    sha256_file,
    write_manifest,
)
from credly_contract.report.verify import CERTIFICATE_JSON, ReportInvalid, verified_certificate
from credly_contract.report.waivers import Waiver, waived_line
from credly_contract.results import FAILED, NOT_RUN, PASSED, WAIVED, Results
from credly_contract.scrub import scrub
from credly_contract.verdict import ExitCode, Verdict

__all__ = [
    "link_latest",
    "report_command",
    "requirement_lines",
    "resolve_run_dir",
    "run_folder",
    "verdict_lines",
    "write_run_artifacts",
]

CERTIFICATE_HTML = "certificate.html"


def write_run_artifacts(
    run_dir: Path,
    results: Results,
    facts: RunFacts | None,
    *,
    profile: str,
    waivers: list[Waiver],
    sign_key: str | None = None,
    extra: Mapping[str, object] | None = None,
    files: Mapping[str, object] | None = None,
) -> Certificate:
    """Write the certificate (JSON, HTML) with the run's own ``extra`` keys, the ``files`` beside it
    (JSON, scrubbed) and, last, the manifest (signed into manifest.sig with ``sign_key``, a PEM
    file); returns the certificate."""
    run_dir.mkdir(parents=True, exist_ok=True)
    unlisted = set(files or {}) - set(TOP_LEVEL_ARTEFACTS)
    assert not unlisted, (
        f"{unlisted} would be written but not hashed: add it to TOP_LEVEL_ARTEFACTS"
    )
    for name, content in (files or {}).items():
        (run_dir / name).write_text(
            json.dumps(scrub(content), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    certificate = build_certificate(
        results, facts, profile=profile, waivers=waivers, finished_at=time.time()
    )
    certificate.update(scrub(dict(extra or {})))  # type: ignore[typeddict-item]
    write_certificate(run_dir, certificate)
    if sign_key:
        from credly_contract.report.signing import load_private_key, sign_manifest

        sign_manifest(run_dir, load_private_key(sign_key))
    link_latest(run_dir)
    return certificate


def write_certificate(run_dir: Path, certificate: Mapping[str, Any]) -> None:
    (run_dir / CERTIFICATE_JSON).write_text(
        json.dumps(certificate, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (run_dir / CERTIFICATE_HTML).write_text(render_html(certificate), encoding="utf-8")
    write_manifest(run_dir)


def requirement_lines(certificate: Mapping[str, Any]) -> list[str]:
    """The console's table, read from the certificate: one line per requirement (``PASSED   ID``,
    a not-run one with its reason, a waived failure as ``WAIVED <id> (reason, until <date>)``) and
    a line on what was not run; empty when no test was judged (a run stopped before its tests)."""
    entries = certificate["requirements"]
    if not any(entry["tests"] for entry in entries):
        return []
    lines, out_of_scope, not_run = [], 0, 0
    for entry in entries:
        status, rid = entry["status"], entry["id"]
        if status == WAIVED:
            lines.append(waived_line(rid, entry["waiver"]))
            continue
        why = ""
        if status == NOT_RUN:
            not_run += 1
            out_of_scope += not entry["in_scope"]
            why = f"  ({entry['reason']})" if entry["in_scope"] else "  (outside this run's scope)"
        lines.append(f"{status.upper():8} {rid}{why}")
    if out_of_scope and (scope := certificate.get("scope")):
        lines.append(
            f"credly-contract: {out_of_scope} requirement(s) are NOT_RUN because they are "
            f"outside this run's scope ({scope['why']}); {scope['full_run']}"
        )
    elif not_run:
        lines.append(
            f"credly-contract: {not_run} requirement(s) are NOT_RUN (the reason beside each): "
            "nothing in this run proved them; a certification needs every one"
        )
    return lines


def verdict_lines(certificate: Mapping[str, Any], run_dir: Path | None) -> list[str]:
    """The console's last lines: the verdict word, the counts and where the certificate is."""
    counts = certificate["counts"]["requirements"]
    total = sum(counts.values())
    verdict = Verdict(certificate["verdict"])
    tally = (
        f"{counts[PASSED]} passed, {counts[FAILED]} failed, {counts[NOT_RUN]} not run"
        + (f", {counts[WAIVED]} waived" if counts[WAIVED] else "")
        + f" of {total} requirements"
    )
    lines = [f"credly-contract: verdict {verdict.value}: {tally}"]
    if verdict is Verdict.PASSED_IN_SCOPE:
        in_scope = sum(r["in_scope"] for r in certificate["requirements"])
        # Certificates written before the scope was recorded were replays.
        scope = certificate.get("scope") or {
            "why": "the recordings do not prove them",
            "full_run": "`credly-contract certify` judges all of them",
        }
        lines.append(
            f"credly-contract: {in_scope} of {total} requirements are in this run's scope and all "
            f"held; the {total - in_scope} NOT_RUN are outside it ({scope['why']}): this is not a "
            f"certification; {scope['full_run']}"
        )
    for observation in certificate["observations"]:
        if observation.get("kind") == ObservationKind.RUN_ERROR:
            lines.append(f"credly-contract: {observation['error']}: {observation['detail']}")
    if run_dir is not None:
        lines.append(
            f"credly-contract: certificate {run_dir / CERTIFICATE_HTML} "
            f"({CERTIFICATE_JSON}, {MANIFEST} beside it)"
        )
    return lines


def report_command(args: argparse.Namespace) -> int:
    """`credly-contract report DIR [--output NEW]`: verify DIR (manifest, schema, arithmetic) and
    summarise it; with --output, render the certificate afresh into NEW. DIR is never written."""
    run_dir = resolve_run_dir(Path(args.run_dir))
    if not (run_dir / CERTIFICATE_JSON).is_file():
        print(
            f"credly-contract: {run_dir} has no {CERTIFICATE_JSON}; pass a folder written by "
            "`credly-contract certify` (e.g. reports/latest)",
            file=sys.stderr,
        )
        return ExitCode.CONFIG
    try:
        certificate = verified_certificate(run_dir)
        html = render_html(certificate)
    except ReportInvalid as error:
        print(f"credly-contract: report: {error}", file=sys.stderr)
        return ExitCode.REPORT_INVALID
    except Exception as error:  # a certificate that verifies but the template cannot render
        print(
            f"credly-contract: report: {run_dir / CERTIFICATE_JSON} cannot be rendered "
            f"({type(error).__name__}: {error})",
            file=sys.stderr,
        )
        return ExitCode.REPORT_INVALID
    public_key = getattr(args, "public_key", None)
    if public_key:
        from credly_contract.report.signing import (
            SignatureInvalid,
            load_public_key,
            verify_signature,
        )

        try:
            verify_signature(run_dir, load_public_key(public_key))
        except SignatureInvalid as error:
            print(f"credly-contract: report: {error}", file=sys.stderr)
            return ExitCode.REPORT_INVALID
    print(summary(certificate))
    print(f"verified: {run_dir / MANIFEST} (sha256 {sha256_file(run_dir / MANIFEST)})")
    if public_key:
        print(f"signed: {run_dir / 'manifest.sig'} verifies with {public_key}")
    output = getattr(args, "output", None)
    if output:
        target = Path(output)
        if target.resolve() == run_dir.resolve() or (target.exists() and any(target.iterdir())):
            print(
                f"credly-contract: report: --output {target} must be a new or empty folder "
                "(a run's own folder is never rewritten)",
                file=sys.stderr,
            )
            return ExitCode.CONFIG
        target.mkdir(parents=True, exist_ok=True)
        (target / CERTIFICATE_JSON).write_bytes((run_dir / CERTIFICATE_JSON).read_bytes())
        (target / CERTIFICATE_HTML).write_text(html, encoding="utf-8")
        manifest = write_manifest(target)
        print(f"rendered: {target / CERTIFICATE_HTML} (manifest {manifest})")
    for line in verdict_lines(certificate, run_dir):
        print(line)
    required = getattr(args, "require", None)
    if required and certificate["verdict"] != required:
        print(
            f"credly-contract: report: --require {required}: the verified verdict is "
            f"{certificate['verdict']}",
            file=sys.stderr,
        )
        return ExitCode.NOT_COMPLIANT
    return ExitCode.CERTIFIED


def summary(certificate: Mapping[str, Any]) -> str:
    """A few lines for a terminal: verdict, counts, the failed and waived requirement ids."""
    counts = certificate["counts"]
    target = certificate.get("target") or {}
    by_status: dict[str, list[str]] = {}
    for requirement in certificate["requirements"]:
        by_status.setdefault(requirement["status"], []).append(requirement["id"])
    lines = [
        f"verdict:  {certificate['verdict']}",
        f"target:   {target.get('kind', 'unknown')} {target.get('api_base_url', '')}".rstrip(),
        f"run:      profile {certificate['profile']}, {certificate.get('started_at') or '?'} to "
        f"{certificate.get('finished_at') or '?'}",
        "requirements: "
        + ", ".join(
            f"{n} {status.replace('_', ' ')}" for status, n in counts["requirements"].items()
        ),
        "tests:    "
        + ", ".join(f"{n} {name}" for name, n in counts["tests"].items())
        + f"; {counts['requests_sent']} requests sent",
        "failed:   " + (" ".join(by_status.get(FAILED, [])) or "none"),
    ]
    if by_status.get(WAIVED):
        lines.append("waived:   " + " ".join(by_status[WAIVED]))
    if certificate.get("observations"):
        lines.append(f"observations: {len(certificate['observations'])} (see the certificate)")
    return "\n".join(lines)
