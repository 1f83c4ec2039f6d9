"""The contract, loaded once: openapi/credly.yaml and jsonschema validators built from its own schemas.

Every other module reads schemas, scopes and operations from here; no schema is written twice.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# openapi/credly.yaml, installed as package data of credly_contract.openapi (see pyproject.toml).
SPEC_PATH = Path(str(files("credly_contract.openapi") / "credly.yaml"))
_SPEC_URI = "urn:credly-contract:openapi"
# libyaml's parser where PyYAML was built with it (its wheels are): the contract parses in ~15 ms
# instead of ~160 ms with the pure-Python one, on every run and in every emulator.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_package_yaml(path: Path) -> Any:
    """A YAML file that ships with the package (the contract, the catalogues), safely loaded."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)


@cache
def document() -> dict[str, Any]:
    """The parsed OpenAPI document."""
    parsed: dict[str, Any] = read_package_yaml(SPEC_PATH)
    return parsed


def spec_sha256() -> str:
    return hashlib.sha256(SPEC_PATH.read_bytes()).hexdigest()


@cache
def _registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(document(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(_SPEC_URI, resource)
    return registry


def _format_checker() -> jsonschema.FormatChecker:
    checker: jsonschema.FormatChecker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    return checker


@cache
def validator(ref: str) -> jsonschema.Draft202012Validator:
    """A validator for a JSON pointer into the document, e.g. ``#/components/schemas/TokenResponse``."""
    return jsonschema.Draft202012Validator(
        {"$ref": _SPEC_URI + ref}, registry=_registry(), format_checker=_format_checker()
    )


def schema_validator(name: str) -> jsonschema.Draft202012Validator:
    return validator(f"#/components/schemas/{name}")


def schema_errors(name: str, instance: Any) -> list[str]:
    """Readable messages for every way ``instance`` breaks the named component schema."""
    errors = sorted(schema_validator(name).iter_errors(instance), key=lambda e: list(e.path))
    return [f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors]


def oauth_scopes() -> list[str]:
    """The ten documented scopes, in the documentation's order."""
    flows = document()["components"]["securitySchemes"]["oauth2"]["flows"]
    return list(flows["clientCredentials"]["scopes"])


@cache
def operations() -> dict[str, dict[str, Any]]:
    """operationId -> {method, path, scopes, requirement, request_schema, body_required, responses}: the scopes
    from the operation's oauth2 security requirement, the requirement id from its
    ``x-requirement``, the request body's component schema name (or None)."""
    found: dict[str, dict[str, Any]] = {}
    for path, item in document()["paths"].items():
        for method, op in item.items():
            if method in {"get", "put", "post", "delete", "patch"}:
                scopes = [s for req in op.get("security", []) for s in req.get("oauth2", [])]
                found[op["operationId"]] = {
                    "method": method.upper(),
                    "path": path,
                    "scopes": scopes,
                    "requirement": op.get("x-requirement"),
                    "request_schema": _request_schema(op),
                    "body_required": bool(op.get("requestBody", {}).get("required", False)),
                    "responses": op["responses"],
                }
    return found


def _request_schema(operation: dict[str, Any]) -> str | None:
    content = operation.get("requestBody", {}).get("content", {})
    for media in content.values():
        ref = media.get("schema", {}).get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            return str(ref.rsplit("/", 1)[-1])
    return None


def required_scope(operation_id: str) -> str:
    """The one scope an API operation needs, from its security requirement in the contract."""
    (scope,) = operations()[operation_id]["scopes"]
    return str(scope)


def api_operations() -> list[str]:
    """The operations that take a Bearer token (those with an oauth2 scope), in contract order."""
    return [op for op, details in operations().items() if details["scopes"]]


def server_path() -> str:
    """The path every API operation's own path sits under: the contract's servers' (``/v1``)."""
    (path,) = {urlsplit(str(server["url"])).path.rstrip("/") for server in document()["servers"]}
    return path


def token_path() -> str:
    """The token endpoint's path (on its own host): the client-credentials flow's ``tokenUrl``."""
    flows = document()["components"]["securitySchemes"]["oauth2"]["flows"]
    return urlsplit(str(flows["clientCredentials"]["tokenUrl"])).path


def data_path(operation_id: str, **values: str | int) -> str:
    """An API operation's path below the API base URL, with ``values`` filled in (``{name}`` kept
    for any not given): ``data_path("getOAuthApplication", organization_id="o")``."""
    path: str = operations()[operation_id]["path"]
    for name, value in values.items():
        path = path.replace("{" + name + "}", str(value))
    return path


def route(operation_id: str) -> str:
    """The path an operation is served at, as a template: the token endpoint's own, an API
    operation's under the servers' path (``/v1/organizations/{organization_id}/...``)."""
    if not operations()[operation_id]["scopes"]:
        return token_path()
    return server_path() + data_path(operation_id)


def application_operations() -> list[str]:
    """The operations on OAuth applications (their paths lie under ``oauth_applications``)."""
    return [op for op, details in operations().items() if "/oauth_applications" in details["path"]]


def api_scopes() -> list[str]:
    """Every scope some API operation needs: a token holding them all can call each operation."""
    return sorted({required_scope(op) for op in api_operations()})


def requirement_of(operation_id: str) -> str:
    """The requirement an undocumented answer of the operation breaks (its ``x-requirement``)."""
    requirement = operations()[operation_id]["requirement"]
    if not requirement:
        raise KeyError(f"operation {operation_id} has no x-requirement in openapi/credly.yaml")
    return str(requirement)


def response_schema_ref(operation_id: str, status: int) -> str | None:
    """JSON pointer of the documented JSON schema for a response, or None when there is no body."""
    responses = operations()[operation_id]["responses"]
    response = responses.get(str(status))
    if response is None:
        return None
    if "$ref" in response:
        response = document()["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    content = response.get("content", {}).get("application/json")
    if content is None:
        return None
    ref: str = content["schema"]["$ref"]
    return ref
