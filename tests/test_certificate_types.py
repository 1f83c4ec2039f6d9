"""The certificate's Python type and its JSON schema describe the same document: the TypedDicts
in report/certificate.py name exactly the keys certificate.schema.json names, required where the
schema requires them, and a certificate built from a run has those keys."""

from __future__ import annotations

from typing import Any

import pytest

from credly_contract.facts import ObservationKind
from credly_contract.report.certificate import (
    Certificate,
    Counts,
    RequirementEntry,
    build_certificate,
)
from credly_contract.report.verify import certificate_schema
from credly_contract.results import Results, Status


def keys_of(typed: Any) -> tuple[set[str], set[str]]:
    return set(typed.__required_keys__), set(typed.__optional_keys__)


@pytest.mark.parametrize(
    ("typed", "path"),
    [
        (Certificate, ()),
        (RequirementEntry, ("requirements", "items")),
        (Counts, ("counts",)),
    ],
)
def test_a_certificate_type_names_exactly_the_keys_of_its_schema(typed, path):
    schema = certificate_schema()
    for step in path:
        schema = schema["properties"][step] if step != "items" else schema["items"]
    required, optional = keys_of(typed)
    assert required == set(schema["required"]), typed.__name__
    assert required | optional == set(schema["properties"]), typed.__name__


def test_the_status_enum_is_the_schemas_status_enum():
    item = certificate_schema()["properties"]["requirements"]["items"]
    assert {s.value for s in Status} == set(item["properties"]["status"]["enum"])


def test_a_built_certificate_has_the_keys_of_its_type():
    certificate = build_certificate(Results(), None, profile="quick", waivers=[], finished_at=0.0)
    required, optional = keys_of(Certificate)
    assert required <= set(certificate) <= required | optional
    entry_required, entry_optional = keys_of(RequirementEntry)
    for entry in certificate["requirements"]:
        assert entry_required <= set(entry) <= entry_required | entry_optional
    assert certificate["observations"][0]["kind"] == ObservationKind.RUN_FACTS_MISSING
