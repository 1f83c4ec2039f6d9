"""The one scrubbing function: every secret, token and credential is replaced by a stable placeholder
before anything reaches the console, a log, a report or a cassette.

Values are learnt as they are seen (client secrets sent, tokens and secrets issued) and also caught by
shape (Authorization headers, secret-bearing JSON keys and form fields), so an unregistered value is
masked too. Placeholders are numbered per kind, e.g. ``<ACCESS_TOKEN_1>``, so a story stays readable.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from typing import Any, TypeVar, cast
from urllib.parse import quote, quote_plus

SECRET_KEYS = {
    "client_secret": "CLIENT_SECRET",
    "secret": "CLIENT_SECRET",
    "access_token": "ACCESS_TOKEN",
    "refresh_token": "REFRESH_TOKEN",
}
_AUTH_HEADER = re.compile(
    r"(?i)\b(authorization:?\s*['\"]?\s*(?:bearer|basic|token)\s+)([^\s'\",]+)"
)
_FORM_FIELD = re.compile(r"(?i)\b(client_secret|access_token|refresh_token)=([^&\s'\"]+)")
_JSON_FIELD = re.compile(
    r'(?i)"(client_secret|secret|access_token|refresh_token)"(\s*:\s*")([^"]+)"'
)
_NUMBERED = re.compile(r"<([A-Z_]+)_(\d+)>")
# A placeholder (or <REDACTED>) is left as it is: scrubbing scrubbed text changes nothing.
_PLACEHOLDER = re.compile(r"^<(?:[A-Z_]+_\d+|REDACTED)>$")
T = TypeVar("T")


def encodings(secret: str) -> list[str]:
    """Every form in which ``secret`` can stand in text: raw, URL-encoded (as a path or query
    segment, and as a form field, where a space is ``+``) and JSON-escaped. The console scrubber
    masks each of them and CLIENT-NO-LEAK looks for each of them: one list, used by both."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    return sorted(form for form in forms if form)


def basic_credentials(client_id: str, client_secret: str) -> list[str]:
    """The HTTP Basic value (base64 of ``client_id:client_secret``) a client sends for these
    credentials: RFC 6749 §2.3.1 form-encodes each before joining them, many clients do not; both."""
    pairs = {f"{client_id}:{client_secret}", f"{quote_plus(client_id)}:{quote_plus(client_secret)}"}
    return sorted(base64.b64encode(pair.encode()).decode("ascii") for pair in pairs)


class Scrubber:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def register(self, value: Any, kind: str) -> str:
        """Remember a secret value, in each of its ``encodings``; returns its placeholder."""
        if not isinstance(value, str) or len(value) < 6 or _PLACEHOLDER.match(value):
            return value if isinstance(value, str) else ""
        with self._lock:
            if value not in self._known:
                self._counts[kind] = self._counts.get(kind, 0) + 1
                placeholder = f"<{kind}_{self._counts[kind]}>"
                for form in encodings(value):
                    self._known.setdefault(form, placeholder)
            return self._known[value]

    def reserve(self, text: str) -> None:
        """Never hand out a placeholder that ``text`` already uses (a recorded cassette, say), so a
        value learnt later cannot pass for one it was recorded with."""
        with self._lock:
            for kind, number in _NUMBERED.findall(text):
                self._counts[kind] = max(self._counts.get(kind, 0), int(number))

    def text(self, value: str) -> str:
        # Shape first (it learns unregistered values), then every learnt value wherever it stands.
        value = _AUTH_HEADER.sub(lambda m: m.group(1) + self._mask(m.group(2), "CREDENTIAL"), value)
        value = _FORM_FIELD.sub(
            lambda m: f"{m.group(1)}=" + self._mask(m.group(2), _kind(m.group(1))), value
        )
        value = _JSON_FIELD.sub(
            lambda m: f'"{m.group(1)}"{m.group(2)}{self._mask(m.group(3), _kind(m.group(1)))}"',
            value,
        )
        with self._lock:
            known = sorted(self._known.items(), key=lambda kv: -len(kv[0]))
        for secret, placeholder in known:
            if secret in value:
                value = value.replace(secret, placeholder)
        return value

    def _mask(self, value: str, kind: str) -> str:
        if _PLACEHOLDER.match(value):
            return value
        return self.register(value, kind) if len(value) >= 6 else "<REDACTED>"

    def data(self, value: Any) -> Any:
        """Scrub a JSON-like structure: secret keys by name, every string by value."""
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                kind = SECRET_KEYS.get(str(key).lower())
                if kind and isinstance(item, str) and item:
                    out[key] = self._mask(item, kind)
                elif str(key).lower() == "authorization" and isinstance(item, str):
                    out[key] = self.text(f"Authorization: {item}").split(": ", 1)[1]
                else:
                    out[key] = self.data(item)
            return out
        if isinstance(value, list):
            return [self.data(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value


def _kind(field: str) -> str:
    return SECRET_KEYS.get(field.strip('"').lower(), "CREDENTIAL")


SCRUBBER = Scrubber()


def scrub(value: T) -> T:
    """Mask every known or recognisable secret in a string or a JSON-like structure."""
    # A string stays a string, a dict a dict and a list a list; anything else comes back as it was.
    return cast(T, SCRUBBER.data(value))


def register(value: Any, kind: str) -> str:
    return SCRUBBER.register(value, kind)


def reserve(text: str) -> None:
    SCRUBBER.reserve(text)
