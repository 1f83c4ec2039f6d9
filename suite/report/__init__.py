"""Run artefacts: certificate.json (and, later, HTML, manifest)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from suite import __version__, catalogue, spec
from suite.results import Results


def write_run_artifacts(config: Any, results: Results, run: Any) -> str:
    reports = Path(config.getoption("credly_reports_dir") or "reports")
    reports.mkdir(parents=True, exist_ok=True)
    verdict = results.verdict()
    requirements = []
    for rid, req in catalogue.requirements().items():
        outcome = results.outcomes[rid]
        requirements.append({
            "id": rid, "level": req.level, "title": req.title, "source": req.source,
            "status": outcome.status, "tests": outcome.tests, "failures": outcome.failures,
        })
    certificate = {
        "verdict": verdict,
        "target": run.target.public() if run else None,
        "suite_version": __version__,
        "spec_sha256": spec.spec_sha256(),
        "started_at": run.started_at if run else None,
        "finished_at": time.time(),
        "requirements": requirements,
        "observations": results.observations,
        "error": results.error,
    }
    (reports / "certificate.json").write_text(json.dumps(certificate, indent=2))
    return verdict
