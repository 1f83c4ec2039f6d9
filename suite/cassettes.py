"""Recorded cassette scenarios: vcrpy cassettes of suite/scenarios, one YAML file per scenario under
cassettes/<target-name>/, scrubbed by credly_contract.scrub before anything is written; and the `record`,
`certify --target replay` and `cassettes diff` commands.

A folder holds the scenario cassettes, ``preflight.yaml`` (the run's opening requests) and
``target.yaml``: the target's public URLs, credential placeholders and the run id, from which a
replay rebuilds exactly the requests that were recorded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import vcr
import yaml
from vcr.errors import CannotOverwriteExistingCassetteException, UnhandledHTTPRequestError
from vcr.serializers import yamlserializer

from credly_contract import __version__, spec
from credly_contract.config import (
    ENVIRONMENT,
    ConfigError,
    Target,
    TargetUnreachable,
    guard_production,
    live_target,
)
from credly_contract.scrub import register, reserve, scrub

SCENARIOS_DIR = Path(__file__).resolve().parent / "scenarios"
CASSETTES_ROOT = Path("cassettes")
EMULATOR_FOLDER = "emulator"
METADATA_FILE = "target.yaml"
PREFLIGHT = "preflight"
# An emulated recording is made reproducible: the emulator's loopback origin is written as this
# placeholder, and the organization and run id are fixed, so re-recording changes only timestamps.
EMULATOR_ORIGIN = "http://emulator.invalid"
EMULATOR_ORGANIZATION_ID = "00000000-0000-4000-8000-00000000c0de"
EMULATOR_RUN_ID = "recorded"

MATCH_ON = ("method", "scheme", "host", "port", "path", "query", "body", "authorization")
KEPT_REQUEST_HEADERS = ("authorization", "content-type", "accept")
# Date changes on every call and cookies may carry sessions: neither is evidence of a rule.
DROPPED_RESPONSE_HEADERS = {"date", "set-cookie"}
EXIT_CERTIFIED, EXIT_NOT_COMPLIANT, EXIT_CONFIG, EXIT_UNREACHABLE = 0, 1, 2, 3


class CassetteMismatch(TargetUnreachable):
    """A replayed request is not in its cassette: the scenario or the suite changed since then."""


# What vcrpy raises for a request the cassette cannot answer (absent, or already played).
NOT_IN_CASSETTE = (CannotOverwriteExistingCassetteException, UnhandledHTTPRequestError)


# --- the cassette session used by suite/scenarios/conftest.py -------------------------------------


def _serialize(cassette: dict[str, Any]) -> str:
    # Request before response, headers as sent: easier to read than vcrpy's sorted keys.
    return yaml.dump(
        cassette, Dumper=yamlserializer._CassetteDumper, sort_keys=False, allow_unicode=True
    )


class _Serializer:
    serialize = staticmethod(_serialize)
    deserialize = staticmethod(yamlserializer.deserialize)


def authorization(r1: Any, r2: Any) -> None:
    """vcrpy matcher: the (scrubbed) bearer is the recorded one, or a wrong token goes unseen."""
    first, second = r1.headers.get("authorization"), r2.headers.get("authorization")
    if first != second:
        raise AssertionError(f"authorization {first!r} != {second!r}")


def normalized_body(body: bytes | str | None, content_type: str | None) -> bytes | None:
    """A request body scrubbed and put in one canonical form, so a recorded and a replayed request
    compare equal exactly when they carry the same (scrubbed) values."""
    if body is None or body == b"" or body == "":
        return None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        pairs = [(k, scrub({k: v})[k]) for k, v in parse_qsl(text, keep_blank_values=True)]
        return urlencode(pairs, safe="<>").encode()
    if media.endswith("json"):
        try:
            return json.dumps(scrub(json.loads(text)), ensure_ascii=False).encode()
        except ValueError:
            pass
    return scrub(text).encode()


@dataclass
class Cassettes:
    """How a scenario session uses cassettes: "record" into a folder, "replay" one, or "off"."""

    mode: str
    folder: Path | None
    target: Callable[[], Target | None] = field(repr=False, default=lambda: None)
    _aliases: dict[str, str] | None = field(default=None, repr=False)

    @classmethod
    def for_options(
        cls, kind: str, cassettes_dir: str | None, target: Callable[[], Target | None]
    ) -> Cassettes:
        if kind == "replay":
            folder = replay_folder(cassettes_dir)
            for path in folder.glob("*.yaml"):
                reserve(path.read_text(encoding="utf-8"))
            return cls("replay", folder, target)
        if cassettes_dir:
            return cls("record", Path(cassettes_dir), target)
        return cls("off", None, target)

    # -- vcrpy -------------------------------------------------------------------------------------

    def _vcr(self) -> vcr.VCR:
        recorder = vcr.VCR(
            serializer="credly-yaml",
            record_mode="none" if self.mode == "replay" else "all",
            match_on=MATCH_ON,
            before_record_request=self.before_record_request,
            before_record_response=self.before_record_response,
            decode_compressed_response=True,
        )
        recorder.register_serializer("credly-yaml", _Serializer())
        recorder.register_matcher("authorization", authorization)
        return recorder

    @contextlib.contextmanager
    def use(self, name: str) -> Iterator[None]:
        """Record or replay every request of the block in ``<folder>/<name>.yaml``."""
        if self.mode == "off" or self.folder is None:
            yield
            return
        path = self.folder / f"{name}.yaml"
        if self.mode == "replay" and not path.is_file():
            raise CassetteMismatch(
                f"{path} does not exist: record the scenarios with `credly-contract record` "
                "(or point --cassettes-dir at a folder that holds them)"
            )
        with self._vcr().use_cassette(str(path)):
            yield

    def _learn_target(self) -> dict[str, str]:
        """Register the bootstrap credentials first (stable placeholder numbers); origin aliases."""
        if self._aliases is None:
            target = self.target()
            if target is None:
                return {}
            register(target.client_id, "CLIENT_ID")
            register(target.client_secret, "CLIENT_SECRET")
            self._aliases = {}
            if target.kind == "emulated":
                for url in (target.api_base_url, target.token_url):
                    parts = urlsplit(url)
                    self._aliases[f"{parts.scheme}://{parts.netloc}"] = EMULATOR_ORIGIN
        return self._aliases

    def stable(self, text: str) -> str:
        for real, placeholder in self._learn_target().items():
            text = text.replace(real, placeholder)
        return text

    def before_record_request(self, request: Any) -> Any:
        """Scrub and normalise a request; vcrpy applies it to recorded and replayed ones alike."""
        request.uri = self.stable(scrub(request.uri))
        headers = {k.lower(): v for k, v in request.headers.items()}
        kept = {name: headers[name] for name in KEPT_REQUEST_HEADERS if name in headers}
        if "authorization" in kept:
            kept["authorization"] = scrub({"authorization": kept["authorization"]})["authorization"]
        request.headers = kept
        body = normalized_body(request.body, kept.get("content-type"))
        request.body = self.stable(body.decode()).encode() if body is not None else None
        return request

    def before_record_response(self, response: dict[str, Any]) -> dict[str, Any]:
        body = response["body"]["string"]
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
        _register_created_client_id(text)
        text = self.stable(scrub(text))
        headers = {
            name: [self.stable(scrub(value)) for value in values]
            for name, values in response["headers"].items()
            if name.lower() not in DROPPED_RESPONSE_HEADERS
        }
        for name in headers:
            if name.lower() == "content-length":
                headers[name] = [str(len(text.encode()))]
        response["headers"] = headers
        response["body"]["string"] = text.encode()
        return response

    # -- the session -------------------------------------------------------------------------------

    def started(self, run: Any) -> None:
        """Record mode: write target.yaml once the run (and its target) exists."""
        if self.mode == "record" and self.folder is not None:
            write_metadata(self.folder, run, self.stable)

    def leftovers_forgotten(self, ledger: Any) -> None:
        """A replay created nothing real: forget what a stopped scenario left in the ledger."""
        for entry in ledger.outstanding():
            ledger.deleted(entry["organization_id"], entry["application_id"])


def _register_created_client_id(text: str) -> None:
    # A create response pairs a new uid with its secret; the uid reappears in token requests.
    try:
        body = json.loads(text)
    except ValueError:
        return
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, dict) and isinstance(data.get("secret"), str):
        register(data.get("uid"), "CLIENT_ID")


def explain_mismatch(error: Exception) -> CassetteMismatch:
    """A vcrpy refusal as one readable error naming the cassette, the request and the fix."""
    # vcrpy's own advice is about its record modes; ours is to re-record.
    text = str(error).split("How to fix:")[0].strip()
    return CassetteMismatch(
        f"replay: {scrub(text)}\nthe request differs from the recording: the scenario, the suite "
        "or the cassette changed; re-record with `credly-contract record` (or restore the cassette)"
    )


# --- target.yaml ----------------------------------------------------------------------------------


def write_metadata(folder: Path, run: Any, stable: Callable[[str], str]) -> Path:
    target: Target = run.target
    folder.mkdir(parents=True, exist_ok=True)
    metadata = {
        "recorded_from": target.kind,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "suite_version": __version__,
        "spec_sha256": spec.spec_sha256(),
        "run_id": run.run_id,
        "api_base_url": stable(target.api_base_url),
        "token_url": stable(target.token_url),
        "organization_id": target.organization_id,
        "foreign_organization_id": target.foreign_organization_id,
        # Placeholders, as the cassettes show them: a replay sends these and matches the recording.
        "client_id": register(target.client_id, "CLIENT_ID"),
        "client_secret": scrub({"client_secret": target.client_secret})["client_secret"],
    }
    path = folder / METADATA_FILE
    header = (
        "# The recorded target's public description; credentials are placeholders.\n"
        "# Re-record with `credly-contract record`; replay with "
        "`credly-contract certify --target replay`.\n"
    )
    path.write_text(header + yaml.safe_dump(metadata, sort_keys=False), encoding="utf-8")
    return path


def load_metadata(folder: Path) -> dict[str, Any]:
    path = folder / METADATA_FILE
    if not path.is_file():
        raise ConfigError(
            f"{folder} holds no recording ({METADATA_FILE} is missing): record one with "
            f"`credly-contract record --cassettes-dir {folder}` or pass --cassettes-dir"
        )
    try:
        metadata = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(
            f"{path} is not YAML ({error}); re-record it with `credly-contract record`"
        ) from None
    needed = (
        "api_base_url",
        "token_url",
        "organization_id",
        "client_id",
        "client_secret",
        "run_id",
    )
    missing = [key for key in needed if not isinstance(metadata, dict) or not metadata.get(key)]
    if missing:
        raise ConfigError(
            f"{path} lacks {', '.join(missing)}; re-record it with `credly-contract record`"
        )
    return metadata


def replay_folder(cassettes_dir: str | None) -> Path:
    return Path(cassettes_dir) if cassettes_dir else CASSETTES_ROOT / EMULATOR_FOLDER


def replay_target(cassettes_dir: str | None) -> tuple[Target, str]:
    """The target a recording was made against (URLs, placeholder credentials) and its run id."""
    metadata = load_metadata(replay_folder(cassettes_dir))
    target = Target(
        kind="replay",
        api_base_url=metadata["api_base_url"],
        token_url=metadata["token_url"],
        organization_id=str(metadata["organization_id"]),
        client_id=metadata["client_id"],
        client_secret=metadata["client_secret"],
        foreign_organization_id=metadata.get("foreign_organization_id"),
    )
    return target, str(metadata["run_id"])


# --- commands -------------------------------------------------------------------------------------


def _scenario_options(kind: str, reports_dir: str | None, verbose: bool = False) -> list[str]:
    from credly_contract import plugin

    reports = plugin.reports_dir_for(reports_dir)
    return [
        str(SCENARIOS_DIR),
        "-c", str(SCENARIOS_DIR / "pytest.ini"),
        "--rootdir", str(SCENARIOS_DIR),
        "--credly-target", kind,
        "--credly-reports-dir", str(reports),
        "--junitxml", str(reports / "junit.xml"),
        "-q" if not verbose else "-v",
        "--tb=line" if not verbose else "--tb=short",
        "-W", "ignore",
    ]  # fmt: skip


def _run_scenarios(options: list[str]) -> int:
    """Run the scenarios; the exit code says whether the requirements they prove held.

    The plugin's certificate judges the whole catalogue, so a scenario run (which proves a part of
    it) is never "certified" there; the exit code reflects the requirements the scenarios ran.
    """
    import pytest

    from credly_contract import plugin
    from credly_contract.results import FAILED, NOT_RUN

    code = int(pytest.main(options))
    results = plugin.LAST_RESULTS[0] if plugin.LAST_RESULTS else None
    if results is not None and results.error:
        print(f"credly-contract: {scrub(results.error)}", file=sys.stderr)
    if results is None or results.error or code not in (EXIT_CERTIFIED, EXIT_NOT_COMPLIANT):
        return plugin.exit_code(code)
    ran = {rid: o.status for rid, o in results.outcomes.items() if o.tests or o.failures}
    if not ran:
        return EXIT_CONFIG
    failed = sorted(rid for rid, status in ran.items() if status in (FAILED, NOT_RUN))
    return EXIT_NOT_COMPLIANT if failed else EXIT_CERTIFIED


def replay(args: argparse.Namespace) -> int:
    """`credly-contract certify --target replay [--cassettes-dir DIR]`: the scenarios, offline."""
    folder = replay_folder(getattr(args, "cassettes_dir", None))
    load_metadata(folder)  # a missing or broken folder is a configuration error, before pytest
    options = _scenario_options(
        "replay", getattr(args, "reports_dir", None), getattr(args, "verbose", False)
    )
    options += ["--credly-cassettes-dir", str(folder)]
    return _run_scenarios(options)


def default_folder(kind: str, target: Target | None) -> Path:
    if kind == "emulated" or target is None:
        return CASSETTES_ROOT / EMULATOR_FOLDER
    return CASSETTES_ROOT / (urlsplit(target.api_base_url).hostname or "live")


def record(args: argparse.Namespace) -> int:
    """`credly-contract record [--target emulated|live] [--cassettes-dir DIR]`: all scenarios anew.

    The recording goes to a sibling folder first and replaces DIR only when every scenario ran, so a
    broken target never destroys the cassettes that were there.
    """
    kind = args.target
    options_target: list[str] = []
    target = None
    if kind == "live":
        overrides = {key: getattr(args, key, None) for key in ENVIRONMENT}
        target = live_target(overrides)
        try:
            guard_production(target, allow_production=False, read_only=True)
        except ConfigError:
            raise ConfigError(
                f"refusing to record against production ({', '.join(sorted(target.hosts()))}): "
                "the scenarios create and delete applications; record a staging target instead"
            ) from None
        for key, value in overrides.items():
            if value:
                options_target += ["--credly-" + key.replace("_", "-"), value]
    else:
        options_target += ["--credly-organization-id", EMULATOR_ORGANIZATION_ID,
                           "--credly-run-id", EMULATOR_RUN_ID]  # fmt: skip
    folder = Path(args.cassettes_dir) if args.cassettes_dir else default_folder(kind, target)
    staging = folder.with_name(folder.name + ".recording")
    shutil.rmtree(staging, ignore_errors=True)
    options = _scenario_options(kind, getattr(args, "reports_dir", None)) + options_target
    options += ["--credly-cassettes-dir", str(staging)]
    started = time.monotonic()
    code = _run_scenarios(options)
    if code not in (EXIT_CERTIFIED, EXIT_NOT_COMPLIANT) or not (staging / METADATA_FILE).is_file():
        shutil.rmtree(staging, ignore_errors=True)
        print(f"credly-contract: nothing recorded; {folder} is unchanged", file=sys.stderr)
        return code
    _replace_recording(staging, folder)
    scenarios = [
        p for p in folder.glob("*.yaml") if p.stem not in (PREFLIGHT, Path(METADATA_FILE).stem)
    ]
    print(f"recorded {len(scenarios)} scenario cassettes, {PREFLIGHT}.yaml and {METADATA_FILE} "
          f"into {folder} in {time.monotonic() - started:.1f} s")  # fmt: skip
    if code == EXIT_NOT_COMPLIANT:
        print("credly-contract: the target broke requirements; the cassettes hold the evidence",
              file=sys.stderr)  # fmt: skip
    return code


def _replace_recording(staging: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.yaml"):
        old.unlink()
    for new in staging.glob("*.yaml"):
        new.replace(folder / new.name)
    shutil.rmtree(staging, ignore_errors=True)


# --- cassettes diff -------------------------------------------------------------------------------

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
        return EXIT_CERTIFIED
    return EXIT_NOT_COMPLIANT
