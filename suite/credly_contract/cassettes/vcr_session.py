"""The cassette session of the scenario suite: vcrpy set up to record or replay one YAML file per
scenario under a recording folder, every request and response scrubbed by credly_contract.scrub
and normalised before anything is written or matched."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import vcr
import yaml
from vcr.errors import CannotOverwriteExistingCassetteException, UnhandledHTTPRequestError
from vcr.serializers import yamlserializer

from credly_contract.cassettes.target_file import EMULATOR_ORIGIN, replay_folder, write_metadata
from credly_contract.config import Target, TargetUnreachable
from credly_contract.scrub import register, reserve, scrub

MATCH_ON = ("method", "scheme", "host", "port", "path", "query", "body", "authorization")
KEPT_REQUEST_HEADERS = ("authorization", "content-type", "accept")
# Date changes on every call and cookies may carry sessions: neither is evidence of a rule.
DROPPED_RESPONSE_HEADERS = {"date", "set-cookie"}


class CassetteMismatch(TargetUnreachable):
    """A replayed request is not in its cassette: the scenario or the suite changed since then."""


# What vcrpy raises for a request the cassette cannot answer (absent, or already played).
NOT_IN_CASSETTE = (CannotOverwriteExistingCassetteException, UnhandledHTTPRequestError)


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
    scrubbed: str = scrub(text)
    return scrubbed.encode()


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
