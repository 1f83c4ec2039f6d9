"""The requirement catalogue (suite/requirements.yaml) as Python objects."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

CATALOGUE_PATH = Path(__file__).with_name("requirements.yaml")
LEVELS = ("MUST", "SHOULD")


@dataclass(frozen=True)
class Requirement:
    id: str
    level: str
    feature: str
    title: str
    source: str
    checked_by: str


@dataclass(frozen=True)
class Catalogue:
    docs: str
    requirements: dict[str, Requirement]


@cache
def load(path: Path = CATALOGUE_PATH) -> Catalogue:
    """A catalogue file (the server's by default; certify-client has its own)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = {item["id"]: Requirement(**item) for item in raw["requirements"]}
    return Catalogue(raw["docs"], entries)


def _load() -> tuple[str, dict[str, Requirement]]:
    catalogue = load()
    return catalogue.docs, catalogue.requirements


def requirements() -> dict[str, Requirement]:
    """Every requirement by id, in catalogue order."""
    return _load()[1]


def docs_url() -> str:
    return _load()[0]


def get(requirement_id: str) -> Requirement:
    try:
        return requirements()[requirement_id]
    except KeyError:
        raise KeyError(f"{requirement_id} is not in suite/requirements.yaml") from None
