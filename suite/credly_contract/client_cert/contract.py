"""The contract seen from the client's side: which documented operation a request is, the scope the
contract gives it, and whether its parameters and body are valid against the contract's request schemas.
Everything is read from openapi/credly.yaml through ``credly_contract.spec``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema

from credly_contract import spec


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    scope: str
    paginated: bool  # takes the contract's page parameter: a list read page by page


@cache
def _routes() -> list[tuple[re.Pattern[str], Operation]]:
    routes = []
    for operation_id, operation in spec.operations().items():
        if not operation["scopes"]:
            continue  # the token endpoint: not an API operation
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(operation["path"]))
        scope = spec.required_scope(operation_id)
        routes.append(
            (
                re.compile(f"^{pattern}$"),
                Operation(
                    operation_id,
                    operation["method"],
                    operation["path"],
                    scope,
                    ("query", "page") in _parameters(operation_id),
                ),
            )
        )
    return routes


def match(method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
    """The documented operation a request (path relative to the API base) is, with its path values."""
    for pattern, operation in _routes():
        found = pattern.match(path)
        if found and operation.method == method.upper():
            return operation, found.groupdict()
    return None


def _resolve(item: dict[str, Any]) -> dict[str, Any]:
    ref = item.get("$ref")
    if not ref:
        return item
    node: Any = spec.document()
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    resolved: dict[str, Any] = node
    return resolved


@cache
def _parameters(operation_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(location, name) -> parameter object of an operation, path-level parameters included."""
    operation = spec.operations()[operation_id]
    item = spec.document()["paths"][operation["path"]]
    declared = item.get("parameters", []) + item[operation["method"].lower()].get("parameters", [])
    return {(p["in"], p["name"]): p for p in map(_resolve, declared)}


def _coerce(raw: str, schema: dict[str, Any]) -> Any:
    """A path or query value as the type its schema names (both arrive as text)."""
    types = schema.get("type")
    if types == "integer" and re.fullmatch(r"-?\d+", raw):
        return int(raw)
    return raw


def request_errors(
    operation: Operation,
    path_values: dict[str, str],
    query: dict[str, list[str]],
    body: Any,
    content_type: str,
) -> list[str]:
    """Every way a request breaks the contract's request schemas; empty when it is valid."""
    errors: list[str] = []
    parameters = _parameters(operation.operation_id)
    values = [("path", k, v) for k, v in path_values.items()]
    values += [("query", k, v[-1]) for k, v in query.items() if ("query", k) in parameters]
    for location, name, raw in values:
        schema = parameters[(location, name)].get("schema", {})
        value = _coerce(raw, schema)
        for error in jsonschema.Draft202012Validator(schema).iter_errors(value):
            errors.append(f"{location} parameter {name}={raw!r}: {error.message}")
    request_body = spec.document()["paths"][operation.path][operation.method.lower()].get(
        "requestBody"
    )
    if request_body is None:
        return errors
    media = request_body.get("content", {})
    if "application/json" in media and not content_type.startswith("application/json"):
        errors.append(
            f"the body is sent as {content_type or 'no content type'}, not application/json"
        )
        return errors
    ref = media["application/json"]["schema"]["$ref"]
    if body is None:
        errors.append("the body is missing or not JSON")
        return errors
    for error in sorted(spec.validator(ref).iter_errors(body), key=lambda e: list(e.path)):
        where = "/".join(map(str, error.path)) or "(root)"
        errors.append(f"body {where}: {error.message}")
    return errors
