"""One certification run's live objects: the target (and the emulator behind it), the HTTP client,
cached tokens and the applications the run created. The pytest plugin builds one per session."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

from suite import spec
from suite.client import ApiClient, Exchange, Limits
from suite.config import ConfigError, Target, TargetUnreachable
from suite.ledger import Ledger, resource_name
from suite.profiles import Profile


def new_run_id() -> str:
    return secrets.token_hex(4)


class Tokens:
    """Access tokens of the bootstrap application, fetched once per scope set."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._cache: dict[frozenset[str], str] = {}

    def get(self, *scopes: str) -> str:
        key = frozenset(scopes)
        if key not in self._cache:
            exchange = self.client.request_token(" ".join(sorted(key)))
            token = (exchange.json() or {}).get("access_token") if exchange.status == 200 else None
            if not isinstance(token, str) or not token:
                raise ConfigError(
                    f"the bootstrap application (CREDLY_CLIENT_ID) could not get a token for scope "
                    f"{' '.join(sorted(key))!r}: the token endpoint answered {exchange.status}; give it "
                    "every scope or fix CREDLY_CLIENT_ID/CREDLY_CLIENT_SECRET"
                )
            self._cache[key] = token
        return self._cache[key]

    def forget(self) -> None:
        self._cache.clear()


class Resources:
    """Creates applications named after the run, records them in the ledger, deletes only those."""

    def __init__(self, client: ApiClient, tokens: Tokens, ledger: Ledger) -> None:
        self.client = client
        self.tokens = tokens
        self.ledger = ledger
        self._labels = 0

    @property
    def target(self) -> Target:
        return self.client.target

    def name(self, label: str = "app") -> str:
        self._labels += 1
        return resource_name(self.ledger.run_id, f"{label} {self._labels}")

    def create(self, body: Any, **kwargs: Any) -> Exchange:
        """POST a create and ledger whatever the server says it created, whatever the status."""
        exchange = self.client.post(
            self.target.applications_url(), json=body, token=self.tokens.get("oauth_applications"), **kwargs
        )
        self.note_created(exchange)
        return exchange

    def note_created(self, exchange: Exchange, organization_id: str | None = None) -> None:
        data = (exchange.json() or {}).get("data") if isinstance(exchange.json(), dict) else None
        if exchange.status < 300 and isinstance(data, dict) and isinstance(data.get("id"), int):
            self.ledger.created(
                organization_id or self.target.organization_id, data["id"], str(data.get("name"))
            )

    def new_application(self, label: str = "app", **fields: Any) -> tuple[Exchange, dict[str, Any]]:
        body = {"name": self.name(label), "description": f"Created by credly-contract run {self.ledger.run_id}."}
        body.update(fields)
        exchange = self.create(body)
        data = (exchange.json() or {}).get("data") if isinstance(exchange.json(), dict) else None
        return exchange, data if isinstance(data, dict) else {}

    def scratch_application(self) -> int:
        """The id of an application this run created, for generated updates and deletes to hit."""
        for entry in self.ledger.outstanding():
            if entry["organization_id"] == self.target.organization_id:
                return int(entry["application_id"])
        exchange, data = self.new_application("scratch")
        if not isinstance(data.get("id"), int):
            raise TargetUnreachable(f"could not create a scratch application: {exchange.summary()}")
        return data["id"]

    def delete(self, application_id: int) -> Exchange:
        if not self.ledger.owns(self.target.organization_id, application_id):
            raise PermissionError(f"refusing to delete application {application_id}: this run did not create it")
        exchange = self.client.delete(
            self.target.application_url(application_id), token=self.tokens.get("oauth_applications")
        )
        if exchange.status in (204, 200, 404):
            self.ledger.deleted(self.target.organization_id, application_id)
        return exchange

    def cleanup(self) -> list[dict[str, Any]]:
        """Delete everything still in the ledger; returns what could not be deleted."""
        left = []
        for entry in self.ledger.outstanding():
            try:
                exchange = self.delete(entry["application_id"])
            except (TargetUnreachable, ConfigError):
                left.append(entry)
                continue
            if exchange.status not in (204, 200, 404):
                left.append(entry)
        return left


class CertificationRun:
    def __init__(
        self,
        target: Target,
        profile: Profile,
        run_id: str,
        work_dir: Path,
        limits: Limits | None = None,
        emulator: Any = None,
    ) -> None:
        self.target = target
        self.profile = profile
        self.run_id = run_id
        self.emulator = emulator
        self.started_at = time.time()
        self.client = ApiClient(target, limits)
        self.tokens = Tokens(self.client)
        self.ledger = Ledger(work_dir / f"ledger-{run_id}.jsonl", run_id)
        self.resources = Resources(self.client, self.tokens, self.ledger)

    def preflight(self) -> None:
        """Prove the configuration before any test: credentials, scopes, organization."""
        token = self.tokens.get(*spec.oauth_scopes())
        listing = self.client.get(self.target.applications_url(), token=token, params={"per": 1})
        if listing.status in (403, 404):
            raise ConfigError(
                f"CREDLY_ORGANIZATION_ID={self.target.organization_id} was refused ({listing.status}): "
                "is it the bootstrap application's organization?"
            )
        if listing.status == 401:
            raise ConfigError("a fresh token of the bootstrap application was refused (401) by the API")

    def foreign_application_id(self) -> int | None:
        """An application id of another organization, where the target lets us know one (the emulator)."""
        if self.emulator is None:
            return None
        app = self.emulator.store.client(self.emulator.foreign.client_id, self.emulator.foreign.client_secret)
        return app.id if app else None

    def close(self) -> list[dict[str, Any]]:
        left = self.resources.cleanup()
        self.client.close()
        return left
