"""manifest.sha256: the SHA-256 of every artefact of a run, in `sha256sum -c` format, so a
certificate handed to someone can be checked for changes (`sha256sum -c manifest.sha256` in DIR)."""

from __future__ import annotations

import hashlib
from pathlib import Path

MANIFEST = "manifest.sha256"
EXCHANGES = "exchanges.json"  # a client certification's recorded exchanges (certify-client)
TOP_LEVEL_ARTEFACTS = ("certificate.json", "certificate.html", "junit.xml", EXCHANGES)
ALLURE_RESULTS = "allure-results"


def artefacts(run_dir: Path) -> list[str]:
    """The run's artefacts that exist, as POSIX paths relative to ``run_dir``."""
    names = [name for name in TOP_LEVEL_ARTEFACTS if (run_dir / name).is_file()]
    allure = run_dir / ALLURE_RESULTS
    if allure.is_dir():
        names += sorted(p.relative_to(run_dir).as_posix() for p in allure.rglob("*") if p.is_file())
    return names


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(run_dir: Path) -> Path:
    """Hash every artefact; call it last, once nothing else will be written."""
    lines = [f"{sha256_file(run_dir / name)}  {name}\n" for name in artefacts(run_dir)]
    path = run_dir / MANIFEST
    path.write_text("".join(lines), encoding="utf-8")
    return path


def listed_files(run_dir: Path) -> list[str]:
    """The files the run folder's manifest lists (none when it has no readable manifest)."""
    path = run_dir / MANIFEST
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.partition("  ")[2] for line in lines if "  " in line]


def verify_manifest(run_dir: Path) -> list[str]:
    """Every way the run's files differ from its manifest; empty when they match."""
    path = run_dir / MANIFEST
    if not path.is_file():
        return [f"{MANIFEST} is missing"]
    listed: dict[str, str] = {}
    problems = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            problems.append(f"{MANIFEST} line {number} is not '<sha256>  <file>'")
            continue
        listed[name] = digest
    for name, digest in listed.items():
        file = run_dir / name
        if not file.is_file():
            problems.append(f"{name}: missing")
        elif sha256_file(file) != digest:
            problems.append(f"{name}: changed since the manifest was written")
    problems += [
        f"{name}: not in the manifest" for name in artefacts(run_dir) if name not in listed
    ]
    return problems
