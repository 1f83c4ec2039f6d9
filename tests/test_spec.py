"""The contract itself: openapi/credly.yaml is valid, its examples fit its schemas, its schemas
bite, it states the documented facts, the documentation's own JSON examples fit it, and Redocly
lints it clean.

The documentation is read from ``openapi/credly-oauth-docs.txt``, the copy of Credly's page the
contract was written from, kept in the repository so that nothing here depends on a file outside it.
Schemas are never rewritten here: every check goes through ``credly_contract.spec.validator`` on a
JSON pointer into the document.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from credly_contract import spec

ROOT = Path(__file__).resolve().parents[1]
DOCS_PATH = ROOT / "openapi" / "credly-oauth-docs.txt"
# Where the project's shared workspace keeps the page, when there is one: the copy must not drift.
SHARED_DOCS_PATH = ROOT.parent / "shared" / "credly-oauth-docs.txt"
LINT_SCRIPT = ROOT / ".ci" / "lint-openapi"
LINT_TIMEOUT = 600  # seconds; the first run downloads the pinned Redocly CLI from the npm registry

DOCUMENTED_SCOPES = [
    "authorization_tokens",
    "badge_templates",
    "events",
    "invitations",
    "issued_badges",
    "memberships",
    "oauth_applications",
    "pathways",
    "recommendations",
    "workforce",
]
APPLICATION_OPERATIONS = [
    "listOAuthApplications",
    "createOAuthApplication",
    "getOAuthApplication",
    "updateOAuthApplication",
    "deleteOAuthApplication",
]
SUCCESS_CODES = {
    "listOAuthApplications": "200",
    "createOAuthApplication": "201",
    "getOAuthApplication": "200",
    "updateOAuthApplication": "200",
    "deleteOAuthApplication": "204",
    "listIssuedBadges": "200",
    "createAccessToken": "200",
}
# Docs section heading -> (operationId, success status, component schema, component example).
DOC_SECTIONS = {
    "Retrieving OAuth Applications": (
        "listOAuthApplications",
        200,
        "OAuthApplicationList",
        "ApplicationListDocumented",
    ),
    "Retrieving a single OAuth Application": (
        "getOAuthApplication",
        200,
        "OAuthApplicationEnvelope",
        "ApplicationDocumented",
    ),
    "Creating an OAuth Application": (
        "createOAuthApplication",
        201,
        "OAuthApplicationCreatedEnvelope",
        "ApplicationCreatedDocumented",
    ),
    "Updating an OAuth Application": (
        "updateOAuthApplication",
        200,
        "OAuthApplicationEnvelope",
        "ApplicationUpdatedDocumented",
    ),
    "Generating Access Tokens": ("createAccessToken", 200, "TokenResponse", "TokenDocumented"),
}
METADATA_FIELDS = [
    "count",
    "current_page",
    "total_count",
    "total_pages",
    "per",
    "previous_page_url",
    "next_page_url",
]


# --- helpers -----------------------------------------------------------------------------------


def pointer(*parts: str | int) -> str:
    """A URI-fragment JSON pointer (RFC 6901 escaping, then percent-encoding) into the document."""
    return "#" + "".join(
        "/" + quote(str(p).replace("~", "~0").replace("/", "~1"), safe="") for p in parts
    )


def resolve(ref: str) -> Any:
    """The node a local ``$ref`` (``#/a/b``) points at, following chained refs."""
    assert ref.startswith("#/"), f"only local refs are used in the contract, not {ref!r}"
    node: Any = spec.document()
    for raw in ref[2:].split("/"):
        node = node[raw.replace("~1", "/").replace("~0", "~")]
    return resolve(node["$ref"]) if isinstance(node, dict) and "$ref" in node else node


def example_value(example: dict[str, Any]) -> Any:
    if "$ref" in example:
        example = resolve(example["$ref"])
    assert "value" in example, "every example carries an inline value (no externalValue)"
    return example["value"]


def walk_examples(
    node: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[str, str, Any, str | None]]:
    """(example id, schema pointer, example value, example $ref) for every example in the document.

    Media type, parameter and header objects carry an ``examples`` map (and maybe ``example``)
    beside their ``schema``; JSON Schema objects carry an ``examples`` array that fits the schema
    itself.
    ``components/examples`` is not under a schema: its entries are reached through the $refs.
    """
    if isinstance(node, dict):
        examples = node.get("examples")
        if "schema" in node and isinstance(examples, dict):
            schema_ptr = pointer(*path, "schema")
            for name, example in examples.items():
                ref = example.get("$ref")
                yield (pointer(*path, "examples", name), schema_ptr, example_value(example), ref)
        if "schema" in node and "example" in node:
            yield (pointer(*path, "example"), pointer(*path, "schema"), node["example"], None)
        if isinstance(examples, list):
            for index, value in enumerate(examples):
                yield (pointer(*path, "examples", index), pointer(*path), value, None)
        for key, child in node.items():
            if path == ("components",) and key == "examples":
                continue
            yield from walk_examples(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from walk_examples(child, (*path, index))


def errors(schema_ptr: str, instance: Any) -> list[str]:
    found = spec.validator(schema_ptr).iter_errors(instance)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found]


def component_example(name: str) -> Any:
    return copy.deepcopy(spec.document()["components"]["examples"][name]["value"])


def schema_ptr(name: str) -> str:
    return pointer("components", "schemas", name)


def operation(operation_id: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(path, path item, operation object) of an operationId."""
    for path, item in spec.document()["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                assert method in {"get", "put", "post", "delete", "patch"}
                return path, item, op
    raise AssertionError(f"no operation {operation_id!r}")


# --- (a) the document is valid OpenAPI 3.1 -------------------------------------------------------


def test_document_is_valid_openapi_3_1() -> None:
    document = copy.deepcopy(spec.document())
    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_operation_ids_are_the_ones_other_code_uses() -> None:
    assert set(spec.operations()) == set(SUCCESS_CODES)


# --- (b) examples fit their schemas, and the schemas bite -----------------------------------------

EXAMPLES = list(walk_examples(spec.document()))


def test_examples_are_found_and_every_component_example_is_used() -> None:
    used = {ref for *_, ref in EXAMPLES if ref}
    components = {
        pointer("components", "examples", name)
        for name in spec.document()["components"]["examples"]
    }
    assert len(EXAMPLES) >= len(components) >= 5
    assert components <= used, f"component examples validated under no schema: {components - used}"


@pytest.mark.parametrize(
    ("example_id", "schema_pointer", "value"),
    [pytest.param(eid, sp, value, id=eid) for eid, sp, value, _ in EXAMPLES],
)
def test_example_fits_the_schema_it_sits_under(
    example_id: str, schema_pointer: str, value: Any
) -> None:
    assert errors(schema_pointer, value) == []


def test_create_example_secret_breaks_the_non_create_application_schema() -> None:
    created = component_example("ApplicationCreatedDocumented")
    assert isinstance(created["data"]["secret"], str)
    assert errors(schema_ptr("OAuthApplicationCreated"), created["data"]) == []
    problems = errors(schema_ptr("OAuthApplication"), created["data"])
    assert problems and all(p.startswith("secret:") for p in problems), problems
    assert errors(schema_ptr("OAuthApplicationEnvelope"), created)


def test_null_secret_breaks_the_create_schema() -> None:
    read = component_example("ApplicationDocumented")
    assert read["data"]["secret"] is None
    assert errors(schema_ptr("OAuthApplicationCreated"), read["data"])
    assert errors(schema_ptr("OAuthApplicationCreatedEnvelope"), read)


@pytest.mark.parametrize("field", METADATA_FIELDS)
def test_list_without_a_metadata_field_fails(field: str) -> None:
    listed = component_example("ApplicationListDocumented")
    assert set(METADATA_FIELDS) <= set(listed["metadata"])
    del listed["metadata"][field]
    assert errors(schema_ptr("OAuthApplicationList"), listed)
    assert errors(schema_ptr("PaginationMetadata"), listed["metadata"])


def test_list_without_metadata_fails() -> None:
    listed = component_example("ApplicationListDocumented")
    del listed["metadata"]
    assert errors(schema_ptr("OAuthApplicationList"), listed)


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("token_type", "mac"),
        ("expires_in", 0),
        ("expires_in", -1),
        ("expires_in", "7200"),
        ("access_token", ""),
    ],
)
def test_bad_token_response_fails(field: str, bad: Any) -> None:
    token = component_example("TokenDocumented")
    assert errors(schema_ptr("TokenResponse"), token) == []
    token[field] = bad
    problems = errors(schema_ptr("TokenResponse"), token)
    assert problems and all(p.startswith(f"{field}:") for p in problems), problems


def test_token_type_is_case_insensitive_bearer() -> None:
    token = component_example("TokenDocumented")
    for token_type in ("Bearer", "bearer", "BEARER"):
        token["token_type"] = token_type
        assert errors(schema_ptr("TokenResponse"), token) == []


def test_oauth_error_follows_rfc_6749_section_5_2() -> None:
    ptr = schema_ptr("OAuthError")
    assert errors(ptr, {"error": "invalid_client", "error_description": "Bad credentials"}) == []
    assert errors(ptr, {"error": "access_denied"}), "access_denied is not a §5.2 token error"
    assert errors(ptr, {"error_description": "no error code"})


def test_error_bodies_stay_permissive_but_a_credly_envelope_must_be_well_formed() -> None:
    ptr = schema_ptr("AnyErrorBody")
    for body in (None, "", "Unauthorized", [], {}, {"error": "invalid_token"}):
        assert errors(ptr, body) == [], body
    assert errors(ptr, {"data": {"message": "Not found"}, "metadata": {}}) == []
    assert errors(ptr, {"data": {"message": "Not found"}, "metadata": None}) == []
    assert errors(ptr, {"data": "Not found"})
    assert errors(ptr, {"data": {"message": 404}})


# --- (c) the documented facts ----------------------------------------------------------------


def test_servers_are_production_and_sandbox() -> None:
    urls = [server["url"] for server in spec.document()["servers"]]
    assert urls == ["https://api.credly.com/v1", "https://sandbox-api.credly.com/v1"]


def test_token_endpoint_has_its_own_operation_level_server() -> None:
    path, item, op = operation("createAccessToken")
    assert (path, spec.operations()["createAccessToken"]["method"]) == ("/oauth/token", "POST")
    assert [server["url"] for server in op.get("servers", [])] == ["https://www.credly.com"]
    assert "servers" not in item, "the server belongs to the operation, not the path item"
    flows = spec.document()["components"]["securitySchemes"]["oauth2"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "https://www.credly.com/oauth/token"


def _docs_text() -> str:
    return DOCS_PATH.read_text(encoding="utf-8")


def test_the_documentation_copy_is_in_the_repository_and_matches_the_shared_one() -> None:
    assert DOCS_PATH.is_file(), f"{DOCS_PATH} is missing"
    if SHARED_DOCS_PATH.is_file():
        assert _docs_text() == SHARED_DOCS_PATH.read_text(encoding="utf-8"), (
            f"{DOCS_PATH} drifted from {SHARED_DOCS_PATH}: copy it again and update the contract"
        )


def _documented_scopes() -> dict[str, str]:
    """Name -> description from the documentation's scope table."""
    text = _docs_text()
    table = text.split("OAuth Scopes", 1)[1].split("Generating Access Tokens", 1)[0]
    rows = re.findall(r"^([a-z_]+) \| (.+?) \|$", table, flags=re.MULTILINE)
    return dict(rows)


def test_oauth2_scheme_lists_exactly_the_ten_documented_scopes() -> None:
    scheme = spec.document()["components"]["securitySchemes"]["oauth2"]
    assert scheme["type"] == "oauth2" and list(scheme["flows"]) == ["clientCredentials"]
    scopes = scheme["flows"]["clientCredentials"]["scopes"]
    documented = _documented_scopes()
    assert list(documented) == DOCUMENTED_SCOPES, "the docs' scope table changed"
    assert scopes == documented
    assert list(scopes) == DOCUMENTED_SCOPES
    assert spec.oauth_scopes() == DOCUMENTED_SCOPES


def test_token_request_scope_pattern_accepts_only_documented_scopes() -> None:
    ptr = schema_ptr("TokenRequest")
    base = {"client_id": "id", "client_secret": "secret", "grant_type": "client_credentials"}
    assert errors(ptr, {**base, "scope": " ".join(DOCUMENTED_SCOPES)}) == []
    assert errors(ptr, {**base, "scope": "issued_badges"}) == []
    assert errors(ptr, {**base, "scope": "issued_badges admin"})
    assert errors(ptr, {**base, "scope": "issued_badges", "grant_type": "password"})
    for field in base:
        partial = {**base, "scope": "events"}
        del partial[field]
        assert errors(ptr, partial), field


@pytest.mark.parametrize("operation_id", APPLICATION_OPERATIONS)
def test_application_operations_require_the_oauth_applications_scope(operation_id: str) -> None:
    _, _, op = operation(operation_id)
    assert {"oauth2": ["oauth_applications"]} in op["security"]
    assert spec.required_scope(operation_id) == "oauth_applications"


def test_badges_operation_requires_the_issued_badges_scope() -> None:
    path, _, op = operation("listIssuedBadges")
    assert path == "/organizations/{organization_id}/badges"
    assert {"oauth2": ["issued_badges"]} in op["security"]
    assert spec.required_scope("listIssuedBadges") == "issued_badges"


def test_token_endpoint_needs_no_token() -> None:
    _, _, op = operation("createAccessToken")
    assert op["security"] == []


@pytest.mark.parametrize(("operation_id", "code"), sorted(SUCCESS_CODES.items()))
def test_success_code_is_exactly_the_documented_one(operation_id: str, code: str) -> None:
    responses = spec.operations()[operation_id]["responses"]
    assert [status for status in responses if status.startswith("2")] == [code]
    has_body = "content" in responses[code]
    assert has_body == (code != "204")


def test_every_operation_documents_client_errors() -> None:
    for operation_id, details in spec.operations().items():
        assert any(status.startswith("4") for status in details["responses"]), operation_id


def test_create_links_get_update_and_delete_by_the_new_id() -> None:
    links = spec.operations()["createOAuthApplication"]["responses"]["201"]["links"]
    targets = {link["operationId"]: link["parameters"] for link in links.values()}
    assert set(targets) == {
        "getOAuthApplication",
        "updateOAuthApplication",
        "deleteOAuthApplication",
    }
    for operation_id, parameters in targets.items():
        assert parameters["oauth_application_id"] == "$response.body#/data/id", operation_id
        assert parameters["organization_id"] == "$request.path.organization_id", operation_id
        target_path = spec.operations()[operation_id]["path"]
        assert "{oauth_application_id}" in target_path


def test_request_bodies_follow_the_documented_parameters() -> None:
    document = spec.document()["components"]["schemas"]
    assert document["OAuthApplicationCreate"]["required"] == ["name"]
    assert set(document["OAuthApplicationCreate"]["properties"]) == {"name", "description"}
    assert "required" not in document["OAuthApplicationUpdate"]
    assert set(document["OAuthApplicationUpdate"]["properties"]) == {"name", "description"}
    token_request = document["TokenRequest"]
    assert set(token_request["required"]) == {"client_id", "client_secret", "grant_type", "scope"}
    assert token_request["properties"]["grant_type"]["const"] == "client_credentials"
    _, _, op = operation("createAccessToken")
    assert list(op["requestBody"]["content"]) == ["application/x-www-form-urlencoded"]


# --- (d) the documentation's own JSON examples fit the contract -----------------------------------


@pytest.fixture(scope="module")
def documented_examples() -> dict[str, tuple[Any, str]]:
    """Section heading -> (parsed JSON block, the section's text) for each docs JSON block."""
    text = _docs_text()
    headings = [(m.start(), m.group(1)) for m in _heading_pattern().finditer(text)]
    assert [name for _, name in headings] == list(DOC_SECTIONS), "the docs' sections changed"
    decoder = json.JSONDecoder()
    found: dict[str, tuple[Any, str]] = {}
    position = 0
    while (start := text.find("\n{", position)) != -1:
        value, end = decoder.raw_decode(text, start + 1)
        section = max((h for h in headings if h[0] < start), default=None)
        assert section is not None, f"JSON block at offset {start} precedes every section"
        assert section[1] not in found, f"two JSON blocks in {section[1]!r}"
        found[section[1]] = (value, text[section[0] : start])
        position = end
    return found


def _heading_pattern() -> re.Pattern[str]:
    names = "|".join(re.escape(name) for name in DOC_SECTIONS)
    return re.compile(rf"^({names})$", flags=re.MULTILINE)


def test_docs_have_one_json_example_per_response_section(documented_examples) -> None:
    assert set(documented_examples) == set(DOC_SECTIONS)


@pytest.mark.parametrize("section", list(DOC_SECTIONS))
def test_documented_example_fits_the_operation_response_schema(
    section: str, documented_examples
) -> None:
    operation_id, status, component, _ = DOC_SECTIONS[section]
    value, _ = documented_examples[section]
    ref = spec.response_schema_ref(operation_id, status)
    assert ref == f"#/components/schemas/{component}"
    assert errors(ref, value) == []


@pytest.mark.parametrize("section", list(DOC_SECTIONS))
def test_documented_example_is_the_contract_example(section: str, documented_examples) -> None:
    operation_id, status, _, example = DOC_SECTIONS[section]
    value, _ = documented_examples[section]
    assert value == component_example(example)
    content = spec.operations()[operation_id]["responses"][str(status)]["content"]
    attached = content["application/json"]["examples"]["documented"]
    assert attached == {"$ref": f"#/components/examples/{example}"}


@pytest.mark.parametrize("section", [s for s in DOC_SECTIONS if s != "Generating Access Tokens"])
def test_documented_status_line_is_the_contract_success_code(
    section: str, documented_examples
) -> None:
    operation_id, status, _, _ = DOC_SECTIONS[section]
    _, section_text = documented_examples[section]
    documented = re.findall(r"^Response\n(\d{3}) ", section_text, flags=re.MULTILINE)
    assert documented == [str(status)]
    assert SUCCESS_CODES[operation_id] == str(status)


def test_documented_delete_is_204() -> None:
    text = _docs_text()
    section = text.split("Deleting an OAuth Application", 1)[1].split("OAuth Scopes", 1)[0]
    assert re.findall(r"^Response\n(\d{3}) ", section, flags=re.MULTILINE) == ["204"]
    assert SUCCESS_CODES["deleteOAuthApplication"] == "204"


# --- Redocly lint --------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("npx") is None, reason="npx (Node.js) is not on PATH")
def test_redocly_lint_passes_with_no_problems() -> None:
    result = subprocess.run(
        ["bash", str(LINT_SCRIPT), "--format=json"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=LINT_TIMEOUT,
        check=False,
    )
    output = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, output
    start = result.stdout.find("{")
    assert start != -1, output
    report, _ = json.JSONDecoder().raw_decode(result.stdout, start)
    assert report["totals"] == {"errors": 0, "warnings": 0, "ignored": 0}, output
