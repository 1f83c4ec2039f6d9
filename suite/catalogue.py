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


def load_extra(path: Path) -> dict[str, Requirement]:
    """A team's own requirements (``--credly-requirements``), in requirements.yaml's format
    (``feature`` and ``checked_by`` optional); raises ValueError naming the problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"{path} cannot be read as YAML ({error})") from None
    items = raw.get("requirements") if isinstance(raw, dict) else None
    if not isinstance(items, list) or not items:
        raise ValueError(f"{path} has no 'requirements:' list")
    extra: dict[str, Requirement] = {}
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not all(
            isinstance(item.get(key), str) and item.get(key) for key in ("id", "title", "source")
        ):
            raise ValueError(f"{path}: requirement #{number} needs id, title and source")
        if item.get("level", "MUST") not in LEVELS:
            raise ValueError(f"{path}: {item['id']} level must be one of {', '.join(LEVELS)}")
        if item["id"] in requirements() or item["id"] in extra:
            raise ValueError(f"{path}: {item['id']} is already defined")
        extra[item["id"]] = Requirement(
            id=item["id"],
            level=item.get("level", "MUST"),
            feature=item.get("feature", "Team requirements"),
            title=item["title"],
            source=item["source"],
            checked_by=item.get("checked_by", ""),
        )
    return extra
