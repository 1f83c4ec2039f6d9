"""The requirement catalogues as Python objects: the server's (suite/credly_contract/requirements.yaml)
and certify-client's (client_requirements.yaml), and the tests that prove each requirement, read from
their requirement markers (``checks.checked_by`` adds the checks: never written by hand)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from credly_contract.spec import read_package_yaml

CATALOGUE_PATH = Path(__file__).with_name("requirements.yaml")
CLIENT_CATALOGUE_PATH = Path(__file__).with_name("client_requirements.yaml")
LEVELS = ("MUST", "SHOULD")
# The test folders whose @pytest.mark.requirement markers say which tests prove what.
TEST_DIRS = (Path(__file__).with_name("certification"), Path(__file__).with_name("scenarios"))


@dataclass(frozen=True)
class Requirement:
    id: str
    level: str
    feature: str
    title: str
    source: str
    # Where a number had to be chosen: the reason it lets correct real-world clients through.
    threshold: str = ""


@dataclass(frozen=True)
class Catalogue:
    docs: str
    requirements: dict[str, Requirement]


@cache
def load(path: Path = CATALOGUE_PATH) -> Catalogue:
    """A catalogue file (the server's by default; certify-client has its own)."""
    raw = read_package_yaml(path)
    entries = {item["id"]: Requirement(**item) for item in raw["requirements"]}
    return Catalogue(raw["docs"], entries)


def requirements() -> dict[str, Requirement]:
    """Every requirement by id, in catalogue order."""
    return load().requirements


def client_requirements() -> dict[str, Requirement]:
    """certify-client's requirements by id, in catalogue order (client_requirements.yaml)."""
    return load(CLIENT_CATALOGUE_PATH).requirements


def builtin_ids() -> set[str]:
    """The ids credly-contract declares itself: the server catalogue's and certify-client's."""
    return set(requirements()) | set(client_requirements())


def docs_url() -> str:
    return load().docs


def get(requirement_id: str) -> Requirement:
    try:
        return requirements()[requirement_id]
    except KeyError:
        raise KeyError(
            f"{requirement_id} is not in suite/credly_contract/requirements.yaml"
        ) from None


def load_extra(path: Path) -> dict[str, Requirement]:
    """A team's own requirements (``--credly-requirements``), in requirements.yaml's format
    (``feature`` and ``level`` optional); raises ValueError naming the problem."""
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
        )
    return extra


def with_extra(path: str | Path | None) -> dict[str, Requirement]:
    """The catalogue a run judges: credly-contract's requirements and, when ``path`` names a file,
    a team's own (``load_extra``)."""
    return requirements() | (load_extra(Path(path)) if path else {})


def _marker_ids(decorator: ast.expr) -> list[str]:
    """The ids of a ``@pytest.mark.requirement("ID", ...)`` decorator (none for other decorators)."""
    if not isinstance(decorator, ast.Call):
        return []
    func = decorator.func
    if not (isinstance(func, ast.Attribute) and func.attr == "requirement"):
        return []
    return [
        a.value for a in decorator.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
    ]


@cache
def tests_by_requirement() -> dict[str, tuple[str, ...]]:
    """requirement id -> the tests marked as proving it ("folder/file.py::test_name"), read from the
    test files' source (no collection, so no target is needed)."""
    found: dict[str, list[str]] = {}
    for folder in TEST_DIRS:
        for path in sorted(folder.glob("test_*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for decorator in node.decorator_list:
                    for rid in _marker_ids(decorator):
                        found.setdefault(rid, []).append(f"{folder.name}/{path.name}::{node.name}")
    return {rid: tuple(dict.fromkeys(tests)) for rid, tests in found.items()}
