"""What checks a requirement is built from the code: the @check registry and the tests' requirement
markers; and each check counts the judgements it makes into the run's tally."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from credly_contract import catalogue
from credly_contract.checks import CheckFailed, Tally, built_ins, checked_by, registry, tallying
from credly_contract.checks.applications import delete_answers_204_without_body
from credly_contract.http_client import Exchange


def exchange(status: int, body: str = "") -> Exchange:
    return Exchange("DELETE", "http://127.0.0.1/v1/x", {}, None, status, {}, body)


def test_every_requirement_is_checked_by_some_registered_check_and_some_marked_test():
    for rid in catalogue.requirements():
        found = checked_by(rid)
        assert found["checks"], f"{rid} has no @check function"
        assert found["tests"], f"{rid} has no test marked with it"


def test_every_registered_check_proves_a_catalogued_requirement():
    assert {c.requirement for c in registry().values()} <= set(catalogue.requirements())


def test_the_catalogue_holds_no_hand_written_checked_by():
    raw = yaml.safe_load(catalogue.CATALOGUE_PATH.read_text(encoding="utf-8"))
    assert all("checked_by" not in entry for entry in raw["requirements"])


def test_the_tally_counts_each_judgement_and_each_failure_per_check():
    tally = Tally()
    with tallying(tally):
        delete_answers_204_without_body(exchange(204))
        delete_answers_204_without_body(exchange(204))
        with pytest.raises(CheckFailed):
            delete_answers_204_without_body(exchange(200, '{"data": {}}'))
    delete_answers_204_without_body(exchange(204))  # outside the run: not counted
    (entry,) = tally.by_requirement(registry())["APP-DELETE"]
    assert entry == {
        "check": "applications.delete_answers_204_without_body",
        "judged": 3,
        "failed": 1,
    }


class SchemaFailure:
    """Stands in for schemathesis's JsonSchemaError: only where in the answer it failed matters."""

    def __init__(self, *path: str | int) -> None:
        self.instance_path = list(path)


@pytest.mark.parametrize(
    ("check", "path", "operation_id", "status", "requirement"),
    [
        ("not_a_server_error", (), "listOAuthApplications", 500, "SEC-NO-5XX"),
        ("status_code_conformance", (), "createOAuthApplication", 200, "APP-CREATE"),
        ("content_type_conformance", (), "listOAuthApplications", 200, "APP-LIST"),
        ("response_schema_conformance", ("data", 0, "secret"), "listOAuthApplications", 200,
         "APP-SECRET-ONCE"),
        ("response_schema_conformance", ("data", "created_at"), "getOAuthApplication", 200,
         "APP-SCHEMA"),
        ("response_schema_conformance", ("metadata", "per"), "listIssuedBadges", 200, "PAGE-META"),
        ("response_schema_conformance", (), "listIssuedBadges", 200, "BADGES-LIST"),
        ("response_headers_conformance", (), "getOAuthApplication", 401, "BEARER-CHALLENGE"),
    ],
)  # fmt: skip
def test_built_in_schemathesis_failures_map_to_the_requirement_they_break(
    check, path, operation_id, status, requirement
):
    assert (
        built_ins.requirement_for(check, SchemaFailure(*path), operation_id, status) == requirement
    )
    assert requirement in {c.requirement for c in registry().values() if check in c.name}


def test_the_registry_is_the_same_whatever_was_imported_before():
    """The certificate's "checks" column reads the registry: it must not depend on which modules a
    process happened to import (schemathesis's integration, the plugin, certify-client's judges)."""
    import credly_contract.client_cert.command
    import credly_contract.plugin
    import credly_contract.st  # noqa: F401

    alone = subprocess.run(
        [sys.executable, "-c", _PRINT_REGISTRY], capture_output=True, text=True, check=True
    )
    assert json.loads(alone.stdout) == {n: c.requirement for n, c in registry().items()}


_PRINT_REGISTRY = """
import json
from credly_contract.checks import registry
print(json.dumps({n: c.requirement for n, c in registry().items()}))
"""
