"""A Hypothesis state machine: create/get/list/update/delete in any order, with the server's answers
compared against a model of the applications this run created (APP-*, SEC-REVOKE-ON-DELETE)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    multiple,
    rule,
    run_state_machine_as_test,
)

from credly_contract import spec
from credly_contract.checks import applications as app_checks
from credly_contract.checks import security
from credly_contract.config import Target
from credly_contract.http_client import ApiClient, Exchange
from credly_contract.profiles import Profile
from credly_contract.session import Resources, Tokens, list_all

texts = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=40
).filter(str.strip)


def machine_for(
    api: ApiClient, target: Target, tokens: Tokens, apps: Resources, allowance: int | None = None
) -> type[RuleBasedStateMachine]:
    """The state machine class; ``allowance`` bounds the requests of each sequence."""
    token = tokens.for_operation(*spec.application_operations())

    class ApplicationLifecycle(RuleBasedStateMachine):
        created = Bundle("created")

        def __init__(self) -> None:
            super().__init__()
            self.model: dict[int, dict[str, Any]] = {}
            self.deleted: set[int] = set()
            self.credentials: dict[int, tuple[str, str]] = {}
            # A listing already compared with an unchanged model proves nothing new: not sent again.
            self.listed_unchanged = False
            self.steps_sent = 0  # requests of the steps so far (one each, a listing one)

        def _step(self) -> bool:
            """Whether this step may send its request (counted when it may): it must fit in the
            sequence's allowance with a listing and the deletes owed for what is alive kept in
            reserve; a step that does not fit sends nothing. Counted from the steps taken, never
            from the client, and never a precondition: Hypothesis replays a failing sequence and
            must draw the same steps, and steps it filters out cost it more sequences."""
            owed = 1 + len(self.model)
            if allowance is not None and self.steps_sent + 1 + owed > allowance:
                return False
            self.steps_sent += 1
            return True

        def _read(self, application_id: int) -> Exchange:
            exchange = api.get(target.application_url(application_id), token=token)
            app_checks.secret_hidden_after_create(exchange)
            app_checks.application_objects_match_schema(exchange)
            return exchange

        @rule(target=created, label=texts, description=st.none() | texts)
        def create(self, label: str, description: str | None) -> Any:
            if not self._step():
                return multiple()  # nothing created, nothing added to the bundle
            sent = {"name": apps.name(label[:30])}
            if description is not None:
                sent["description"] = description
            exchange = apps.create(sent)
            self.listed_unchanged = False
            data = app_checks.create_answers_201_with_application(exchange, sent)
            secret = app_checks.secret_shown_on_create(exchange)
            app_checks.application_objects_match_schema(exchange)
            app_checks.created_id_is_new(exchange, data["id"], set(self.model) | self.deleted)
            self.model[data["id"]] = {**data, "secret": None}
            self.credentials[data["id"]] = (data["uid"], secret)
            application_id: int = data["id"]  # an int: create_answers_201_with_application says so
            return application_id

        @rule(application_id=created)
        def get(self, application_id: int) -> None:
            if not self._step():
                return
            exchange = self._read(application_id)
            if application_id in self.deleted:
                app_checks.deleted_application_answers_404(exchange)
            else:
                app_checks.get_answers_200_with_data_and_metadata(exchange, application_id)
                app_checks.update_persisted(exchange, self.model[application_id])

        @rule(application_id=created, name=st.none() | texts, description=st.none() | texts)
        def update(self, application_id: int, name: str | None, description: str | None) -> None:
            if application_id in self.deleted or not self._step():
                return
            sent: dict[str, Any] = {}
            if name is not None:
                sent["name"] = apps.name(name[:30])
            if description is not None:
                sent["description"] = description
            exchange = api.put(target.application_url(application_id), json=sent, token=token)
            self.listed_unchanged = False
            app_checks.secret_hidden_after_create(exchange)
            app_checks.update_answers_200_with_changes(exchange, sent, self.model[application_id])
            self.model[application_id].update(sent)

        @rule(application_id=consumes(created))
        def delete(self, application_id: int) -> None:
            if application_id in self.deleted or not self._step():
                return  # unaffordable: left to teardown, which deletes what the model holds
            exchange = apps.delete(application_id)
            self.listed_unchanged = False
            self.model.pop(application_id)
            self.deleted.add(application_id)
            app_checks.delete_answers_204_without_body(exchange)

        @rule(application_id=created)
        def use_credentials(self, application_id: int) -> None:
            if not self._step():
                return
            uid, secret = self.credentials[application_id]
            exchange = api.request_token("issued_badges", client_id=uid, client_secret=secret)
            if application_id in self.deleted:
                security.deleted_application_credentials_refused(exchange)
            else:
                app_checks.created_credentials_obtain_token(exchange)

        @rule()
        def list_matches_model(self) -> None:
            if self.listed_unchanged:
                return
            self.listed_unchanged = True
            self.steps_sent += 1
            # The ids as the server wrote them; the checks judge them.
            listed: set[Any] = {a.get("id") for a in list_all(api, target, token)}
            exchange = api.recent[-1] if api.recent else None
            if exchange is not None:
                app_checks.secret_hidden_after_create(exchange)
            for application_id in self.model:
                app_checks.created_application_is_listed(listed, application_id, exchange)
            for application_id in self.deleted:
                app_checks.deleted_application_not_listed(listed, application_id, exchange)

        def teardown(self) -> None:
            self.list_matches_model()
            for application_id in list(self.model):
                if apps.ledger.owns(target.organization_id, application_id):
                    apps.delete(application_id)

    return ApplicationLifecycle


@pytest.mark.requirement(
    "APP-CREATE",
    "APP-GET",
    "APP-UPDATE",
    "APP-DELETE",
    "APP-SECRET-ONCE",
    "APP-CREDENTIALS",
    "APP-SCHEMA",
    "SEC-REVOKE-ON-DELETE",
)
def test_any_sequence_of_operations_agrees_with_the_model(
    api: ApiClient,
    target: Target,
    tokens: Tokens,
    apps: Resources,
    profile: Profile,
    mutating: None,
) -> None:
    if profile.stateful_examples == 0:
        pytest.skip("this profile runs no stateful sequences")
    machine = machine_for(api, target, tokens, apps, profile.stateful_sequence_requests)
    run_state_machine_as_test(
        machine,
        settings=profile.stateful_settings(),
    )
