"""Named response rewrites for a FaultProxy in front of the real emulator: each one changes what a
documented server could answer, so a certification through it tests the suite's judgement, not the
emulator (issue 10, "Prove it in the tests: response mutation").

A rewrite is a small function over one exchange (``Wire``), registered as one of two kinds:

- a **variation** (``@variation``): the docs or RFC 6749/6750 allow what it does, so the run must
  still certify;
- a **fault** (``@fault("REQ-ID", ...)``): it breaks the listed requirements, and the run must fail
  exactly those, exit 1 (the same word as the emulator's ``--fault``: a deliberately broken behaviour).

Each registration's docstring says why the docs allow or forbid the change.

    with FaultProxy(emulator.origin) as proxy:
        proxy.rewrite = REWRITES["keys_reordered"].rewrite()
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from credly_contract import spec
from tests.fault_proxy import Rewrite, Wire

Change = Callable[[Wire, dict[str, Any]], None]

# The short names rewrites use for the documented operations; which one an exchange is comes from
# the method and the route each has in the contract.
_NAMES = {
    "createAccessToken": "token",
    "listOAuthApplications": "list",
    "createOAuthApplication": "create",
    "getOAuthApplication": "get",
    "updateOAuthApplication": "update",
    "deleteOAuthApplication": "delete",
    "listIssuedBadges": "badges",
}
_OPERATIONS: list[tuple[str, str, str]] = [
    (
        _NAMES[operation_id],
        operation["method"],
        re.sub(r"\\{\w+\\}", "[^/]+", re.escape(spec.route(operation_id))),
    )
    for operation_id, operation in spec.operations().items()
]
APPLICATION_OPERATIONS = frozenset({"list", "create", "get", "update"})


def operation(wire: Wire) -> str | None:
    path = urlsplit(wire.path).path
    for name, method, pattern in _OPERATIONS:
        if wire.method == method and re.fullmatch(pattern, path):
            return name
    return None


def query(wire: Wire) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(wire.path).query, keep_blank_values=True))


def with_query(wire: Wire, params: dict[str, str]) -> None:
    parts = urlsplit(wire.path)
    wire.path = parts.path + ("?" + urlencode(params) if params else "")


def body_json(wire: Wire) -> Any:
    try:
        return json.loads(wire.body)
    except ValueError:
        return None


def set_body_json(wire: Wire, value: Any) -> None:
    wire.body = json.dumps(value).encode()


def set_header(wire: Wire, name: str, value: str | None) -> None:
    """Set (or with None, remove) a response header, whatever the case it came in."""
    wire.headers = {k: v for k, v in wire.headers.items() if k.lower() != name.lower()}
    if value is not None:
        wire.headers[name] = value


def application_objects(body: Any) -> Iterator[dict[str, Any]]:
    data = body.get("data") if isinstance(body, dict) else None
    items = data if isinstance(data, list) else [data]
    yield from (item for item in items if isinstance(item, dict) and "uid" in item)


@dataclass(frozen=True)
class ResponseRewrite:
    """One named way of answering differently, and what the suite must make of it."""

    name: str
    why: str  # what it does and why the docs allow (or forbid) it
    breaks: frozenset[str]  # the requirement ids a fault breaks; empty: a variation
    operations: frozenset[str] | None  # the exchanges it touches (None: every exchange)
    response: Change | None
    request: Change | None
    neighbours: int = 0  # applications the emulator must hold besides the bootstrap (seeded)

    @property
    def is_fault(self) -> bool:
        return bool(self.breaks)

    def rewrite(self) -> CountingRewrite:
        return CountingRewrite(self)


def _snapshot(wire: Wire) -> tuple[Any, ...]:
    return (
        wire.method,
        wire.path,
        dict(wire.request_headers),
        wire.request_body,
        wire.status,
        dict(wire.headers),
        wire.body,
    )


class CountingRewrite(Rewrite):
    """Applies one response rewrite and counts the exchanges it really changed (a test of a rewrite
    that never fired would prove nothing)."""

    def __init__(self, named: ResponseRewrite) -> None:
        super().__init__()
        self.named = named
        self.changed = 0
        self.errors: list[str] = []  # a rewrite that crashes would look like an outage

    def _apply(self, change: Change | None, wire: Wire) -> None:
        if change is None or not (
            self.named.operations is None or operation(wire) in self.named.operations
        ):
            return
        before = _snapshot(wire)
        try:
            change(wire, self.memory)
        except Exception as error:
            self.errors.append(f"{self.named.name} on {wire.method} {wire.path}: {error!r}")
            raise
        if _snapshot(wire) != before:
            self.changed += 1

    def request(self, wire: Wire) -> None:
        self._apply(self.named.request, wire)

    def response(self, wire: Wire) -> None:
        self._apply(self.named.response, wire)


REWRITES: dict[str, ResponseRewrite] = {}
Operations = set[str] | frozenset[str] | None


def variation(on: Operations = None, request: Change | None = None) -> Callable[[Change], Change]:
    """Register a response change the docs allow (its docstring says why): the run must certify."""
    return _register(frozenset(), on, request)


def fault(*breaks: str, on: Operations = None, neighbours: int = 0) -> Callable[[Change], Change]:
    """Register a response change that breaks the requirements ``breaks`` (its docstring says how);
    ``neighbours``: applications the emulator must hold besides the bootstrap for it to show."""
    assert breaks, "a fault breaks at least one requirement; a change the docs allow is a variation"
    return _register(frozenset(breaks), on, None, neighbours)


def _register(
    breaks: frozenset[str], on: Operations, request: Change | None, neighbours: int = 0
) -> Callable[[Change], Change]:
    def register(response: Change) -> Change:
        REWRITES[response.__name__] = ResponseRewrite(
            name=response.__name__,
            why=" ".join((response.__doc__ or "").split()),
            breaks=breaks,
            operations=frozenset(on) if on is not None else None,
            response=response,
            request=request,
            neighbours=neighbours,
        )
        return response

    return register


def edit_json(wire: Wire, change: Callable[[Any], object], any_status: bool = False) -> None:
    """Edit a successful answer's JSON body in place (other answers, and non-JSON, pass untouched)."""
    body = body_json(wire)
    if body is not None and (any_status or 200 <= wire.status < 300):
        change(body)
        set_body_json(wire, body)


def edit_applications(wire: Wire, change: Callable[[dict[str, Any]], object]) -> None:
    """Edit every application object of a successful answer in place."""
    edit_json(wire, lambda body: [change(app) for app in application_objects(body)])


# Variations: contract-preserving --------------------------------------------------------------------


@variation(on=APPLICATION_OPERATIONS)
def extra_fields_in_applications(wire: Wire, memory: dict[str, Any]) -> None:
    """Every application object carries undocumented fields (Doorkeeper adds redirect_uri, scopes,
    confidential). The docs list the fields an application has, not that there are no others."""
    edit_applications(
        wire,
        lambda app: app.update(redirect_uri="", scopes=["oauth_applications"], confidential=True),
    )


@variation()
def extra_fields_in_envelopes(wire: Wire, memory: dict[str, Any]) -> None:
    """Every JSON object answer carries an undocumented top-level field, and every metadata object
    one more (the docs' single-object metadata is an empty object; nothing says it stays empty)."""

    def change(body: Any) -> None:
        if isinstance(body, dict):
            body["request_id"] = "8f14e45f-ceea-467f-a0e6-7d5c2f5b3a9b"
            if isinstance(body.get("metadata"), dict):
                body["metadata"]["api_version"] = "v1"

    edit_json(wire, change, any_status=True)


def _reorder(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reorder(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reorder(item) for item in value]
    return value


@variation()
def keys_reordered(wire: Wire, memory: dict[str, Any]) -> None:
    """Every JSON object's keys come in reverse order (RFC 8259 §4: an object is unordered)."""
    body = body_json(wire)
    if body is not None:
        set_body_json(wire, _reorder(body))


@variation()
def pretty_printed_json(wire: Wire, memory: dict[str, Any]) -> None:
    """JSON answers are indented with newlines and tabs, and non-ASCII is \\u-escaped (RFC 8259 §2
    and §7: insignificant whitespace and escapes mean the same JSON)."""
    body = body_json(wire)
    if body is not None:
        wire.body = b"\n  " + json.dumps(body, indent="\t", ensure_ascii=True).encode() + b"\n\n"


def _timestamps(wire: Wire, rewrite: Callable[[str], str]) -> None:
    def change(app: dict[str, Any]) -> None:
        for key in ("created_at", "updated_at"):
            if isinstance(app.get(key), str):
                app[key] = rewrite(app[key])

    edit_applications(wire, change)


@variation(on=APPLICATION_OPERATIONS)
def timestamps_in_whole_seconds(wire: Wire, memory: dict[str, Any]) -> None:
    """Timestamps have no fractional seconds ("2025-04-15T21:21:10Z"): still ISO 8601, and
    truncating both keeps created_at <= updated_at."""
    _timestamps(wire, lambda stamp: re.sub(r"\.\d+Z$", "Z", stamp))


@variation(on=APPLICATION_OPERATIONS)
def timestamps_in_microseconds_with_offset(wire: Wire, memory: dict[str, Any]) -> None:
    """Timestamps have six fractional digits and a +00:00 offset instead of Z (ISO 8601 / RFC 3339
    allow both; Rails renders either depending on configuration)."""
    _timestamps(wire, lambda stamp: re.sub(r"\.(\d{3})Z$", r".\g<1>000+00:00", stamp))


def _fake(kind: str, real: str) -> str:
    """A stable stand-in for a credential, of another length and alphabet than the emulator's."""
    digest = hashlib.sha256(f"{kind}:{real}".encode()).digest()
    if kind == "uid":  # a UUID
        hexed = digest.hex()
        return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:32]}"
    if kind == "secret":  # "cs_" and 64 hex digits
        return "cs_" + digest.hex()
    # an access token shaped like a JWT: three base64url parts, ~200 characters (RFC 6750 §2.1 b64token)
    part = base64.urlsafe_b64encode(digest * 2).decode().rstrip("=")
    return f"eyJhbGciOiJIUzI1NiJ9.{part}{part}.{part[:43]}"


def _stand_in(memory: dict[str, Any], kind: str, real: str) -> str:
    fakes = memory.setdefault("fakes", {})  # fake -> real
    fake = _fake(kind, real)
    fakes[fake] = real
    return fake


def _real_credentials(wire: Wire, memory: dict[str, Any]) -> None:
    """Translate stand-ins back to the emulator's values in the body and the Authorization header
    (headers without a stand-in are left exactly as the client sent them)."""
    fakes: dict[str, str] = memory.get("fakes", {})

    def real(text: str) -> str:
        for fake, value in fakes.items():
            text = text.replace(fake, value)
        return text

    wire.request_body = real(wire.request_body.decode("utf-8", "surrogateescape")).encode(
        "utf-8", "surrogateescape"
    )
    for name, header in list(wire.request_headers.items()):
        if name.lower() != "authorization":
            continue
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode()
            except ValueError:
                continue
            if real(decoded) != decoded:
                wire.request_headers[name] = (
                    "Basic " + base64.b64encode(real(decoded).encode()).decode()
                )
        elif real(header) != header:
            wire.request_headers[name] = real(header)


@variation(request=_real_credentials)
def credentials_of_other_lengths_and_alphabets(wire: Wire, memory: dict[str, Any]) -> None:
    """uids are UUIDs, secrets "cs_" + 64 hex digits and access tokens ~200-character JWT-like
    strings (consistently: the proxy maps them back on the way in). The docs show 43 URL-safe
    characters as examples, never a format; RFC 6750 §2.1 allows any b64token."""
    body = body_json(wire)
    if not isinstance(body, dict):
        return
    if isinstance(body.get("access_token"), str):
        body["access_token"] = _stand_in(memory, "token", body["access_token"])
    for app in application_objects(body):
        for kind in ("uid", "secret"):
            if isinstance(app.get(kind), str):
                app[kind] = _stand_in(memory, kind, app[kind])
    set_body_json(wire, body)


API_OPERATIONS = APPLICATION_OPERATIONS | {"delete", "badges"}
_OTHER_ORGANIZATION = "not authorized to access this organization"  # the emulator's 403 message


@variation(on=API_OPERATIONS)
def empty_401_and_403_bodies(wire: Wire, memory: dict[str, Any]) -> None:
    """401 and 403 answers have an empty body and no Content-Type (Doorkeeper's 401 is empty; the
    docs show no error bodies, RFC 6750 §3 requires only the WWW-Authenticate header)."""
    if wire.status in (401, 403):
        wire.body = b""
        set_header(wire, "Content-Type", None)


@variation(on=API_OPERATIONS)
def not_found_for_other_organizations(wire: Wire, memory: dict[str, Any]) -> None:
    """Another organization's resources answer 404 instead of 403 (hiding that they exist; the docs
    say nothing on either)."""
    if wire.status == 403 and _OTHER_ORGANIZATION.encode() in wire.body:
        wire.status = 404
        set_body_json(wire, {"data": {"message": "Not found"}, "metadata": {}})


_LIMITS = {"name": 255, "description": 2000}  # the emulator's; the docs set none


def _shorten_long_strings(wire: Wire, memory: dict[str, Any]) -> None:
    try:
        sent = json.loads(wire.request_body)
    except ValueError:
        return
    if not isinstance(sent, dict):
        return
    long_values = memory.setdefault("long", {})  # stand-in -> the long value that was sent
    for key, limit in _LIMITS.items():
        value = sent.get(key)
        if isinstance(value, str) and len(value) > limit:
            stand_in = f"long {key} #{len(long_values) + 1}"
            long_values[stand_in] = value
            sent[key] = stand_in
    wire.request_body = json.dumps(sent).encode()


@variation(on=APPLICATION_OPERATIONS, request=_shorten_long_strings)
def long_strings_accepted(wire: Wire, memory: dict[str, Any]) -> None:
    """Names and descriptions of any length are accepted and stored (a 10,000-character name too):
    the docs set no length limit and Doorkeeper validates presence only. The proxy keeps the long
    values and shows them wherever the application appears."""
    long_values: dict[str, str] = memory.get("long", {})

    def restore(app: dict[str, Any]) -> None:
        for key in _LIMITS:
            if app.get(key) in long_values:
                app[key] = long_values[app[key]]

    edit_applications(wire, restore)


def _clamp_paging(wire: Wire, memory: dict[str, Any]) -> None:
    params = query(wire)
    for name, default in (("page", 1), ("per", 50)):
        if name in params:
            try:
                number = int(params[name])
            except ValueError:
                number = default
            params[name] = str(max(1, min(number, 100)))
    with_query(wire, params)


@variation(on={"list", "badges"}, request=_clamp_paging)
def lenient_paging_parameters(wire: Wire, memory: dict[str, Any]) -> None:
    """page and per that are not whole numbers, below 1 or above 100 are clamped instead of refused
    (the docs name no bounds; Kaminari-style paginators clamp)."""


def _cap_per(wire: Wire, memory: dict[str, Any]) -> None:
    params = query(wire)
    try:
        per = int(params.get("per", "25"))
    except ValueError:
        return  # left for the server to refuse
    params["per"] = str(min(per, 25))
    with_query(wire, params)


@variation(on={"list", "badges"}, request=_cap_per)
def per_capped_at_25(wire: Wire, memory: dict[str, Any]) -> None:
    """25 per page by default and at most, whatever per asks for; metadata.per says 25 (the docs
    show per 50 in one example, never a default or a maximum)."""


@variation(on=API_OPERATIONS)
def bearer_challenge_with_parameters(wire: Wire, memory: dict[str, Any]) -> None:
    """401 challenges carry a realm, error and error_description (RFC 6750 §3 allows all three)."""
    if wire.status == 401:
        challenge = (
            'Bearer realm="Credly", error="invalid_token", error_description="Invalid token"'
        )
        set_header(wire, "WWW-Authenticate", challenge)


@variation()
def charset_on_the_content_type(wire: Wire, memory: dict[str, Any]) -> None:
    """JSON answers say Content-Type: application/json; charset=utf-8 (RFC 8259 §11: the parameter
    has no effect, and Rails sends it)."""
    if body_json(wire) is not None:
        set_header(wire, "Content-Type", "application/json; charset=utf-8")


@variation(on={"token"})
def token_with_a_refresh_token(wire: Wire, memory: dict[str, Any]) -> None:
    """Token responses carry a refresh_token (RFC 6749 §4.4.3 says SHOULD NOT for client
    credentials, not MUST NOT; §5.1 lists it as OPTIONAL)."""
    edit_json(wire, lambda body: body.update(refresh_token="r" * 43))


@variation(on={"token"})
def token_with_an_unknown_field(wire: Wire, memory: dict[str, Any]) -> None:
    """Token responses carry an undocumented field (RFC 6749 §5.1: "The client MUST ignore
    unrecognized value names in the response")."""
    edit_json(wire, lambda body: body.update(resource_owner_id=None))


@variation(on={"token"})
def token_type_in_lower_case(wire: Wire, memory: dict[str, Any]) -> None:
    """token_type is "bearer" (RFC 6749 §5.1: the value is case insensitive)."""
    edit_json(wire, lambda body: body.update(token_type="bearer"))


@variation(on={"token"})
def granted_scopes_in_another_order(wire: Wire, memory: dict[str, Any]) -> None:
    """The granted scope lists its scopes in reverse order (RFC 6749 §3.3: the order does not
    matter)."""
    edit_json(wire, lambda body: body.update(scope=" ".join(reversed(body["scope"].split()))))


@variation(on={"token"})
def token_expires_in_one_hour(wire: Wire, memory: dict[str, Any]) -> None:
    """expires_in is 3600, not the docs' example 7200 (RFC 6749 §5.1: the lifetime in seconds; the
    docs never say it is fixed)."""
    edit_json(wire, lambda body: body.update(expires_in=3600))


@variation(on={"token"})
def no_store_among_other_cache_directives(wire: Wire, memory: dict[str, Any]) -> None:
    """Token answers say Cache-Control: private, max-age=0, No-Store (RFC 9111 §5.2: directives are
    case-insensitive and unordered; RFC 6749 §5.1 asks only for no-store)."""
    set_header(wire, "Cache-Control", "private, max-age=0, No-Store")


@variation(on={"list", "badges"})
def page_links_with_more_parameters(wire: Wire, memory: dict[str, Any]) -> None:
    """previous_page_url and next_page_url carry an extra query parameter and list it first (the
    docs show the links only as null; any URL that leads to the page is one)."""

    def change(body: Any) -> None:
        metadata = body.get("metadata") if isinstance(body, dict) else None
        for key in ("previous_page_url", "next_page_url"):
            url = metadata.get(key) if isinstance(metadata, dict) else None
            if isinstance(url, str):
                base, _, rest = url.partition("?")
                metadata[key] = f"{base}?sort=created_at&{rest}"

    edit_json(wire, change)


@variation(on=API_OPERATIONS)
def error_bodies_in_another_shape(wire: Wire, memory: dict[str, Any]) -> None:
    """4xx answers from the API use a JSON:API-style error list instead of Credly's envelope (the
    docs show no error bodies)."""
    if 400 <= wire.status < 500 and wire.body:
        set_body_json(wire, {"errors": [{"status": str(wire.status), "title": "Refused"}]})


@variation(on=APPLICATION_OPERATIONS)
def created_after_updated(wire: Wire, memory: dict[str, Any]) -> None:
    """created_at lies after updated_at: odd, but the docs state no order between the two
    timestamps, so the suite records an observation and certifies (issue 10: assert only what the
    docs say)."""
    edit_applications(wire, lambda app: app.update(created_at="2099-01-01T00:00:00.000Z"))


# Faults: contract-breaking ----------------------------------------------------------------------------


@fault("APP-CREATE", "APP-SCHEMA", on={"create"})
def created_id_as_a_string(wire: Wire, memory: dict[str, Any]) -> None:
    """Create answers "id": "7" (the docs show an integer id; the contract types it integer)."""
    edit_applications(wire, lambda app: app.update(id=str(app["id"])))


@fault("APP-SCHEMA", on=APPLICATION_OPERATIONS)
def application_without_created_by_name(wire: Wire, memory: dict[str, Any]) -> None:
    """Application objects lack created_by_name (a documented field of every application)."""
    edit_applications(wire, lambda app: app.pop("created_by_name", None))


@fault("APP-SCHEMA", on=APPLICATION_OPERATIONS)
def creator_available_as_a_string(wire: Wire, memory: dict[str, Any]) -> None:
    """creator_available is "true", a string, not the documented boolean."""
    edit_applications(
        wire, lambda app: app.update(creator_available=str(app["creator_available"]).lower())
    )


@fault("APP-SCHEMA", on={"list"})
def uid_null_in_the_list(wire: Wire, memory: dict[str, Any]) -> None:
    """The list shows "uid": null (the docs show the client id as a string everywhere)."""
    edit_applications(wire, lambda app: app.update(uid=None))


@fault("APP-CREATE", on={"create"})
def create_answers_202(wire: Wire, memory: dict[str, Any]) -> None:
    """Create answers 202 Accepted (the docs: 201 Created)."""
    if wire.status == 201:
        wire.status = 202


@fault("APP-CREATE", on={"create"})
def created_name_trimmed(wire: Wire, memory: dict[str, Any]) -> None:
    """Create answers a name other than the one sent (its first 3 characters) while storing the
    right one: the create answer is wrong (APP-CREATE). Updates keep the name the server holds, so
    APP-UPDATE is not blamed for the create's answer."""
    edit_applications(wire, lambda app: app.update(name=app["name"][:3]))


@fault("APP-GET", on={"get"})
def get_without_metadata(wire: Wire, memory: dict[str, Any]) -> None:
    """Get answers the application without the metadata object (the docs: "data" and "metadata")."""
    edit_json(wire, lambda body: body.pop("metadata", None))


@fault("APP-LIST", "PAGE-META", "APP-CREATE", on={"list"})
def list_data_as_an_object(wire: Wire, memory: dict[str, Any]) -> None:
    """The list's data is an object keyed by id, not the documented array: the list and its pages
    break, and no created application "then appears ... in the list" (APP-CREATE)."""
    edit_json(wire, lambda body: body.update(data={str(app["id"]): app for app in body["data"]}))


@fault("APP-DELETE", on={"delete"})
def delete_answers_202(wire: Wire, memory: dict[str, Any]) -> None:
    """Delete answers 202 Accepted (the docs: 204 No Content)."""
    if wire.status == 204:
        wire.status = 202


@fault("APP-SECRET-ONCE", on={"update"})
def secret_shown_on_update(wire: Wire, memory: dict[str, Any]) -> None:
    """Update shows a client secret (the docs: create is "the only time you will get to see the
    client secret")."""
    edit_applications(wire, lambda app: app.update(secret="s" * 43))


@fault("APP-UPDATE", on={"update"})
def update_answers_a_new_uid(wire: Wire, memory: dict[str, Any]) -> None:
    """Update answers another uid than the application has: a new Client ID (the docs' update
    example answers the uid the application had; a rotated one strands every partner using it)."""
    edit_applications(wire, lambda app: app.update(uid=_fake("uid", app["uid"])))


@fault("APP-UPDATE", on={"update"})
def update_answers_created_at_of_the_update(wire: Wire, memory: dict[str, Any]) -> None:
    """Update answers created_at equal to updated_at, the time of the update (the docs' update
    example answers the created_at the application had)."""
    edit_applications(wire, lambda app: app.update(created_at=app["updated_at"]))


def _other_field(wire: Wire) -> str | None:
    """The one documented field an update did not send, when it sent the other one."""
    try:
        sent = json.loads(wire.request_body)
    except ValueError:
        return None
    fields = {"name", "description"} & set(sent if isinstance(sent, dict) else ())
    return next(iter({"name", "description"} - fields)) if len(fields) == 1 else None


@fault("APP-UPDATE", on={"update"})
def update_answers_the_other_field_changed(wire: Wire, memory: dict[str, Any]) -> None:
    """An update that sent only the name answers another description (and one that sent only the
    description, another name): the field it was not sent changed (docs: both are Optional; what is
    not sent stays as it was)."""
    other = _other_field(wire)
    if other is not None:
        edit_applications(wire, lambda app: app.update({other: f"{app[other]} (changed)"}))


def _neighbour(wire: Wire) -> str | None:
    """The URL of an application of the organization the certification did not create (one the
    emulator seeded), read from the target through the proxy's own client."""
    assert wire.upstream is not None
    path = urlsplit(wire.path).path.rsplit("/", 1)[0]
    auth = {k: v for k, v in wire.request_headers.items() if k.lower() == "authorization"}
    listing = wire.upstream.get(path, params={"per": 100}, headers=auth).json()
    for app in listing.get("data") or []:
        if str(app.get("name", "")).startswith("Existing application"):
            return f"{path}/{app['id']}"
    return None


@fault("APP-DELETE", on={"delete"}, neighbours=8)
def delete_removes_a_neighbour(wire: Wire, memory: dict[str, Any]) -> None:
    """A successful delete also deletes another application of the organization (one the run did
    not create): the docs' DELETE names one application; deleting more is the worst a staging server
    can do to an organization."""
    neighbour = _neighbour(wire) if wire.status == 204 else None
    if neighbour is not None and wire.upstream is not None:
        auth = {k: v for k, v in wire.request_headers.items() if k.lower() == "authorization"}
        wire.upstream.delete(neighbour, headers=auth)
        wire.headers["X-Also-Deleted"] = neighbour  # what makes the rewrite count as a change


@fault("PAGE-META", on={"list"})
def metadata_count_off_by_one(wire: Wire, memory: dict[str, Any]) -> None:
    """metadata.count is one more than the items on the page."""
    edit_json(wire, lambda body: body["metadata"].update(count=body["metadata"]["count"] + 1))


@fault("PAGE-META", on={"list"})
def total_pages_off_by_one(wire: Wire, memory: dict[str, Any]) -> None:
    """metadata.total_pages is one more than ceil(total_count / per)."""
    edit_json(
        wire, lambda body: body["metadata"].update(total_pages=body["metadata"]["total_pages"] + 1)
    )


@fault("BADGES-LIST", "PAGE-META", on={"badges"})
def badges_without_metadata(wire: Wire, memory: dict[str, Any]) -> None:
    """The badges list answers data without the pagination metadata (its pages are checked under
    PAGE-META too, as with the emulator fault badges_wrong_envelope)."""
    edit_json(wire, lambda body: body.pop("metadata", None))


@fault("TOKEN-ISSUE", on={"token"})
def token_without_token_type(wire: Wire, memory: dict[str, Any]) -> None:
    """Token responses lack token_type (docs and RFC 6749 §5.1: REQUIRED)."""
    edit_json(wire, lambda body: body.pop("token_type"))


@fault("TOKEN-ISSUE", on={"token"})
def expires_in_as_a_string(wire: Wire, memory: dict[str, Any]) -> None:
    """expires_in is "7200", a string (the docs show a number; RFC 6749 §5.1: seconds)."""
    edit_json(wire, lambda body: body.update(expires_in=str(body["expires_in"])))


@fault("TOKEN-ISSUE", "TOKEN-SCOPE", on={"token"})
def token_without_scope(wire: Wire, memory: dict[str, Any]) -> None:
    """Token responses lack scope (the docs show it; the granted scope cannot be checked)."""
    edit_json(wire, lambda body: body.pop("scope"))


@fault("OAUTH-NO-STORE", on={"token"})
def token_cacheable_for_an_hour(wire: Wire, memory: dict[str, Any]) -> None:
    """Successful token answers say Cache-Control: public, max-age=3600 (RFC 6749 §5.1: no-store)."""
    if wire.status == 200:
        set_header(wire, "Cache-Control", "public, max-age=3600")


@fault("OAUTH-GRANT-TYPE", on={"token"})
def unsupported_grant_type_as_invalid_request(wire: Wire, memory: dict[str, Any]) -> None:
    """An unsupported grant_type answers invalid_request (RFC 6749 §5.2: unsupported_grant_type)."""
    if b'"unsupported_grant_type"' in wire.body:
        edit_json(wire, lambda body: body.update(error="invalid_request"), any_status=True)


@fault("BEARER-CHALLENGE", on=API_OPERATIONS)
def basic_challenge(wire: Wire, memory: dict[str, Any]) -> None:
    """401 answers challenge with Basic, not Bearer (RFC 6750 §3)."""
    if wire.status == 401:
        set_header(wire, "WWW-Authenticate", 'Basic realm="Credly"')


@fault("BEARER-REQUIRED", on=API_OPERATIONS)
def no_token_answers_403(wire: Wire, memory: dict[str, Any]) -> None:
    """A request without an Authorization header answers 403, not 401 (RFC 6750 §3.1: a missing
    token is 401)."""
    sent_no_token = not any(k.lower() == "authorization" for k in wire.request_headers)
    if wire.status == 401 and sent_no_token:
        wire.status = 403


@fault("SEC-TENANT", on={"list"})
def other_organizations_list_served(wire: Wire, memory: dict[str, Any]) -> None:
    """Listing another organization's applications answers 200 with an empty page instead of a
    refusal (a token acts for its own organization only)."""
    if wire.status == 403 and _OTHER_ORGANIZATION.encode() in wire.body:
        wire.status = 200
        empty = {"count": 0, "current_page": 1, "total_count": 0, "total_pages": 0, "per": 50}
        set_body_json(
            wire,
            {"data": [], "metadata": {**empty, "previous_page_url": None, "next_page_url": None}},
        )


@fault("SEC-NO-5XX", on={"list"})
def server_error_past_the_last_page(wire: Wire, memory: dict[str, Any]) -> None:
    """A page past the last one answers 500 (a 5xx means unhandled input)."""
    body = body_json(wire)
    if (
        wire.status == 200
        and isinstance(body, dict)
        and body.get("data") == []
        and "page" in query(wire)
    ):
        wire.status = 500
        set_header(wire, "Content-Type", "text/plain")
        wire.body = b"Internal Server Error"


VARIATIONS = sorted(name for name, r in REWRITES.items() if not r.is_fault)
FAULTS = sorted(name for name, r in REWRITES.items() if r.is_fault)
