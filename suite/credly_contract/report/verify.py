"""`credly-contract report DIR` checks a run folder before it renders anything: the manifest, the
certificate against its JSON Schema (shipped as certificate.schema.json), and the certificate's own
arithmetic (counts, ids, a verdict that follows from the statuses), and its agreement with the
folder's other artefacts (crosscheck.py)."""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from credly_contract import catalogue
from credly_contract.facts import ObservationKind
from credly_contract.report.crosscheck import crosscheck_problems
from credly_contract.report.manifest import MANIFEST, verify_manifest
from credly_contract.results import FAILED, NOT_RUN, PASSED, WAIVED

SCHEMA_PATH = Path(__file__).resolve().parent / "certificate.schema.json"
CERTIFICATE_JSON = "certificate.json"


class ReportInvalid(Exception):
    """The run folder does not verify; the message is one line saying what and where."""


@cache
def certificate_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def schema_problems(certificate: Any) -> list[str]:
    """Where ``certificate`` breaks certificate.schema.json, one line each."""
    validator = jsonschema.Draft202012Validator(certificate_schema())
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(top level)'}: {error.message}"
        for error in sorted(validator.iter_errors(certificate), key=lambda e: list(e.absolute_path))
    ]


def consistency_problems(certificate: dict[str, Any]) -> list[str]:
    """What in a schema-valid certificate does not add up."""
    problems = []
    requirements = certificate["requirements"]
    ids = Counter(r["id"] for r in requirements)
    problems += [f"requirement {rid} is listed {n} times" for rid, n in ids.items() if n > 1]
    builtin = _catalogue_of(certificate)
    problems += [
        f"requirement {r['id']} is not in credly-contract's catalogue"
        for r in requirements
        if r["declared_by"] == "credly-contract" and r["id"] not in builtin
    ]
    problems += [
        f"requirement {rid} of the catalogue is missing" for rid in builtin if rid not in ids
    ]
    counted = Counter(r["status"] for r in requirements)
    for status, number in certificate["counts"]["requirements"].items():
        if counted.get(status, 0) != number:
            problems.append(
                f"counts.requirements.{status} says {number}, the requirements list "
                f"{counted.get(status, 0)}"
            )
    expected = expected_verdict(certificate)
    if expected is not None and certificate["verdict"] != expected:
        problems.append(
            f"verdict {certificate['verdict']} does not follow from the statuses ({expected})"
        )
    return problems


def _catalogue_of(certificate: dict[str, Any]) -> dict[str, Any]:
    """The catalogue a certificate was judged by: the client one for `certify-client`'s."""
    if certificate.get("kind") == "client":
        return dict(catalogue.client_requirements())
    return dict(catalogue.requirements())


def expected_verdict(certificate: dict[str, Any]) -> str | None:
    """The verdict the statuses add up to; None for a run that ended in an error."""
    if certificate["verdict"] == "error":
        errors = [
            o for o in certificate["observations"] if o.get("kind") == ObservationKind.RUN_ERROR
        ]
        return None if errors else "not an error: no run_error observation"
    requirements = certificate["requirements"]
    broken = any(
        r["status"] == FAILED or (r["status"] == NOT_RUN and r["in_scope"]) for r in requirements
    )
    if broken:
        return "not_certified"
    if all(r["in_scope"] and r["status"] in (PASSED, WAIVED) for r in requirements):
        # A scoped run whose scope is everything is still not a certification.
        return (
            certificate["verdict"] if certificate["verdict"] == "passed_in_scope" else "certified"
        )
    return "passed_in_scope"


def verified_certificate(run_dir: Path) -> dict[str, Any]:
    """The run folder's certificate, once the manifest, the schema and the arithmetic all hold."""
    source = run_dir / CERTIFICATE_JSON
    if not (run_dir / MANIFEST).is_file():
        raise ReportInvalid(f"{run_dir / MANIFEST} is missing: nothing proves the files unchanged")
    changed = verify_manifest(run_dir)
    if changed:
        raise ReportInvalid(
            f"{run_dir} does not match its {MANIFEST}: {'; '.join(changed)} "
            "(the files were edited after the run; re-run the certification)"
        )
    try:
        certificate = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ReportInvalid(f"{source} cannot be read as JSON ({error})") from None
    problems = schema_problems(certificate)
    if not problems:
        problems = consistency_problems(certificate)
    if not problems:
        problems = crosscheck_problems(run_dir, certificate)
    if problems:
        raise ReportInvalid(f"{source} is not a consistent certificate: {'; '.join(problems)}")
    return certificate  # type: ignore[no-any-return]
