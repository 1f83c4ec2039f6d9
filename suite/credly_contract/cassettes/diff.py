"""`credly-contract cassettes diff A B`: the drift between two recordings of the scenarios, request
by request, by shape (fields, types, statuses, headers and values with OAuth or paging meaning);
ids, timestamps and placeholders are not compared."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from vcr.serializers import yamlserializer

from credly_contract.cassettes.target_file import METADATA_FILE, load_metadata
from credly_contract.config import ConfigError
from credly_contract.verdict import ExitCode

# Values worth comparing even though values in general are not: they carry OAuth and paging meaning.
SEMANTIC_FIELDS = ("error", "token_type", "scope", "per", "current_page")
SIGNIFICANT_HEADERS = ("content-type", "cache-control", "pragma", "www-authenticate")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def body_shape(
    value: Any, path: str = "", into: dict[str, set[str]] | None = None
) -> dict[str, set[str]]:
    """Every field path of a JSON body with the types seen there (list items merged under [])."""
    shape: dict[str, set[str]] = {} if into is None else into
    shape.setdefault(path or "(body)", set()).add(_json_type(value))
    if isinstance(value, dict):
        for key, item in value.items():
            body_shape(item, f"{path}.{key}" if path else str(key), shape)
    elif isinstance(value, list):
        for item in value:
            body_shape(item, f"{path}[]", shape)
    return shape


def _semantic_values(value: Any, path: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if key in SEMANTIC_FIELDS and not isinstance(item, dict | list):
                found[where] = item
            found.update(_semantic_values(item, where))
    return found


@dataclass
class Recording:
    folder: Path
    metadata: dict[str, Any]
    cassettes: dict[str, list[dict[str, Any]]]

    @classmethod
    def load(cls, folder: Path) -> Recording:
        if not folder.is_dir():
            raise ConfigError(f"{folder} is not a folder of cassettes")
        metadata = load_metadata(folder)
        cassettes = {}
        for path in sorted(folder.glob("*.yaml")):
            if path.name == METADATA_FILE:
                continue
            data = yamlserializer.deserialize(path.read_text(encoding="utf-8"))
            cassettes[path.stem] = data.get("interactions", []) if isinstance(data, dict) else []
        return cls(folder, metadata, cassettes)

    def operation(self, request: dict[str, Any]) -> str:
        """A request as its shape: method and path with the organization and ids as {names}."""
        uri = request["uri"]
        path, _, query = uri.partition("?")
        if path.startswith(self.metadata["token_url"]):
            shape = "{token_url}"
        else:
            shape = path.removeprefix(self.metadata["api_base_url"])
            shape = shape.replace(str(self.metadata["organization_id"]), "{organization_id}")
            shape = "/".join("{id}" if part.isdigit() else part for part in shape.split("/"))
        keys = sorted({k for k, _ in parse_qsl(query, keep_blank_values=True)})
        return f"{request['method']} {shape}" + (f"?{'&'.join(keys)}" if keys else "")


def _headers(response: dict[str, Any]) -> dict[str, str]:
    found = {}
    for name, values in response.get("headers", {}).items():
        if name.lower() in SIGNIFICANT_HEADERS:
            value = values[0] if isinstance(values, list) and values else str(values)
            found[name.lower()] = (
                value.split(";")[0].strip() if name.lower() == "content-type" else value
            )
    return found


def _parsed(response: dict[str, Any]) -> Any:
    text = response.get("body", {}).get("string") or ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _header_changes(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    changes = []
    ha, hb = _headers(a), _headers(b)
    for name in sorted(set(ha) | set(hb)):
        if name not in hb:
            changes.append(f"header removed: {name}")
        elif name not in ha:
            changes.append(f"header added: {name}")
        elif name in ("content-type", "cache-control") and ha[name] != hb[name]:
            changes.append(f"header {name}: {ha[name]!r} -> {hb[name]!r}")
    return changes


def _body_changes(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    ba, bb = _parsed(a), _parsed(b)
    changes = []
    if (ba is None) != (bb is None):
        changes.append("body: " + ("empty -> present" if ba is None else "present -> empty"))
    sa = body_shape(ba) if ba is not None else {}
    sb = body_shape(bb) if bb is not None else {}
    for where in sorted((set(sa) | set(sb)) - ({"(body)"} if changes else set())):
        if where not in sb:
            changes.append(f"field removed: {where} ({'/'.join(sorted(sa[where]))})")
        elif where not in sa:
            changes.append(f"field added: {where} ({'/'.join(sorted(sb[where]))})")
        elif sa[where] != sb[where]:
            changes.append(f"type changed: {where} {'/'.join(sorted(sa[where]))} -> "
                           f"{'/'.join(sorted(sb[where]))}")  # fmt: skip
    va, vb = _semantic_values(ba), _semantic_values(bb)
    for where in sorted(set(va) & set(vb)):
        if va[where] != vb[where]:
            changes.append(f"value changed: {where} {va[where]!r} -> {vb[where]!r}")
    return changes


def interaction_changes(
    a: Recording, b: Recording, first: list[dict[str, Any]], second: list[dict[str, Any]]
) -> list[str]:
    """What changed between two recordings of one scenario, request by request (values ignored)."""
    changes = []
    if len(first) != len(second):
        changes.append(f"{len(first)} requests in A, {len(second)} in B")
    for number, (x, y) in enumerate(zip(first, second, strict=False), start=1):
        op_a, op_b = a.operation(x["request"]), b.operation(y["request"])
        label = f"#{number} {op_a}"
        if op_a != op_b:
            changes.append(f"{label}: B sent {op_b} instead; the stories diverge here")
            break
        status_a, status_b = x["response"]["status"]["code"], y["response"]["status"]["code"]
        found = [f"status {status_a} -> {status_b}"] if status_a != status_b else []
        found += _header_changes(x["response"], y["response"])
        found += _body_changes(x["response"], y["response"])
        changes += [f"{label}: {change}" for change in found]
    return changes


def diff_recordings(first: Path, second: Path) -> list[str]:
    """Readable drift between two folders of cassettes; empty when they are equivalent."""
    a, b = Recording.load(first), Recording.load(second)
    lines = []
    for name in sorted(set(a.cassettes) | set(b.cassettes)):
        if name not in b.cassettes:
            lines.append(f"{name}: only in A")
            continue
        if name not in a.cassettes:
            lines.append(f"{name}: only in B")
            continue
        changes = interaction_changes(a, b, a.cassettes[name], b.cassettes[name])
        lines += [f"{name}: {change}" for change in changes]
    return lines


def diff_command(args: argparse.Namespace) -> int:
    """`credly-contract cassettes diff A B`: 0 when the recordings are equivalent, 1 on drift."""
    if getattr(args, "cassettes_command", None) != "diff":
        raise ConfigError("usage: credly-contract cassettes diff A B")
    lines = diff_recordings(Path(args.a), Path(args.b))
    for line in lines:
        print(line)
    if not lines:
        print(f"{args.a} and {args.b} are equivalent (values such as ids, timestamps and "
              "placeholders are not compared)")  # fmt: skip
        return ExitCode.CERTIFIED
    return ExitCode.NOT_COMPLIANT
