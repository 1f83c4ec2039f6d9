"""The suite's one HTTP client: timeouts, a request budget, a client-side rate limit, bounded 429 and
5xx-gateway retries, secret learning for the scrubber, and an Exchange record of every call as evidence.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import shlex
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from credly_contract import transport as transports
from credly_contract.config import ConfigError, ConnectionDropped, Target, TargetUnreachable, Trust
from credly_contract.facts import ExchangeEvidence
from credly_contract.scrub import register, scrub

if TYPE_CHECKING:
    import requests

GATEWAY_STATUSES = {502, 503, 504}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
IDEMPOTENT_METHODS = SAFE_METHODS | {"PUT", "DELETE"}  # RFC 9110 §9.2.2


# Answers lost in a row (connections closed after the request went out, whatever the method) that end
# the run with exit 3: a target that drops three answers running is failing, not flaky. Lost at random,
# as a load balancer drops them, three in a row come once in 8,000 requests at a 5% loss and once in a
# million at 1%; a certification sends ~200 (quick) to ~4,000 (thorough).
LOST_IN_A_ROW = 3


class AnswerLost(ConnectionDropped):
    """A request's answer was lost on the way (its connection closed after it went out) and the
    request is not sent again as it was: the server may have acted on it (a create). Whoever sent it
    settles it: a create is reconciled by its name, a test is run again; no requirement is judged on
    it. Until the test that met it ends, every request fails with it at once, sending nothing."""


@dataclass
class LostAnswers:
    """What lost answers cost a run, for its certificate."""

    lost: int = 0  # requests whose answer never came (the connection closed under them)
    repeated: int = 0  # of those, sent again at once (idempotent methods, token requests)
    reconciled: int = 0  # creates whose answer was lost, settled by finding the application by name
    reruns: int = 0  # tests run again because an answer they judge was lost
    in_a_row: int = 0

    def describe(self) -> str:
        return (
            f"{self.lost} answer(s) were lost on the way (the connection closed after the request "
            f"went out): {self.repeated} request(s) were sent again (idempotent methods, RFC 9110 "
            f"§9.2.2, and token requests), {self.reconciled} create(s) were reconciled by the "
            f"application's name and {self.reruns} test(s) were run again; no requirement was "
            "judged on a lost answer"
        )


class BudgetExhausted(ConfigError):
    """The run used up its request budget (a safety limit for shared targets): a setting to raise,
    not an outage, so exit 2 and never a retry."""


class CredentialsOffOrigin(RuntimeError):
    """A request would have carried a credential to an origin that was not configured; refused
    before anything is sent (see ``guard_credentials``)."""


class ReadOnlyViolation(RuntimeError):
    """A write attempted under a read-only profile; refused before anything is sent."""


@dataclass
class Exchange:
    """One request and the response it got, as plain values a check or a report can read."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int
    response_headers: dict[str, str]
    response_body: str
    elapsed: float = 0.0
    _json: Any = field(default=None, repr=False)
    # Sent again because the answer to the first sending was lost: a DELETE's 404 then says the first
    # one was acted on, not that the application was never there.
    repeated: bool = False

    @classmethod
    def from_httpx(cls, response: httpx.Response) -> Exchange:
        request = response.request
        body = request.content.decode("utf-8", "replace") if request.content else None
        return cls(
            method=request.method,
            url=str(request.url),
            request_headers=dict(request.headers),
            request_body=body,
            status=response.status_code,
            response_headers={k.lower(): v for k, v in response.headers.items()},
            response_body=response.text,
            elapsed=_elapsed(response),
        )

    def header(self, name: str) -> str | None:
        return self.response_headers.get(name.lower())

    def json(self) -> Any:
        """The response body as JSON, or None when it is empty or not JSON."""
        if self._json is None and self.response_body.strip():
            try:
                self._json = json.loads(self.response_body)
            except ValueError:
                self._json = None
        return self._json

    def access_token(self) -> str | None:
        """The access token a 200 token response issued, or None when it holds no usable one."""
        body = self.json()
        token = body.get("access_token") if self.status == 200 and isinstance(body, dict) else None
        return token if isinstance(token, str) and token else None

    def summary(self) -> str:
        return f"{self.method} {self.url} -> {self.status}"

    def curl(self) -> str:
        """A one-line, secret-masked curl command that reproduces the request."""
        parts = ["curl", "-i", "-X", self.method]
        for name, value in self.request_headers.items():
            if name.lower() in {"authorization", "content-type", "accept"}:
                parts += ["-H", f"{name}: {value}"]
        if self.request_body:
            parts += ["--data-raw", self.request_body]
        parts.append(self.url)
        return scrub(" ".join(shlex.quote(p) for p in parts))

    def evidence(self, limit: int = 4000) -> ExchangeEvidence:
        """Request, response and reproduction, scrubbed, for certificates and failure messages."""
        headers = {k: v for k, v in self.request_headers.items() if k.lower() not in {"host"}}
        evidence: ExchangeEvidence = {
            "request": {
                "method": self.method,
                "url": self.url,
                "headers": headers,
                "body": (self.request_body or "")[:limit] or None,
            },
            "response": {
                "status": self.status,
                "headers": self.response_headers,
                "body": self.response_body[:limit],
            },
            "curl": self.curl(),
        }
        return scrub(evidence)

    def __repr__(self) -> str:
        return f"<Exchange {scrub(self.summary())}>"


def _elapsed(response: httpx.Response) -> float:
    try:
        return response.elapsed.total_seconds()
    except RuntimeError:  # not read yet, or built by a transport rather than received
        return 0.0


def learn_secrets(exchange: Exchange) -> None:
    """Teach the scrubber every credential that crossed the wire in this exchange."""
    for key, value in _form_or_json(exchange.request_body).items():
        if key == "client_secret":
            register(value, "CLIENT_SECRET")
    auth = exchange.request_headers.get("authorization", "")
    if " " in auth:
        register(auth.split(" ", 1)[1].strip(), "ACCESS_TOKEN")
    body = exchange.json()
    if isinstance(body, dict):
        register(body.get("access_token"), "ACCESS_TOKEN")
        data = body.get("data")
        if isinstance(data, dict):
            register(data.get("secret"), "CLIENT_SECRET")
        elif isinstance(data, list):
            for item in data:
                if isinstance(item, dict):
                    register(item.get("secret"), "CLIENT_SECRET")


def _form_or_json(body: str | None) -> dict[str, Any]:
    if not body:
        return {}
    try:
        parsed = json.loads(body)
        return parsed if isinstance(parsed, dict) else {}
    except ValueError:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(body, keep_blank_values=True))


@dataclass
class Limits:
    """Safety limits for a run; the defaults suit a shared staging organization."""

    timeout: float = 10.0
    connect_timeout: float = 5.0
    budget: int | None = None
    min_interval: float = 0.0
    max_retry_after: float = 30.0
    retries: int = 3
    clients: int = 1  # how many clients of the run send side by side, sharing these totals

    def shared_by(self, clients: int) -> Limits:
        """The limits of one of ``clients`` clients that run side by side against one target (xdist
        workers): the pace and the budget are totals of the run, so each gets its part."""
        if clients <= 1:
            return self
        return dataclasses.replace(
            self,
            min_interval=self.min_interval * clients,
            budget=None if self.budget is None else max(1, self.budget // clients),
            clients=clients,
        )


def repeatable(method: str, url: str, target: Target) -> bool:
    """Whether a request to ``target`` whose answer was lost may be sent again as it was."""
    token_request = method.upper() == "POST" and url == target.token_url
    return method.upper() in IDEMPOTENT_METHODS or token_request


class ApiClient:
    """Sends every request of a run; knows the target, counts requests and keeps recent exchanges."""

    def __init__(
        self,
        target: Target,
        limits: Limits | None = None,
        on_exchange: Callable[[Exchange], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.target = target
        self.limits = limits or Limits()
        self.on_exchange = on_exchange
        timeout = httpx.Timeout(self.limits.timeout, connect=self.limits.connect_timeout)
        self.trust: Trust = target.trust()
        self._origins = [target.api_base_url, target.token_url]
        self._http = transports.httpx_client(
            self._origins, self.trust, timeout=timeout, transport=transport
        )
        self._requests: requests.Session | None = None
        self._lock = threading.Lock()
        self._last_sent = 0.0
        self.requests_sent = 0
        self.throttled = 0
        self.gateway_errors = 0
        self.lost_answers = LostAnswers()
        # The answer the running test lost: until the test ends (the plugin forgives it), every
        # request fails with it and sends nothing, so nothing after it is judged either.
        self.lost: AnswerLost | None = None
        self.recent: deque[Exchange] = deque(maxlen=50)
        # Once the target is known to be broken, every further request fails at once: Hypothesis
        # replays a failing example many times, and each replay must not wait for another timeout.
        self.broken: TargetUnreachable | None = None
        self.read_only = False

    def close(self) -> None:
        self._http.close()
        if self._requests is not None:
            self._requests.close()

    def requests_session(self) -> requests.Session:
        """The requests session for calls sent with requests (schemathesis's), with this client's
        trust and proxies."""
        if self._requests is None:
            self._requests = transports.requests_session(self._origins, self.trust)
        return self._requests

    def unreachable(self, method: str, url: str, error: BaseException) -> Exception:
        """What a transport error of a request to ``url`` means: a configuration error the user can
        fix (an untrusted certificate, a host that does not exist), else TargetUnreachable."""
        setting = self.target.setting_for(url)
        return transports.user_fixable(error, url, setting, self.trust) or unreachable(
            method, url, error
        )

    def guard_credentials(self, method: str, url: str, headers: dict[str, str], body: Any) -> None:
        """Refuse, before anything is sent, a request that carries a credential (a bearer token,
        a client secret) to any origin but the configured API and token URLs': a link a server
        wrote must never take the token elsewhere, nor over plain http (RFC 6750 §5.3)."""
        carries = any(k.lower() == "authorization" for k in headers) or (
            isinstance(body, dict) and "client_secret" in body
        )
        if carries and not self.target.may_carry_credentials(url):
            raise CredentialsOffOrigin(
                f"refusing {method} {url}: it would carry a credential off the configured origins "
                f"({self.target.api_base_url}, {self.target.token_url})"
            )

    def _pace(self) -> None:
        if self.broken is not None:
            raise TargetUnreachable(str(self.broken))
        if self.lost is not None:
            raise AnswerLost(str(self.lost))
        with self._lock:
            if self.limits.budget is not None and self.requests_sent >= self.limits.budget:
                share = (
                    f" (this worker's share of the run's, split across {self.limits.clients})"
                    if self.limits.clients > 1
                    else ""
                )
                raise BudgetExhausted(
                    f"the run reached its request budget of {self.limits.budget} requests{share} "
                    "before it finished: raise --max-requests (the dry run, certify --dry-run, "
                    "shows what the profile needs)"
                )
            wait = self._last_sent + self.limits.min_interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last_sent = time.monotonic()
            self.requests_sent += 1

    def request(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Exchange:
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        headers.setdefault("Accept", "application/json")
        self.guard_credentials(method, url, headers, kwargs.get("data") or kwargs.get("json"))

        def transmit() -> Exchange:
            try:
                response = self._http.request(method, url, headers=headers, **kwargs)
            except httpx.TransportError as error:
                raise self.unreachable(method, url, error) from None
            return Exchange.from_httpx(response)

        return self.send(method, url, transmit)

    def send(self, method: str, url: str, transmit: Callable[[], Exchange]) -> Exchange:
        """Send one request under the run's limits: read-only refusal, pacing and budget, bounded
        429 and gateway retries, and fail-fast once the target is broken. ``transmit`` does the I/O
        (httpx here, schemathesis's requests for generated calls) and raises TargetUnreachable."""
        self.refuse_if_read_only(method, url)
        for attempt in range(self.limits.retries + 1):
            self._pace()
            try:
                exchange = self._transmit(method, url, transmit)
            except AnswerLost:
                raise
            except TargetUnreachable as error:
                self.broken = error
                raise
            learn_secrets(exchange)
            if exchange.status == 429 and attempt < self.limits.retries:
                self.throttled += 1
                wait = _retry_after(exchange.header("retry-after"), self.limits.max_retry_after)
                time.sleep(wait)
                continue
            if exchange.status in GATEWAY_STATUSES:
                self.gateway_errors += 1
                if attempt < self.limits.retries:
                    time.sleep(min(0.2 * 2**attempt, 2.0))
                    continue
                self.broken = TargetUnreachable(
                    f"{method} {url} answered {exchange.status} {self.limits.retries + 1} times "
                    "in a row: the target is down or overloaded"
                )
                raise self.broken
            break
        self.recent.append(exchange)
        if self.on_exchange is not None:
            self.on_exchange(exchange)
        return exchange

    def _transmit(self, method: str, url: str, transmit: Callable[[], Exchange]) -> Exchange:
        """``transmit()``, sent again on a new connection while the connection closes under a
        request that may be repeated: an idempotent method (RFC 9110 §9.2.2; RFC 9112 §9.3.1 allows
        it) or a token request (a second token is as good as the first). Any other request whose
        answer was lost raises AnswerLost; LOST_IN_A_ROW lost answers leave the target
        unreachable."""
        repeated = False
        while True:
            try:
                exchange = transmit()
            except ConnectionDropped as dropped:
                self.lost_answers.lost += 1
                self.lost_answers.in_a_row += 1
                if self.lost_answers.in_a_row >= LOST_IN_A_ROW:
                    raise TargetUnreachable(
                        f"{dropped} ({LOST_IN_A_ROW} answers in a row were lost: the target or "
                        "the way to it is failing)"
                    ) from None
                if not repeatable(method, url, self.target):
                    self.lost = AnswerLost(
                        f"{method} {url}: the answer was lost ({dropped}); not sent again, since "
                        "the server may have acted on it"
                    )
                    raise self.lost from None
                self.lost_answers.repeated += 1
                repeated = True
                self._pace()
                continue
            self.lost_answers.in_a_row = 0
            exchange.repeated = repeated
            return exchange

    def refuse_if_read_only(self, method: str, url: str) -> None:
        """Under a read-only profile only reads and token requests may leave the client."""
        if self.read_only and method.upper() not in SAFE_METHODS and url != self.target.token_url:
            raise ReadOnlyViolation(
                f"refusing {method} {url}: the read-only profile creates and changes nothing "
                "(a certification test that writes must use the `mutating` fixture)"
            )

    def get(self, url: str, **kwargs: Any) -> Exchange:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Exchange:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Exchange:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Exchange:
        return self.request("DELETE", url, **kwargs)

    def request_token(
        self,
        scope: str | None,
        client_id: str | None = None,
        client_secret: str | None = None,
        grant_type: str | None = "client_credentials",
    ) -> Exchange:
        """POST the token endpoint (form-encoded, as documented); None leaves a parameter out."""
        form = {
            "client_id": self.target.client_id if client_id is None else client_id,
            "client_secret": self.target.client_secret if client_secret is None else client_secret,
            "grant_type": grant_type,
            "scope": scope,
        }
        return self.post(
            self.target.token_url, data={k: v for k, v in form.items() if v is not None}
        )


def _retry_after(raw: str | None, cap: float) -> float:
    raw = raw or "1"
    try:
        return max(0.0, min(float(raw), cap))
    except ValueError:
        return min(1.0, cap)


def unreachable(method: str, url: str, error: BaseException) -> TargetUnreachable:
    """The one-line TargetUnreachable for a transport error of any HTTP library."""
    timed_out = isinstance(error, httpx.TimeoutException | TimeoutError)
    if timed_out or "timeout" in type(error).__name__.lower():
        return TargetUnreachable(f"{method} {url} timed out ({type(error).__name__})")
    if _dropped(error):
        return ConnectionDropped(f"{method} {url} failed: {_cause(error)}")
    return TargetUnreachable(f"{method} {url} failed: {_cause(error)}")


DROPPED = (
    httpx.RemoteProtocolError,  # "Server disconnected without sending a response."
    httpx.ReadError,
    httpx.WriteError,
    ConnectionResetError,
    BrokenPipeError,
    http.client.RemoteDisconnected,
)


def _dropped(error: BaseException, depth: int = 0) -> bool:
    """Whether ``error`` (or one it wraps: requests nests urllib3's, which nests the socket's) is a
    connection closed under a request, rather than one refused, unresolved or timed out."""
    if isinstance(error, DROPPED):
        return True
    nested = [a for a in error.args if isinstance(a, BaseException)]
    return depth < 4 and any(_dropped(inner, depth + 1) for inner in nested)


def _cause(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    lowered = text.lower()
    if any(
        t in lowered
        for t in (
            "name or service not known",
            "nodename nor servname",
            "temporary failure in name resolution",
        )
    ):
        return f"DNS lookup failed ({text})"
    if "connection refused" in lowered or "errno 111" in lowered:
        return "connection refused"
    if "ssl" in lowered or "certificate" in lowered:
        return f"TLS error ({text})"
    return text
