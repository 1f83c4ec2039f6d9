"""One certification run's live objects: the target (and the emulator behind it), the HTTP client,
cached tokens and the applications the run created. The pytest plugin builds one per session."""

from __future__ import annotations

import contextlib
import functools
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from credly_contract import spec
from credly_contract.checks import CheckFailed, Tally, prerequisite
from credly_contract.checks.applications import (
    create_answers_201_with_application,
    created_application_has_uid,
    list_answers_200_with_data_and_metadata,
    secret_shown_on_create,
)
from credly_contract.checks.oauth import token_response_is_well_formed
from credly_contract.config import ConfigError, Target, TargetUnreachable
from credly_contract.http_client import AnswerLost, ApiClient, Exchange, Limits
from credly_contract.ledger import ApplicationId, Ledger, application_id_of, resource_name
from credly_contract.preflight import preflight
from credly_contract.profiles import Profile

if TYPE_CHECKING:
    from credly_contract.emulator.server import EmulatorServer


def list_all(
    client: ApiClient, target: Target, token: str, max_pages: int = 50
) -> list[dict[str, Any]]:
    """Every application object in the organization: follows next_page_url, or counts pages up
    until an empty one when the server sends no links."""
    items: list[dict[str, Any]] = []
    url: str | None = target.applications_url()
    params: dict[str, Any] | None = {"page": 1, "per": 100}
    for page in range(1, max_pages + 1):
        exchange = client.get(url or target.applications_url(), token=token, params=params)
        body = exchange.json() if isinstance(exchange.json(), dict) else {}
        data = [a for a in body.get("data") or [] if isinstance(a, dict)]
        items += data
        meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else None
        if meta is not None:
            link = meta.get("next_page_url")
            if not link or not isinstance(link, str):
                break
            url, params = target.link_to_follow(link, exchange.url, page + 1, 100)
        elif not data:
            break
        else:
            url, params = None, {"page": page + 1, "per": 100}
    return items


def new_run_id() -> str:
    return secrets.token_hex(4)


class Tokens:
    """Access tokens of the bootstrap application, fetched once per scope set and shared by every
    test (the token answers too: a test that judges a token request for scopes another test already
    asked for judges that answer, and sends nothing). The preflight proved the bootstrap may have
    every scope, so a token endpoint that then issues no usable token breaks TOKEN-ISSUE: that fails
    the requirement (PrerequisiteFailed), it is no configuration error."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._cache: dict[frozenset[str], str] = {}
        self._answers: dict[frozenset[str], Exchange] = {}

    def get(self, *scopes: str, fresh: bool = False) -> str:
        """A token for exactly these scopes; ``fresh`` fetches a new one (an old one may expire)."""
        key = frozenset(scopes)
        if fresh:
            self._cache.pop(key, None)
            self._answers.pop(key, None)
        if key not in self._cache:
            exchange = self.issue(*scopes)
            token = exchange.access_token()
            if token is None:
                # Only a usable token is required to go on; the checks say what is wrong with it.
                token = prerequisite(token_response_is_well_formed, exchange)
            self._cache[key] = token
        return self._cache[key]

    def for_operation(self, *operation_ids: str, fresh: bool = False) -> str:
        """A token for these API operations: the scopes their security requirements name in the
        contract (openapi/credly.yaml), so no caller restates which scope an operation needs."""
        scopes = sorted({spec.required_scope(operation_id) for operation_id in operation_ids})
        return self.get(*scopes, fresh=fresh)

    def issue(self, *scopes: str) -> Exchange:
        """The token endpoint's answer to a request for exactly these scopes: the one that issued
        the shared token when there is one, else a new request (its token shared when usable)."""
        key = frozenset(scopes)
        if key in self._answers:
            return self._answers[key]
        exchange = self.client.request_token(" ".join(sorted(key)))
        token = exchange.access_token()
        if token is not None:
            self._answers[key] = exchange
            self._cache[key] = token
        return exchange

    def remember(self, scopes: list[str], exchange: Exchange) -> None:
        """Share a token answer some other request got (the preflight's, for every scope)."""
        token = exchange.access_token()
        if token is not None:
            self._cache[frozenset(scopes)] = token
            self._answers[frozenset(scopes)] = exchange

    def forget(self) -> None:
        self._cache.clear()
        self._answers.clear()


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
        """POST a create and ledger whatever the server says it created, whatever the status. A
        create whose answer was lost is reconciled and sent once more: see ``reconcile``."""
        post = functools.partial(
            self.client.post,
            self.target.applications_url(),
            json=body,
            token=self.tokens.for_operation("createOAuthApplication"),
            **kwargs,
        )
        try:
            exchange = post()
        except AnswerLost:
            if not self.reconcile(body):
                raise
            exchange = post()
        self.note_created(exchange)
        return exchange

    def reconcile(self, body: Any) -> bool:
        """After a create's answer was lost: find what it may have created by its unique run-scoped
        name and delete it (its one-time secret was in the lost answer, so it is of no use), so that
        the create can be sent once more. False when the body carries no such name (a nameless
        create the server should refuse): the test that sent it runs again instead."""
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name.startswith(resource_name(self.ledger.run_id, "")):
            return False
        self.client.lost = None  # settled here: the listing and deletes below may go out
        organization_id = self.target.organization_id
        token = self.tokens.for_operation("listOAuthApplications", "deleteOAuthApplication")
        for app in list_all(self.client, self.target, token):
            app_id = application_id_of(app)
            if app_id is None or app.get("name") != name:
                continue
            self.ledger.created(organization_id, app_id, name)
            deleted = self.client.delete(self.target.application_url(app_id), token=token)
            if deleted.status in (204, 200, 404, 410):
                self.ledger.deleted(organization_id, app_id)
        self.client.lost_answers.reconciled += 1
        return True

    def note_created(self, exchange: Exchange, organization_id: str | None = None) -> None:
        """Ledger what a 2xx create says it created, whatever the type of its id."""
        body = exchange.json()
        data = body.get("data") if isinstance(body, dict) else None
        application_id = application_id_of(data)
        if exchange.status < 300 and application_id is not None:
            self.ledger.created(
                organization_id or self.target.organization_id,
                application_id,
                str((data or {}).get("name")),
            )

    def new_application(self, label: str = "app", **fields: Any) -> tuple[Exchange, dict[str, Any]]:
        """Create an application a test needs; a create that breaks the contract fails APP-CREATE
        (PrerequisiteFailed) rather than leaving the test to trip over a missing field."""
        body = {
            "name": self.name(label),
            "description": f"Created by credly-contract run {self.ledger.run_id}.",
        }
        body.update(fields)
        exchange = self.create(body)
        data = prerequisite(create_answers_201_with_application, exchange, body)
        return exchange, data

    @staticmethod
    def credentials(created: Exchange) -> dict[str, str]:
        """The client id and secret a create answered, as token-request parameters; a create that
        shows neither breaks APP-SCHEMA or APP-SECRET-ONCE (PrerequisiteFailed)."""
        return {
            "client_id": prerequisite(created_application_has_uid, created),
            "client_secret": prerequisite(secret_shown_on_create, created),
        }

    def scratch_application(self) -> ApplicationId:
        """The id of an application this run created, for generated updates and deletes to hit."""
        for entry in self.ledger.outstanding():
            if entry["organization_id"] == self.target.organization_id:
                owned: ApplicationId = entry["application_id"]
                return owned
        _, data = self.new_application("scratch")
        created: ApplicationId = data["id"]
        return created

    def readable_application(self) -> ApplicationId:
        """An application id to read: a scratch one, or under a read-only client, the first existing one
        (reading changes nothing)."""
        if not self.client.read_only:
            return self.scratch_application()
        listing = self.client.get(
            self.target.applications_url(),
            token=self.tokens.for_operation("listOAuthApplications"),
            params={"per": 1},
        )
        data = prerequisite(list_answers_200_with_data_and_metadata, listing)
        found = application_id_of(data[0]) if data else None
        if found is None:
            # An empty organization is no contract break; there is just nothing to read.
            pytest.skip("the organization lists no application to read (read-only profile)")
        return found

    def delete(self, application_id: ApplicationId) -> Exchange:
        if not self.ledger.owns(self.target.organization_id, application_id):
            raise PermissionError(
                f"refusing to delete application {application_id}: this run did not create it"
            )
        exchange = self.client.delete(
            self.target.application_url(application_id),
            token=self.tokens.for_operation("deleteOAuthApplication"),
        )
        if exchange.status in (204, 200, 404):
            self.ledger.deleted(self.target.organization_id, application_id)
        if exchange.repeated and exchange.status in (404, 410):
            # The first DELETE's answer was lost and the server acted on it: this 404 answers the
            # repeat, and is no answer for a test to judge.
            self.client.lost = AnswerLost(
                f"DELETE {exchange.url}: the answer was lost; sent again, it answered "
                f"{exchange.status} (the first one deleted it)"
            )
            raise self.client.lost
        return exchange

    def adopt_unledgered(self) -> None:
        """Ledger what carries this run's name but missed the ledger: a create whose answer never
        arrived (Ctrl-C, a dropped connection) may still have created an application."""
        prefix = resource_name(self.ledger.run_id, "")
        organization_id = self.target.organization_id
        token = self.tokens.for_operation("listOAuthApplications")
        for app in list_all(self.client, self.target, token):
            app_id, name = application_id_of(app), str(app.get("name"))
            if app_id is None or not name.startswith(prefix):
                continue
            if not self.ledger.owns(organization_id, app_id):
                self.ledger.created(organization_id, app_id, name)

    def cleanup(self) -> list[dict[str, Any]]:
        """Delete everything still in the ledger; returns what could not be deleted.

        Teardown first adopts anything named after the run that the ledger missed, is never
        stopped by the request budget, gives a target that broke mid-run one more try, and stops at
        the first request that cannot reach it: the rest stay in the ledger for
        `credly-contract sweep`, and a dead target does not cost a timeout per application.
        """
        self.client.limits.budget = None
        self.client.broken = None
        self.client.lost = None
        # If this fails, the deletes below fail the same way and report what is left. A contract
        # break met here has been judged where the tests met it; cleanup only needs to go on.
        with contextlib.suppress(TargetUnreachable, ConfigError, CheckFailed):
            self.adopt_unledgered()
        left = []
        for entry in self.ledger.outstanding():
            try:
                exchange = self.delete(entry["application_id"])
                if exchange.status == 401:  # the run outlived its token
                    self.tokens.forget()
                    exchange = self.delete(entry["application_id"])
            except AnswerLost:
                self.client.lost = None  # deleted, its answer lost: the ledger says so
                continue
            except (TargetUnreachable, ConfigError, CheckFailed):
                left.append(entry)  # once unreachable, the client fails fast for the rest
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
        emulator: EmulatorServer | None = None,
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
        self.client.read_only = profile.read_only
        # How often each check judged during this run; counted while `checks.tallying(run.tally)`
        # is in force (the plugin holds it for the session), read with `run.tally.by_requirement()`.
        self.tally = Tally()

    def preflight(self) -> None:
        """Prove the configuration before any test: credentials, scopes, organization."""
        preflight(self.client, self.tokens.remember)

    def foreign_application_id(self) -> int | None:
        """An application id of another organization, where the target lets us know one (the emulator)."""
        if self.target.foreign_application_id:
            raw = self.target.foreign_application_id
            return int(raw) if raw.isdigit() else None
        return None if self.emulator is None else self.emulator.foreign_application_id

    def close(self) -> list[dict[str, Any]]:
        try:
            return self.resources.cleanup()
        finally:
            self.client.close()
