"""The emulator's state: organizations, OAuth applications, issued badges and access tokens.

It knows nothing of HTTP: handlers call it with plain values and it raises the domain errors below.
Every mutation holds one lock, so parallel workers never see a torn state or a duplicated id.
"""

from __future__ import annotations

import functools
import hmac
import math
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from credly_contract.emulator.faults import Faults

NAME_MAX_LENGTH = 255
DESCRIPTION_MAX_LENGTH = 2000
DEFAULT_PER = 50
MAX_PER = 100
DEFAULT_TOKEN_LIFETIME = 7200


class NotFound(LookupError):
    """The organization or application does not exist (for this caller)."""


class Invalid(ValueError):
    """The input breaks a validation rule; nothing was changed."""


def new_credential() -> str:
    """A 43-character URL-safe random string, as Doorkeeper issues for uid, secret and tokens."""
    return secrets.token_urlsafe(32)


class Clock:
    """Wall-clock time that tests can move forward, so token expiry needs no waiting."""

    def __init__(self) -> None:
        self._offset = 0.0

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds


@functools.lru_cache(maxsize=65536)
def iso8601(epoch: float) -> str:
    # Cached: formatting dominated the cost of a list (each application has two timestamps).
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class Creator:
    id: str
    type: str
    name: str


@dataclass
class Application:
    id: int
    organization_id: str
    name: str
    description: str | None
    uid: str
    secret: str
    created_at: float
    updated_at: float
    creator: Creator
    internal_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def secret_matches(self, candidate: str) -> bool:
        return hmac.compare_digest(self.secret.encode(), candidate.encode())


@dataclass
class Token:
    value: str
    application_id: int
    organization_id: str
    scopes: tuple[str, ...]
    created_at: float
    expires_in: int
    revoked: bool = False

    def active(self, now: float) -> bool:
        return not self.revoked and now < self.created_at + self.expires_in


@dataclass
class Organization:
    id: str
    name: str
    owner: Creator
    badges: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Page:
    items: list[Any]
    page: int
    per: int
    total_count: int
    total_pages: int


class Store:
    def __init__(
        self,
        clock: Clock | None = None,
        faults: Faults | None = None,
        token_lifetime: int = DEFAULT_TOKEN_LIFETIME,
    ) -> None:
        self.clock = clock or Clock()
        self.faults = faults or Faults()
        self.token_lifetime = token_lifetime
        self._lock = threading.RLock()
        self._next_id = 1
        self.organizations: dict[str, Organization] = {}
        self.applications: dict[int, Application] = {}
        self.tokens: dict[str, Token] = {}
        self._deleted: dict[int, Application] = {}

    # Organizations -------------------------------------------------------------------------

    def add_organization(
        self,
        organization_id: str | None = None,
        name: str = "Emulated Organization",
        badges: int = 3,
    ) -> Organization:
        with self._lock:
            org_id = organization_id or str(uuid.uuid4())
            owner = Creator(id=str(uuid.uuid4()), type="User", name="John Doe")
            org = Organization(id=org_id, name=name, owner=owner)
            now = self.clock.now()
            for n in range(badges):
                org.badges.append(
                    {
                        "id": str(uuid.uuid4()),
                        "state": "accepted",
                        "issued_at": iso8601(now),
                        "issued_to": f"Recipient {n + 1}",
                        "recipient_email": f"recipient{n + 1}@example.com",
                        "badge_template": {"id": str(uuid.uuid4()), "name": f"Badge {n + 1}"},
                    }
                )
            self.organizations[org_id] = org
            return org

    def organization(self, organization_id: str) -> Organization:
        org = self.organizations.get(organization_id)
        if org is None:
            raise NotFound(f"organization {organization_id} not found")
        return org

    # Applications --------------------------------------------------------------------------

    def validate(self, fields: dict[str, Any], *, creating: bool) -> dict[str, Any]:
        """The accepted changes from a create or update body, or Invalid naming the bad field."""
        accepted: dict[str, Any] = {}
        coerce = "type_coercion" in self.faults
        for key, limit in (("name", NAME_MAX_LENGTH), ("description", DESCRIPTION_MAX_LENGTH)):
            if key not in fields:
                continue
            value = fields[key]
            if coerce and isinstance(value, int | float | bool):
                value = str(value)
            if key == "description" and value is None:
                accepted[key] = None
                continue
            if not isinstance(value, str):
                raise Invalid(f"{key} must be a string, not {type(value).__name__}")
            if len(value) > limit:
                raise Invalid(
                    f"{key} is too long ({len(value)} characters; the maximum is {limit})"
                )
            if key == "name" and not value.strip() and "name_not_required" not in self.faults:
                raise Invalid("name can't be blank")
            accepted[key] = value
        if creating and "name" not in accepted and "name_not_required" not in self.faults:
            raise Invalid("name is required")
        return accepted

    def create_application(
        self, organization_id: str, fields: dict[str, Any], creator: Creator | None = None
    ) -> Application:
        with self._lock:
            org = self.organization(organization_id)
            accepted = self.validate(fields, creating=True)
            now = self.clock.now()
            app = Application(
                id=self._next_id,
                organization_id=org.id,
                name=accepted.get("name", ""),
                description=accepted.get("description"),
                uid=new_credential(),
                secret=new_credential(),
                created_at=now,
                updated_at=now,
                creator=creator or org.owner,
            )
            self._next_id += 1
            if "created_not_persisted" not in self.faults:
                self.applications[app.id] = app
            return app

    def application(self, organization_id: str, application_id: int) -> Application:
        app = self.applications.get(application_id)
        if app is None or app.organization_id != organization_id:
            raise NotFound(f"OAuth application {application_id} not found")
        return app

    def list_applications(self, organization_id: str) -> list[Application]:
        self.organization(organization_id)
        with self._lock:
            apps = [a for a in self.applications.values() if a.organization_id == organization_id]
        return sorted(apps, key=lambda a: a.id)

    def update_application(
        self, organization_id: str, application_id: int, fields: dict[str, Any]
    ) -> Application:
        with self._lock:
            app = self.application(organization_id, application_id)
            accepted = self.validate(fields, creating=False)
            if "update_clears_omitted" in self.faults:
                accepted = {"name": accepted.get("name", app.name), "description": None} | accepted
            if "update_renames_when_not_asked" in self.faults and "name" not in accepted:
                accepted["name"] = f"{app.name} (updated)"
            target = app
            if "update_not_persisted" in self.faults:
                target = Application(**{**app.__dict__})
            for key, value in accepted.items():
                setattr(target, key, value)
            if "update_rotates_credentials" in self.faults:
                target.uid, target.secret = new_credential(), new_credential()
            if "update_resets_created_at" in self.faults:
                target.created_at = self.clock.now()
            target.updated_at = max(self.clock.now(), target.created_at)
            if "update_changes_a_neighbour" in self.faults:
                for neighbour in self._neighbours(app)[:1]:
                    for key, value in accepted.items():
                        setattr(neighbour, key, value)
            return target

    def _neighbours(self, app: Application) -> list[Application]:
        """The other applications of ``app``'s organization that were created in the web application
        (not through the API), other than the one that created ``app``: what the neighbour faults
        reach for, so that the applications a certification creates and relies on (and its
        bootstrap application) stay out of their way and a run fails exactly one requirement."""
        return [
            other
            for other in self.list_applications(app.organization_id)
            if other.id != app.id
            and other.creator.type == "User"
            and other.internal_id != app.creator.id
        ]

    def delete_application(self, organization_id: str, application_id: int) -> None:
        with self._lock:
            app = self.application(organization_id, application_id)
            if "delete_not_persisted" in self.faults:
                return
            if "delete_removes_a_neighbour" in self.faults:
                for neighbour in self._neighbours(app)[:1]:
                    del self.applications[neighbour.id]
                    self._deleted[neighbour.id] = neighbour
            del self.applications[app.id]
            self._deleted[app.id] = app
            if "tokens_survive_delete" in self.faults:
                return
            for token in self.tokens.values():
                if token.application_id == app.id:
                    token.revoked = True

    def application_json(self, app: Application, *, reveal_secret: bool = False) -> dict[str, Any]:
        """The documented JSON shape; the secret is shown only when the caller just created it."""
        show_secret = reveal_secret or "secret_on_read" in self.faults
        stamp: Any = iso8601
        if "timestamps_not_iso" in self.faults:
            stamp = int
        return {
            "id": app.id,
            "name": app.name,
            "description": app.description,
            "created_at": stamp(app.created_at),
            "updated_at": stamp(app.updated_at),
            "uid": app.uid,
            "created_by_id": app.creator.id,
            "created_by_type": app.creator.type,
            "created_by_name": app.creator.name,
            "creator_available": True,
            "secret": app.secret if show_secret else None,
        }

    # Clients and tokens --------------------------------------------------------------------

    def client(self, uid: str, secret: str) -> Application | None:
        """The application owning these credentials, or None."""
        with self._lock:
            candidates = list(self.applications.values())
            if "tokens_survive_delete" in self.faults:
                candidates += self._deleted.values()
        for app in candidates:
            if hmac.compare_digest(app.uid.encode(), uid.encode()) and app.secret_matches(secret):
                if "new_credentials_rejected" in self.faults and app.creator.type != "User":
                    return None
                return app
        return None

    def issue_token(self, app: Application, scopes: tuple[str, ...]) -> Token:
        with self._lock:
            token = Token(
                value=new_credential(),
                application_id=app.id,
                organization_id=app.organization_id,
                scopes=scopes,
                created_at=self.clock.now(),
                expires_in=self.token_lifetime,
            )
            self.tokens[token.value] = token
            return token

    def token(self, value: str) -> Token | None:
        token = self.tokens.get(value)
        if token is None or not token.active(self.clock.now()):
            return None
        return token

    # Pagination ----------------------------------------------------------------------------

    def paginate(self, items: list[Any], page: int, per: int) -> Page:
        if per == 0 and "per_zero_500" in self.faults:
            raise ZeroDivisionError("per=0 reached the pagination arithmetic")
        total = len(items)
        total_pages = (
            total // per if "pagination_arithmetic" in self.faults else math.ceil(total / per)
        )
        start = (page - 1) * per
        return Page(items[start : start + per], page, per, total, total_pages)
