"""A run's artefacts for QA and CI: certificate.json, certificate.html and manifest.sha256 (next to
the junit.xml and allure-results/ that pytest writes), plus `credly-contract report DIR`."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from credly_contract.config import ConfigError
from credly_contract.report.certificate import build_certificate, render_html
from credly_contract.report.manifest import MANIFEST, sha256_file, verify_manifest, write_manifest
from credly_contract.report.waivers import Waiver, load_waivers
from credly_contract.results import FAILED, WAIVED, Results

__all__ = ["report_command", "write_run_artifacts"]

CERTIFICATE_JSON, CERTIFICATE_HTML = "certificate.json", "certificate.html"
EXIT_CONFIG = 2


def write_run_artifacts(config: Any, results: Results, run: Any) -> str:
    """Write the certificate (JSON, HTML) and, last, the manifest; returns the verdict."""
    if hasattr(config, "workerinput"):
        # An xdist worker: the controller, which sees every worker's reports, writes the artefacts.
        return results.verdict()
    run_dir = _run_dir(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    waivers: list[Waiver] = []
    if config.getoption("credly_waivers"):
        try:
            waivers = load_waivers(config.getoption("credly_waivers"))
        except ConfigError as error:
            results.error = results.error or f"configuration: {error}"
    certificate = build_certificate(
        results,
        run,
        profile=config.getoption("credly_profile"),
        waivers=waivers,
        finished_at=time.time(),
    )
    write_certificate(run_dir, certificate)
    link_latest(run_dir)
    return certificate["verdict"]


def _run_dir(config: Any) -> Path:
    chosen = config.getoption("credly_reports_dir")
    if chosen:
        return Path(chosen)
    from credly_contract.plugin import reports_dir  # the plugin owns the default folder's name

    return reports_dir(config)


def write_certificate(run_dir: Path, certificate: dict[str, Any]) -> None:
    (run_dir / CERTIFICATE_JSON).write_text(
        json.dumps(certificate, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (run_dir / CERTIFICATE_HTML).write_text(render_html(certificate), encoding="utf-8")
    write_manifest(run_dir)


def link_latest(run_dir: Path) -> None:
    """Point reports/latest at this run: a relative symlink, or a text file naming the run's folder
    where symlinks cannot be made (Windows without developer mode)."""
    run_dir = run_dir.absolute()
    if run_dir.parent.name != "reports":
        return
    latest = run_dir.parent / "latest"
    if latest.is_dir() and not latest.is_symlink():
        return  # someone's real folder: leave it alone
    staged = run_dir.parent / f".latest-{os.getpid()}"
    try:
        staged.unlink(missing_ok=True)
        staged.symlink_to(run_dir.name, target_is_directory=True)
        os.replace(staged, latest)
    except OSError:
        staged.unlink(missing_ok=True)
        if latest.is_symlink():
            latest.unlink()
        latest.write_text(run_dir.name + "\n", encoding="utf-8")


def resolve_run_dir(path: Path) -> Path:
    """A run folder, following a reports/latest text file left where symlinks are unavailable."""
    if path.is_file() and path.name == "latest":
        return path.parent / path.read_text(encoding="utf-8").strip()
    return path


def report_command(args: argparse.Namespace) -> int:
    """`credly-contract report DIR`: re-render certificate.html, rewrite the manifest, summarise."""
    run_dir = resolve_run_dir(Path(args.run_dir))
    source = run_dir / CERTIFICATE_JSON
    if not source.is_file():
        print(
            f"credly-contract: {run_dir} has no {CERTIFICATE_JSON}; pass a folder written by "
            "`credly-contract certify` (e.g. reports/latest)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    try:
        certificate = json.loads(source.read_text(encoding="utf-8"))
        html = render_html(certificate)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        print(
            f"credly-contract: {source} is not a certificate this version can render "
            f"({type(error).__name__}: {error})",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    changed = [p for p in verify_manifest(run_dir) if not p.startswith(CERTIFICATE_HTML)]
    if changed and (run_dir / MANIFEST).is_file():
        print(
            f"credly-contract: warning: {run_dir} no longer matches its {MANIFEST}:",
            file=sys.stderr,
        )
        for problem in changed:
            print(f"  {problem}", file=sys.stderr)
        print("  the manifest is rewritten for the files as they are now", file=sys.stderr)
    (run_dir / CERTIFICATE_HTML).write_text(html, encoding="utf-8")
    manifest = write_manifest(run_dir)
    print(summary(certificate))
    print(f"html:     {run_dir / CERTIFICATE_HTML}")
    print(f"manifest: {manifest} (sha256 {sha256_file(manifest)})")
    return 0


def summary(certificate: dict[str, Any]) -> str:
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
