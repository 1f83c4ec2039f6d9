"""The conditions real Credly produces, injected into a client certification run as small named switches.

Each injection fires once, at the first API call numbered ``at_call`` or later (retries count as calls),
and is named in the certificate with the exchange it shaped. A flag turns each off; a profile chooses which
are planned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from credly_contract.client_cert.exchanges import Observed

RETRY_AFTER_SECONDS = 1
# The 503 is a short outage, not one answer (RFC 9110 §15.6.4: 503 is "a temporary overload"). It
# lasts OUTAGE_SECONDS, and goes on while the client retries without waiting, as an overloaded server
# stays overloaded while it is hammered. "Without waiting" is measured against the client's own pace
# (the shortest time it took, in this run, from an answer to its next request: its transport and
# its machine's load, a new TLS connection per request included): a retry sooner than
# HAMMERING_FACTOR times that pace plus HAMMERING_SLACK did not wait. So a hot loop meets 503 after
# 503 however slow its transport or busy its machine, while any client that waits before its second
# or third retry (urllib3 with backoff_factor 0.1 or more, stamina's and tenacity's exponential
# waits, a plain 0.2/0.4/0.8 s loop) is through it after one to three retries (four when a request takes 150 ms). It ends at the latest
# after OUTAGE_MAX_ANSWERS answers: one more retry than judges.CLIENT-BACKOFF allows in a row, enough
# to judge, so a client that never stops retrying still finishes.
OUTAGE_SECONDS = 0.5
HAMMERING_FACTOR, HAMMERING_SLACK = 3.0, 0.1
OUTAGE_MAX_ANSWERS = 12
RATE_LIMITED, UNAVAILABLE, TOKEN_REVOKED, TOKEN_EXPIRED = (
    "rate_limited",
    "unavailable",
    "token_revoked",
    "token_expired",
)
TOKEN_LOSSES = (TOKEN_REVOKED, TOKEN_EXPIRED)


@dataclass(frozen=True)
class Injection:
    name: str
    at_call: int
    description: str
    flag: str  # the certify-client flag that switches it off


INJECTIONS = {
    RATE_LIMITED: Injection(
        RATE_LIMITED,
        2,
        f"API call #2 answers 429 Too Many Requests with Retry-After: {RETRY_AFTER_SECONDS}",
        "--no-429",
    ),
    UNAVAILABLE: Injection(
        UNAVAILABLE,
        4,
        f"API call #4 starts a {OUTAGE_SECONDS:g} s outage: it and every API call in the next "
        f"{OUTAGE_SECONDS:g} s answer 503 Service Unavailable, and later ones while the client "
        "retries without waiting",
        "--no-503",
    ),
    TOKEN_REVOKED: Injection(
        TOKEN_REVOKED,
        6,
        "the token of API call #6 is revoked before the call is served (401 invalid_token)",
        "--no-expire-token",
    ),
    TOKEN_EXPIRED: Injection(
        TOKEN_EXPIRED,
        9,
        "every token expires before API call #9 is served (401 invalid_token)",
        "--no-expire-token",
    ),
}
INJECTION_PROFILES = {
    "quick": (RATE_LIMITED, UNAVAILABLE, TOKEN_REVOKED),
    "standard": (RATE_LIMITED, UNAVAILABLE, TOKEN_REVOKED, TOKEN_EXPIRED),
}


@dataclass
class Injector:
    """Decides, call by call, which injection shapes an API call; remembers what fired where."""

    planned: list[Injection]
    switched_off: dict[str, str] = field(default_factory=dict)  # name -> the flag that did it
    fired: dict[str, Observed] = field(default_factory=dict)
    api_calls: int = 0
    outage: list[Observed] = field(default_factory=list)  # the API calls the outage answered
    pace: float | None = None  # the client's shortest time from an answer to its next request
    _previous: Observed | None = None

    @classmethod
    def for_profile(cls, profile: str, off_flags: set[str]) -> Injector:
        planned, off = [], {}
        for name in INJECTION_PROFILES[profile]:
            injection = INJECTIONS[name]
            if injection.flag in off_flags:
                off[name] = injection.flag
            else:
                planned.append(injection)
        return cls(planned, off)

    def next_api_call(self, exchange: Observed) -> Injection | None:
        """Count an API call and return the injection that fires on it, if any (during the
        outage, the unavailable injection again)."""
        self.api_calls += 1
        previous = self._previous
        self._learn_pace(exchange)
        if self._in_outage(exchange):
            self.outage.append(exchange)
            exchange.injection = UNAVAILABLE
            return INJECTIONS[UNAVAILABLE]
        if previous is not None and previous.injection is not None:
            # One condition at a time: the next injection waits until the client has had a clean
            # answer since the last one. Stacked on one request (an outage, then a revoked token,
            # then an expired one), they would spend a careful client's whole retry budget on one
            # call - tenacity's stop_after_attempt(6) was failed that way - which says nothing
            # about how it reacts to each condition, and a verdict would hang on jitter.
            return None
        for injection in self.planned:
            if injection.name in self.fired or self.api_calls < injection.at_call:
                continue
            if injection.name in TOKEN_LOSSES and exchange.bearer is None:
                continue  # a token can only be lost by a call that carries one
            self.fired[injection.name] = exchange
            exchange.injection = injection.name
            if injection.name == UNAVAILABLE:
                self.outage.append(exchange)
            return injection
        return None

    def _learn_pace(self, exchange: Observed) -> None:
        previous, self._previous = self._previous, exchange
        if previous is None or previous.injection is not None or not previous.finished:
            return  # a reaction to an injection, or a call still in flight, says nothing of pace
        gap = exchange.started - previous.finished
        if gap >= 0:
            self.pace = gap if self.pace is None else min(self.pace, gap)

    def _in_outage(self, exchange: Observed) -> bool:
        if not self.outage or len(self.outage) >= OUTAGE_MAX_ANSWERS:
            return False
        if exchange.started < self.outage[0].started + OUTAGE_SECONDS:
            return True
        waited = exchange.started - self.outage[-1].finished
        return waited < HAMMERING_FACTOR * (self.pace or 0.0) + HAMMERING_SLACK

    def why_not_fired(self, name: str) -> str:
        """Why an injection shaped no exchange of this run (for not_run reasons)."""
        if name in self.switched_off:
            return f"the {name} injection was switched off ({self.switched_off[name]})"
        injection = INJECTIONS[name]
        if all(i.name != name for i in self.planned):
            return f"the {name} injection is not part of this profile"
        return (
            f"the {name} injection never fired: it waits for API call #{injection.at_call} and the "
            f"integration made {self.api_calls} API call(s)"
        )

    def public(self) -> list[dict[str, object]]:
        """Each injection of the profile as the certificate names it."""
        named: list[dict[str, object]] = []
        for injection in [*self.planned, *(INJECTIONS[n] for n in self.switched_off)]:
            fired = self.fired.get(injection.name)
            named.append(
                {
                    "name": injection.name,
                    "description": injection.description,
                    "switched_off_by": self.switched_off.get(injection.name),
                    "fired_at_exchange": None if fired is None else fired.index,
                }
            )
        return named
