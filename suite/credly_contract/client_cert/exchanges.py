"""What the integration sent and what it got back, as the recorder saw it at the emulator (or proxy).

An ``Observed`` keeps the raw bytes for judging (a judge must compare real tokens); everything it hands
out as evidence goes through the one scrubber first.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs

from credly_contract.facts import ExchangeEvidence
from credly_contract.scrub import scrub

TOKEN, API = "token", "api"
# The integration runs twice: once with nothing injected (does it do its job?), then with the
# profile's injections (does it survive what real Credly does?).
CLEAN, INJECTED = "clean", "injected"
EVIDENCE_BODY_LIMIT = 2000


@dataclass
class Observed:
    """One request of the integration and the answer it got."""

    index: int
    kind: str  # TOKEN or API
    method: str
    path: str  # as the integration sent it, without the query
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    started: float  # seconds since the run started
    finished: float = 0.0
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""
    injection: str | None = None  # the injection that answered or shaped this exchange
    origin: str = ""
    phase: str = INJECTED  # which of the integration's two runs sent it

    @property
    def url(self) -> str:
        return self.origin + self.path + (f"?{self.query}" if self.query else "")

    @cached_property
    def query_params(self) -> dict[str, list[str]]:
        return parse_qs(self.query, keep_blank_values=True)

    @cached_property
    def form(self) -> dict[str, list[str]]:
        """The body as a form (token requests); empty when it is not one."""
        if not self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return {}
        try:
            return parse_qs(self.body.decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            return {}

    def json(self) -> Any:
        """The request body as JSON, or None."""
        return _json(self.body)

    def response_json(self) -> Any:
        return _json(self.response_body)

    @property
    def bearer(self) -> str | None:
        """The Bearer token the request carried, or None."""
        scheme, _, value = self.headers.get("authorization", "").strip().partition(" ")
        return value.strip() or None if scheme.lower() == "bearer" else None

    def scope_requested(self) -> list[str]:
        return " ".join(self.form.get("scope", [])).split()

    def timeline_entry(self) -> dict[str, Any]:
        """The exchange as a row of the certificate's timeline (report.timeline): scrubbed."""
        entry: dict[str, Any] = scrub(
            {
                "exchange": self.index,
                "at": round(self.started, 3),
                "took": round(max(0.0, self.finished - self.started), 3),
                "method": self.method,
                "target": self.path + (f"?{self.query}" if self.query else ""),
                "status": self.status,
                "injection": self.injection,
                "phase": self.phase,
            }
        )
        return entry

    def evidence(self, limit: int = EVIDENCE_BODY_LIMIT) -> ExchangeEvidence:
        """The exchange as certificate evidence: scrubbed, bodies cut to ``limit`` characters."""
        request_body = self.body.decode("utf-8", "replace")[:limit]
        data: ExchangeEvidence = {
            "request": {
                "method": self.method,
                "url": self.url,
                "headers": dict(self.headers),
                "body": request_body,
            },
            "response": {
                "status": self.status,
                "headers": dict(self.response_headers),
                "body": self.response_body.decode("utf-8", "replace")[:limit],
            },
            "exchange": self.index,
            "at_seconds": round(self.started, 3),
            "curl": _curl(self),
        }
        if self.injection:
            data["injection"] = self.injection
        return scrub(data)


@dataclass
class Reaction:
    """Evidence of a request together with the injected exchange it reacted to."""

    exchange: Observed
    reacted_to: Observed

    def evidence(self, limit: int = EVIDENCE_BODY_LIMIT) -> ExchangeEvidence:
        """The injected answer first, then the client's reaction and how long it waited."""
        return {
            "reacted_to": self.reacted_to.evidence(limit),
            "injection": self.reacted_to.injection,
            "waited_seconds": round(self.exchange.started - self.reacted_to.finished, 3),
            **self.exchange.evidence(limit),
        }


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _curl(exchange: Observed) -> str:
    parts = ["curl", "-X", exchange.method, shlex.quote(exchange.url)]
    for name in ("authorization", "content-type"):
        if name in exchange.headers:
            parts += ["-H", shlex.quote(f"{name}: {exchange.headers[name]}")]
    if exchange.body:
        parts += ["--data", shlex.quote(exchange.body.decode("utf-8", "replace")[:500])]
    return " ".join(parts)
