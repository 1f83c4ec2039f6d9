"""A second, independently written implementation of Credly's documented OAuth Applications API.

Issue 3 asks that the suite certify an implementation it was not written against. This one is built
from Credly's documentation (the OAuth Applications pages) and RFC 6749/6750 only, on the standard
library's http.server (not the Starlette emulator), and it deliberately makes other choices where the
docs are silent:

* other organizations' ids (the organization itself or its applications) answer 404, never 403;
* error bodies are a bare ``{"error": "..."}``; 401s have an empty body;
* ``per`` defaults to and is capped at 25 (larger values are ignored, metadata.per says 25); a
  nonsensical ``page``/``per`` is clamped instead of refused; pages past the end are empty;
* page links are absolute URLs built from the request's Host header;
* access tokens are 64 hex characters, client ids are UUIDs, client secrets are ``cs_`` + hex and
  only their SHA-256 is kept; application ids start at 1000 and are unique across organizations;
* application objects carry an undocumented ``scopes`` list; timestamps have microseconds and a
  ``+00:00`` offset; an omitted description is ``""``; an application created through the API names
  the creating OAuth application as its creator (``creator_available`` turns false once it is gone);
* ``token_type`` is ``bearer`` (RFC 6749 §5.1: case-insensitive); the granted scope is listed in
  the documented order; a missing scope is ``invalid_scope`` (RFC 6749 §3.3);
* token responses carry ``Cache-Control: no-store, private`` and ``Pragma: no-cache``;
* the 401 challenge is ``Bearer realm="credly2"`` (plus ``error="invalid_token"`` when a token was
  sent); the 403 challenge names the missing scope (RFC 6750 §3.1 insufficient_scope);
* the token endpoint takes only form bodies; client authentication by HTTP Basic is optional
  (RFC 6749 §2.3.1) and mixing it with a form secret is invalid_request;
* JSON bodies must be sent as ``application/json`` (otherwise 415); names are at most 255
  characters and descriptions at most 2000.

Run it by hand with ``python tests/second_implementation.py``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, unquote_plus, urlencode, urlsplit

SCOPES = (
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
)
TOKEN_LIFETIME = 7200
PER_PAGE = 25
NAME_MAX = 255
DESCRIPTION_MAX = 2000
BODY_MAX = 1 << 20
REALM = "credly2"


def _now() -> datetime:
    return datetime.now(UTC)


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


@dataclass
class Application:
    id: int
    organization_id: str
    name: str
    description: str
    uid: str
    secret_digest: bytes
    created_at: datetime
    updated_at: datetime
    creator: tuple[str, str, str]  # (type, id, name at creation)
    creator_uid: str | None = None  # the OAuth application that created it, if any
    scopes: tuple[str, ...] = SCOPES


@dataclass
class AccessToken:
    application_id: int
    organization_id: str
    scopes: frozenset[str]
    issued: int
    expires: float


@dataclass
class Organization:
    id: str
    applications: dict[int, Application] = field(default_factory=dict)
    badges: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Credentials:
    organization_id: str
    client_id: str
    client_secret: str


class Store:
    """All state, behind one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.organizations: dict[str, Organization] = {}
        self.by_uid: dict[str, Application] = {}
        self.tokens: dict[str, AccessToken] = {}
        self._next_id = 1000

    def add_organization(self, organization_id: str, badges: int) -> Organization:
        organization = Organization(organization_id)
        for number in range(badges):
            issued = _timestamp(_now())
            organization.badges.append(
                {
                    "id": str(uuid.uuid4()),
                    "state": "accepted",
                    "issued_at": issued,
                    "issued_to": f"Recipient {number + 1}",
                    "recipient_email": f"recipient{number + 1}@example.org",
                    "badge_template": {
                        "id": str(uuid.uuid4()),
                        "name": f"Badge template {number % 3 + 1}",
                    },
                }
            )
        self.organizations[organization_id] = organization
        return organization

    def create(
        self,
        organization: Organization,
        name: str,
        description: str,
        creator: tuple[str, str, str],
        creator_uid: str | None = None,
    ) -> tuple[Application, str]:
        with self.lock:
            secret = "cs_" + secrets.token_hex(24)
            moment = _now()
            app = Application(
                id=self._next_id,
                organization_id=organization.id,
                name=name,
                description=description,
                uid=str(uuid.uuid4()),
                secret_digest=_digest(secret),
                created_at=moment,
                updated_at=moment,
                creator=creator,
                creator_uid=creator_uid,
            )
            self._next_id += 1
            organization.applications[app.id] = app
            self.by_uid[app.uid] = app
            return app, secret

    def delete(self, app: Application) -> None:
        with self.lock:
            self.organizations[app.organization_id].applications.pop(app.id, None)
            self.by_uid.pop(app.uid, None)
            for token in [
                t for t, record in self.tokens.items() if record.application_id == app.id
            ]:
                del self.tokens[token]

    def authenticate_client(self, client_id: str, client_secret: str) -> Application | None:
        with self.lock:
            app = self.by_uid.get(client_id)
        if app is None:
            _digest(client_secret)  # same work either way
            return None
        return app if hmac.compare_digest(app.secret_digest, _digest(client_secret)) else None

    def issue(self, app: Application, scopes: frozenset[str]) -> tuple[str, AccessToken]:
        token = secrets.token_hex(32)
        issued = int(time.time())
        record = AccessToken(
            app.id, app.organization_id, scopes, issued, time.time() + TOKEN_LIFETIME
        )
        with self.lock:
            self.tokens[token] = record
        return token, record

    def lookup_token(self, token: str) -> AccessToken | None:
        with self.lock:
            record = self.tokens.get(token)
            if record is not None and record.expires <= time.time():
                del self.tokens[token]
                return None
            return record

    def present(self, app: Application, secret: str | None = None) -> dict[str, Any]:
        creator_type, creator_id, creator_name = app.creator
        available = True
        if app.creator_uid is not None:
            creator = self.by_uid.get(app.creator_uid)
            available = creator is not None
            if creator is not None:
                creator_name = creator.name
        return {
            "id": app.id,
            "name": app.name,
            "description": app.description,
            "created_at": _timestamp(app.created_at),
            "updated_at": _timestamp(app.updated_at),
            "uid": app.uid,
            "created_by_id": creator_id,
            "created_by_type": creator_type,
            "created_by_name": creator_name,
            "creator_available": available,
            "secret": secret,
            "scopes": list(app.scopes),
        }


class HttpError(Exception):
    def __init__(
        self,
        status: int,
        error: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error or str(status))
        self.status = status
        self.error = error
        self.headers = headers or {}


def _bearer_challenge(error: str | None = None, scope: str | None = None) -> dict[str, str]:
    value = f'Bearer realm="{REALM}"'
    if error:
        value += f', error="{error}"'
    if scope:
        value += f', scope="{scope}"'
    return {"WWW-Authenticate": value}


def _page_number(raw: list[str] | None, default: int) -> int:
    try:
        value = int(raw[0]) if raw else default
    except ValueError:
        return default
    return value if value >= 1 else default


class Handler(BaseHTTPRequestHandler):
    server_version = "credly2"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    # Answer at once: with Nagle's algorithm each keep-alive response waits ~40 ms for the
    # client's delayed ACK.
    disable_nagle_algorithm = True
    store: Store  # set per server class

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing -------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                size_line = self.rfile.readline(1024).split(b";")[0].strip()
                try:
                    size = int(size_line, 16)
                except ValueError:
                    self.close_connection = True
                    raise HttpError(400, "invalid_request") from None
                if size == 0:
                    while self.rfile.readline(1024).strip():
                        pass
                    break
                total += size
                if total > BODY_MAX:
                    self.close_connection = True
                    raise HttpError(413, "request_too_large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(chunks)
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            self.close_connection = True
            raise HttpError(400, "invalid_request") from None
        if length < 0:
            self.close_connection = True
            raise HttpError(400, "invalid_request")
        if length > BODY_MAX:
            self.close_connection = True
            raise HttpError(413, "request_too_large")
        return self.rfile.read(length)

    def _send(
        self,
        status: int,
        payload: Any = None,
        headers: dict[str, str] | None = None,
        empty: bool = False,
    ) -> None:
        body = b"" if empty or payload is None else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 204:
            if body:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
            self._route(body)
        except HttpError as error:
            payload = {"error": error.error} if error.error and error.status != 401 else None
            self._send(error.status, payload, error.headers)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch
    do_TRACE = do_CONNECT = do_PROPFIND = _dispatch

    # -- routing --------------------------------------------------------------------------------

    def _route(self, body: bytes) -> None:
        parts = urlsplit(self.path)
        segments = [unquote(s) for s in parts.path.split("/")[1:]]
        if segments and segments[-1] == "" and len(segments) > 1:
            segments.pop()
        query = parse_qs(parts.query, keep_blank_values=True)
        if segments == ["oauth", "token"]:
            if self.command != "POST":
                raise HttpError(405, "method_not_allowed", {"Allow": "POST"})
            self._token(body)
            return
        if len(segments) >= 4 and segments[0] == "v1" and segments[1] == "organizations":
            organization_id, resource, rest = segments[2], segments[3], segments[4:]
            if resource == "oauth_applications" and not rest:
                allowed = {"GET": self._list_applications, "POST": self._create_application}
            elif resource == "oauth_applications" and len(rest) == 1:
                allowed = {
                    "GET": self._get_application,
                    "PUT": self._update_application,
                    "DELETE": self._delete_application,
                }
            elif resource == "badges" and not rest:
                allowed = {"GET": self._list_badges}
            else:
                raise HttpError(404, "not_found")
            handler = allowed.get(self.command)
            if handler is None:
                raise HttpError(405, "method_not_allowed", {"Allow": ", ".join(allowed)})
            scope = "issued_badges" if resource == "badges" else "oauth_applications"
            organization = self._authorize(organization_id, scope)
            handler(organization, rest[0] if rest else None, query, body)
            return
        raise HttpError(404, "not_found")

    def _authorize(self, organization_id: str, scope: str) -> Organization:
        header = self.headers.get("Authorization")
        if header is None:
            raise HttpError(401, None, _bearer_challenge())
        scheme, _, credentials = header.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials or " " in credentials:
            raise HttpError(401, None, _bearer_challenge("invalid_request"))
        record = self.store.lookup_token(credentials)
        if record is None:
            raise HttpError(401, None, _bearer_challenge("invalid_token"))
        self.token = record
        with self.store.lock:
            organization = self.store.organizations.get(organization_id)
        if organization is None or record.organization_id != organization_id:
            raise HttpError(404, "not_found")
        if scope not in record.scopes:
            raise HttpError(
                403, "insufficient_scope", _bearer_challenge("insufficient_scope", scope)
            )
        return organization

    # -- pagination -----------------------------------------------------------------------------

    def _page(self, items: list[Any], query: dict[str, list[str]]) -> dict[str, Any]:
        per = min(_page_number(query.get("per"), PER_PAGE), PER_PAGE)
        page = _page_number(query.get("page"), 1)
        total = len(items)
        pages = -(-total // per)
        data = items[(page - 1) * per : page * per]
        path = urlsplit(self.path).path
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])

        def link(number: int) -> str:
            return f"http://{host}{path}?{urlencode({'page': number, 'per': per})}"

        previous = min(page - 1, pages)
        return {
            "data": data,
            "metadata": {
                "count": len(data),
                "current_page": page,
                "total_count": total,
                "total_pages": pages,
                "per": per,
                "previous_page_url": link(previous) if previous >= 1 else None,
                "next_page_url": link(page + 1) if page < pages else None,
            },
        }

    # -- applications ---------------------------------------------------------------------------

    def _find(self, organization: Organization, raw_id: str | None) -> Application:
        if raw_id is None or not raw_id.isascii() or not raw_id.isdigit() or len(raw_id) > 18:
            raise HttpError(404, "not_found")
        app = organization.applications.get(int(raw_id))
        if app is None:
            raise HttpError(404, "not_found")
        return app

    def _json_object(self, body: bytes) -> dict[str, Any]:
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise HttpError(415, "unsupported_media_type")

        def refuse_constant(name: str) -> Any:
            raise ValueError(name)

        try:
            value = json.loads(body.decode("utf-8"), parse_constant=refuse_constant)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise HttpError(400, "malformed_json") from None
        if not isinstance(value, dict):
            raise HttpError(400, "expected_object")
        return value

    @staticmethod
    def _validate(fields: dict[str, Any], creating: bool) -> dict[str, str]:
        changes: dict[str, str] = {}
        if "name" in fields or creating:
            name = fields.get("name")
            if not isinstance(name, str) or not name.strip():
                raise HttpError(422, "name_required")
            if len(name) > NAME_MAX:
                raise HttpError(422, "name_too_long")
            changes["name"] = name
        if "description" in fields:
            description = fields["description"]
            if not isinstance(description, str):
                raise HttpError(422, "description_not_a_string")
            if len(description) > DESCRIPTION_MAX:
                raise HttpError(422, "description_too_long")
            changes["description"] = description
        for value in changes.values():
            if "\x00" in value:
                raise HttpError(422, "invalid_characters")
        return changes

    def _list_applications(
        self, organization: Organization, _id: Any, query: Any, _body: bytes
    ) -> None:
        with self.store.lock:
            apps = [
                self.store.present(a)
                for a in sorted(organization.applications.values(), key=lambda a: a.id)
            ]
        self._send(200, self._page(apps, query))

    def _get_application(
        self, organization: Organization, raw_id: str, _query: Any, _body: bytes
    ) -> None:
        with self.store.lock:
            payload = {"data": self.store.present(self._find(organization, raw_id)), "metadata": {}}
        self._send(200, payload)

    def _create_application(
        self, organization: Organization, _id: Any, _query: Any, body: bytes
    ) -> None:
        changes = self._validate(self._json_object(body), creating=True)
        with self.store.lock:
            creator_app = next(
                (a for a in self.store.by_uid.values() if a.id == self.token.application_id), None
            )
            if creator_app is None:  # deleted between authorization and now
                raise HttpError(401, None, _bearer_challenge("invalid_token"))
            creator = ("OauthApplication", creator_app.uid, creator_app.name)
            app, secret = self.store.create(
                organization,
                changes["name"],
                changes.get("description", ""),
                creator,
                creator_app.uid,
            )
            payload = {"data": self.store.present(app, secret), "metadata": {}}
        self._send(201, payload, {"Location": f"{urlsplit(self.path).path.rstrip('/')}/{app.id}"})

    def _update_application(
        self, organization: Organization, raw_id: str, _query: Any, body: bytes
    ) -> None:
        with self.store.lock:
            app = self._find(organization, raw_id)
        changes = self._validate(self._json_object(body), creating=False)
        with self.store.lock:
            app = self._find(organization, raw_id)
            for name, value in changes.items():
                setattr(app, name, value)
            app.updated_at = max(_now(), app.updated_at)
            payload = {"data": self.store.present(app), "metadata": {}}
        self._send(200, payload)

    def _delete_application(
        self, organization: Organization, raw_id: str, _query: Any, _body: bytes
    ) -> None:
        with self.store.lock:
            self.store.delete(self._find(organization, raw_id))
        self._send(204, empty=True)

    def _list_badges(self, organization: Organization, _id: Any, query: Any, _body: bytes) -> None:
        with self.store.lock:
            badges = list(organization.badges)
        self._send(200, self._page(badges, query))

    # -- token endpoint -------------------------------------------------------------------------

    def _token(self, body: bytes) -> None:
        no_store = {"Cache-Control": "no-store, private", "Pragma": "no-cache"}
        try:
            payload = self._grant(body)
        except HttpError as error:
            headers = {**no_store, **error.headers}
            if error.status == 401 and "WWW-Authenticate" not in headers:
                headers["WWW-Authenticate"] = f'Basic realm="{REALM}"'
            self._send(error.status, {"error": error.error}, headers)
            return
        self._send(200, payload, no_store)

    def _grant(self, body: bytes) -> dict[str, Any]:
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise HttpError(400, "invalid_request")
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError):
            raise HttpError(400, "invalid_request") from None
        if any(len(values) > 1 for values in form.values()):  # RFC 6749 §3.2
            raise HttpError(400, "invalid_request")
        params = {key: values[0] for key, values in form.items()}

        grant_type = params.get("grant_type")
        if not grant_type:
            raise HttpError(400, "invalid_request")
        if grant_type != "client_credentials":
            raise HttpError(400, "unsupported_grant_type")

        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        header = self.headers.get("Authorization")
        basic = header is not None and header.strip()[:6].lower() == "basic "
        if basic:
            if client_secret is not None:  # RFC 6749 §2.3: one authentication method only
                raise HttpError(400, "invalid_request")
            try:
                decoded = base64.b64decode(header.strip()[6:].strip(), validate=True).decode(
                    "utf-8"
                )
                raw_id, _, raw_secret = decoded.partition(":")
            except (ValueError, UnicodeDecodeError):
                raise HttpError(
                    401, "invalid_client", {"WWW-Authenticate": f'Basic realm="{REALM}"'}
                ) from None
            basic_id, client_secret = unquote_plus(raw_id), unquote_plus(raw_secret)
            if client_id is not None and client_id != basic_id:
                raise HttpError(400, "invalid_request")
            client_id = basic_id
        if not client_id or client_secret is None:
            raise HttpError(401, "invalid_client")
        app = self.store.authenticate_client(client_id, client_secret)
        if app is None:
            raise HttpError(401, "invalid_client")

        requested = (params.get("scope") or "").split()
        if not requested or any(s not in SCOPES or s not in app.scopes for s in requested):
            raise HttpError(400, "invalid_scope")
        scopes = frozenset(requested)
        token, record = self.store.issue(app, scopes)
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": TOKEN_LIFETIME,
            "scope": " ".join(s for s in SCOPES if s in scopes),
            "created_at": record.issued,
        }


class SecondImplementation:
    """The server in a background thread on 127.0.0.1 and a free port, seeded with two
    organizations, each with a bootstrap application holding every scope and a few badges."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.store = Store()
        self.primary = self._seed(f"acme-{secrets.token_hex(4)}", badges=7)
        self.foreign = self._seed(f"globex-{secrets.token_hex(4)}", badges=3)
        handler = type("BoundHandler", (Handler,), {"store": self.store})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, name="second-implementation", daemon=True
        )

    def _seed(self, organization_id: str, badges: int) -> Credentials:
        organization = self.store.add_organization(organization_id, badges)
        admin = ("User", str(uuid.uuid4()), "Ada Admin")
        app, secret = self.store.create(
            organization, "Bootstrap integration", "Seeded with every scope.", admin
        )
        return Credentials(organization_id, app.uid, secret)

    @property
    def origin(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_base_url(self) -> str:
        return self.origin + "/v1"

    @property
    def token_url(self) -> str:
        return self.origin + "/oauth/token"

    def environment(self) -> dict[str, str]:
        """The CREDLY_* variables that point the suite at this server."""
        return {
            "CREDLY_API_BASE_URL": self.api_base_url,
            "CREDLY_TOKEN_URL": self.token_url,
            "CREDLY_ORGANIZATION_ID": self.primary.organization_id,
            "CREDLY_CLIENT_ID": self.primary.client_id,
            "CREDLY_CLIENT_SECRET": self.primary.client_secret,
            "CREDLY_FOREIGN_ORGANIZATION_ID": self.foreign.organization_id,
        }

    def start(self) -> SecondImplementation:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> SecondImplementation:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    server = SecondImplementation().start()
    for variable, value in server.environment().items():
        print(f"export {variable}={value}")
    try:
        server.thread.join()
    except KeyboardInterrupt:
        server.stop()
