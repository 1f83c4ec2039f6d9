"""Profiles trade depth for time: every profile checks every requirement; they differ in how many
generated examples and how long the stateful sequences are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hypothesis import settings


@dataclass(frozen=True)
class Profile:
    name: str
    examples: int
    stateful_examples: int
    stateful_steps: int
    pages: int
    read_only: bool = False
    description: str = ""
    # The default request budget against live targets: about 1.6x what the profile was measured
    # to send against the emulator (docs/staging.md), so retries fit and a runaway run stops.
    live_budget: int = 1500
    # Operations whose generated valid / invalid examples the profile drops because other tests of
    # the same profile already send such calls through the same checks (quick: APPLICATION_OPERATIONS).
    skip_generated_valid: tuple[str, ...] = ()
    skip_generated_invalid: tuple[str, ...] = ()
    # schemathesis's state machine over the OpenAPI links (create, then get/update/delete the id).
    linked_workflows: bool = True
    # The most requests one sequence of the Hypothesis state machine may send, the list and the
    # deletes it owes for what it created included (None: no limit). Sequences are drawn, so
    # without it a run's total varies with them.
    stateful_sequence_requests: int | None = None

    def stateful_settings(self) -> settings:
        """Hypothesis settings for the stateful tests: this profile's sequences, no shrinking (every
        step is a request against a real server), no deadline, no example database."""
        from hypothesis import HealthCheck, Phase, settings

        return settings(
            max_examples=self.stateful_examples,
            stateful_step_count=self.stateful_steps,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )


# What quick leaves to other tests of the same profile, by operation id. Valid create/get/update/
# delete calls: the scenario tests (test_applications.py, test_oauth.py) and the Hypothesis state
# machine send them and judge every answer with the requirement checks, which validate the same
# contract schemas (application_objects_match_schema) and statuses; so quick runs neither these
# generated examples nor the linked workflows. Invalid ones: test_input.py sends bad bodies to
# create and update and unknown ids to get, update and delete through the same bad_input_refused
# check, and test_applications.py the nameless creates. The two lists (whose query parameters
# nothing else generates) keep their generated examples; standard and thorough generate everything.
APPLICATION_OPERATIONS = (
    "createOAuthApplication",
    "getOAuthApplication",
    "updateOAuthApplication",
    "deleteOAuthApplication",
)

PROFILES = {
    "quick": Profile(
        "quick",
        3,
        3,
        6,
        3,
        description="every pull request",
        live_budget=600,
        skip_generated_valid=APPLICATION_OPERATIONS,
        skip_generated_invalid=APPLICATION_OPERATIONS,
        linked_workflows=False,
        stateful_sequence_requests=7,
    ),
    "standard": Profile("standard", 25, 15, 10, 3, description="the default", live_budget=1800),
    "thorough": Profile("thorough", 100, 60, 20, 4, description="nightly", live_budget=9000),
    "readonly": Profile(
        "readonly",
        5,
        0,
        0,
        1,
        read_only=True,
        description="creates nothing; for --allow-production",
        live_budget=200,
    ),
}
