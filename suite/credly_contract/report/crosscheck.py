"""What `report DIR` checks beyond the manifest and the certificate's own arithmetic: that the
certificate agrees with the other artefacts of its folder (junit.xml's counts, certificate.html's
verdict and counts) and that the folder holds nothing the manifest does not list. A certificate
edited to say "certified", its counts fixed and the manifest recomputed, still disagrees with
junit.xml and the page that were written beside it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from credly_contract.report.manifest import MANIFEST, listed_files

SIGNATURE = "manifest.sig"
# Written beside the artefacts and never hashed: the manifest itself, its signature, and the run's
# ledger (what it created, for `sweep`; appended to until cleanup ends).
UNHASHED = re.compile(rf"^(?:{re.escape(MANIFEST)}|{re.escape(SIGNATURE)}|ledger-[^/]+\.jsonl)$")
META = re.compile(r'<meta name="(credly-[a-z-]+)" content="([^"]*)">')


def html_facts(certificate: Mapping[str, Any]) -> dict[str, str]:
    """What certificate.html states in its <meta> tags, for `report` to compare."""
    counts = certificate["counts"]["requirements"]
    return {
        "credly-verdict": certificate["verdict"],
        "credly-requirements": " ".join(f"{status}={n}" for status, n in counts.items()),
    }


def crosscheck_problems(run_dir: Path, certificate: Mapping[str, Any]) -> list[str]:
    """Every way the folder's other artefacts disagree with its certificate, one line each."""
    problems = []
    tests = certificate["counts"]["tests"]
    if certificate["verdict"] == "certified" and tests.get("failed"):
        problems.append(f"the verdict is certified, yet counts.tests says {tests['failed']} failed")
    junit = run_dir / "junit.xml"
    if junit.is_file() and certificate["verdict"] != "error":
        # An interrupted run's junit.xml may lack the test in flight; any other must agree.
        problems += _junit_problems(junit, tests)
    html = run_dir / "certificate.html"
    if html.is_file():
        stated = dict(META.findall(html.read_text(encoding="utf-8", errors="replace")))
        for name, value in html_facts(certificate).items():
            if stated.get(name) != value:
                problems.append(
                    f"certificate.html says {name} {stated.get(name)!r}, certificate.json {value!r}"
                )
    listed = set(listed_files(run_dir))
    for entry in sorted(run_dir.iterdir()):
        name = entry.name
        if entry.is_dir():
            inside = [p.relative_to(run_dir).as_posix() for p in entry.rglob("*") if p.is_file()]
            problems += [f"{path}: not in the manifest" for path in inside if path not in listed]
        elif name not in listed and not UNHASHED.match(name):
            problems.append(f"{name}: not in the manifest")
    return problems


def _junit_problems(junit: Path, tests: dict[str, int]) -> list[str]:
    try:
        root = ElementTree.parse(junit).getroot()
    except (ElementTree.ParseError, OSError) as error:
        return [f"junit.xml cannot be read ({error})"]
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))

    def total(attribute: str) -> int:
        return sum(int(suite.get(attribute) or 0) for suite in suites)

    problems = []
    broken = total("failures") + total("errors")
    if broken != tests.get("failed", 0) + tests.get("error", 0):
        problems.append(
            f"junit.xml has {broken} failed or broken test(s), counts.tests "
            f"{tests.get('failed', 0) + tests.get('error', 0)}"
        )
    if total("tests") != sum(tests.values()):
        problems.append(f"junit.xml has {total('tests')} tests, counts.tests {sum(tests.values())}")
    return problems
