"""The client requirement judges: one small function per CLIENT-* requirement, bound to its id, reading
the exchanges the recorder saw (and the integration's outcome). A judge raises ``Violation`` with the
request as evidence (and the injected exchange it reacted to), or ``NotJudged`` with the reason the run
could not prove the requirement; returning means it held.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from credly_contract import spec
from credly_contract.checks.base import Violation, check
from credly_contract.client_cert import contract
from credly_contract.client_cert.exchanges import API, CLEAN, INJECTED, TOKEN, Observed, Reaction
from credly_contract.client_cert.injections import (
    RATE_LIMITED,
    TOKEN_LOSSES,
    UNAVAILABLE,
    Injector,
)
from credly_contract.client_cert.runner import Outcome
from credly_contract.scrub import basic_credentials, encodings, scrub

# Every number a judge uses, with its source or the reason it lets correct clients through (the
# catalogue, client_requirements.yaml, says the same to QA; docs/client.md has the timing policy).
#
# Tokens per scope set within one expiry window (RFC 6749 §5.1 expires_in; the docs' 7200 s): one is
# reuse; a second is allowed because correct clients fetch one early (Authlib's auto-renewing client
# renews 60 s before expires_in, its leeway; a worker pool starts with one each), a third is a token
# per call.
MAX_TOKENS_PER_WINDOW = 2
# A hot loop (RFC 9110 §15.6.4: 503 is a temporary overload, a client waits before retrying): more
# than HOT_LOOP_RETRIES retries of one request within HOT_LOOP_SECONDS. urllib3's Retry sends its
# first retry at once (its backoff starts at 0) and waits backoff_factor * 2**n after that;
# stamina's defaults wait 0.1 s plus up to 1 s jitter; tenacity's wait_random_exponential can wait
# almost 0 s, then up to 2 s, 4 s: none of them retries six times within a second.
HOT_LOOP_RETRIES, HOT_LOOP_SECONDS = 5, 1.0
# Retries that do not stop: more than this many of one request in a row, each answered 5xx. urllib3's
# Retry(total=10) and stamina's default 10 attempts (9 retries) stay within it.
MAX_RETRIES_IN_A_ROW = 10
# Retry-After (RFC 9110 §10.2.3) is measured from the moment the recorder stamped the 429 as answered
# (before it left) to the start of the next API call; the client starts its wait only once it has
# read the answer, so its wait is longer than the one measured. The slack covers the coarse sleep of
# some platforms (Windows' timer ticks every 15.6 ms) and the recorder's clock reading in the
# server's event loop; it is far below any Retry-After a client could ignore by accident.
CLOCK_SLACK = 0.05
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)\b:?")


class NotJudged(Exception):
    """The run gave the judge nothing to judge; the message says why (the requirement is not_run).
    ``switched_off_by`` names the flag that switched off the injection it needed: the requirement is
    then outside the run's scope, not missed by the integration."""

    def __init__(self, reason: str, switched_off_by: str | None = None) -> None:
        super().__init__(reason)
        self.switched_off_by = switched_off_by


def _not_fired(run: ClientRun, injection: str) -> NotJudged:
    return NotJudged(
        run.injector.why_not_fired(injection), run.injector.switched_off.get(injection)
    )


@dataclass
class ClientRun:
    """Everything a judge reads: the recorded exchanges, the injections, the integration's outcome."""

    exchanges: list[Observed]
    injector: Injector
    outcome: Outcome
    client_secret: str
    known_secrets: list[str]
    api_base_path: str
    watch_dir: Path | None = None
    timeout: float = 0.0
    notes: list[str] = field(default_factory=list)
    client_id: str = ""
    clean_outcome: Outcome | None = None  # the run without injections (None: only one run)

    @property
    def api(self) -> list[Observed]:
        return [e for e in self.exchanges if e.kind == API]

    @property
    def token_requests(self) -> list[Observed]:
        return [e for e in self.exchanges if e.kind == TOKEN]

    @cached_property
    def issued(self) -> dict[str, Observed]:
        """Every access token the token endpoint issued in this run -> the exchange that issued it."""
        found = {}
        for exchange in self.token_requests:
            body = exchange.response_json()
            if exchange.status == 200 and isinstance(body, dict) and body.get("access_token"):
                found[str(body["access_token"])] = exchange
        return found

    def granted_scopes(self, token: str) -> set[str]:
        issuing = self.issued[token]
        body = issuing.response_json() or {}
        return set(str(body.get("scope") or " ".join(issuing.scope_requested())).split())

    def operation(self, exchange: Observed) -> tuple[contract.Operation, dict[str, str]] | None:
        path = exchange.path
        if not path.startswith(self.api_base_path):
            return None
        return contract.match(exchange.method, path[len(self.api_base_path) :])

    @cached_property
    def secrets(self) -> list[str]:
        """Every client secret and access token of this run, known or seen issued."""
        values = set(self.known_secrets) | set(self.issued)
        values.update(secret for _, secret in self.created_credentials)
        return sorted(v for v in values if v and len(v) >= 8)

    @cached_property
    def created_credentials(self) -> list[tuple[str, str]]:
        """(client id, client secret) of every application the run's answers revealed a secret of
        (its uid, or client_id, as the client id; "" when the answer named neither)."""
        pairs = []
        for exchange in self.api:
            body = exchange.response_json()
            data = body.get("data") if isinstance(body, dict) else None
            if isinstance(data, dict) and isinstance(data.get("secret"), str):
                pairs.append((str(data.get("uid") or data.get("client_id") or ""), data["secret"]))
        return pairs

    @cached_property
    def basic_credentials(self) -> list[str]:
        """Every HTTP Basic value of this run's client credentials: those the client sent, and
        base64 of ``client_id:client_secret`` for the run's application and each application the
        integration created, whether or not the client ever sent it."""
        values = set()
        for exchange in self.token_requests:
            scheme, _, value = exchange.headers.get("authorization", "").partition(" ")
            if scheme.lower() == "basic" and len(value.strip()) >= 8:
                values.add(value.strip())
        pairs = {(self.client_id, self.client_secret)} if self.client_id else set()
        pairs.update(self.created_credentials)
        for client_id, secret in pairs:
            if client_id and secret:
                values.update(basic_credentials(client_id, secret))
        return sorted(values)

    def next_api_call(self, after: Observed) -> Observed | None:
        """The first API call of the same run sent once ``after`` was answered (calls already in
        flight are not reactions to its answer)."""
        return next(
            (e for e in self.api if e.phase == after.phase and e.started >= after.finished), None
        )


JUDGES: dict[str, Callable[[ClientRun], None]] = {}


def judge(
    requirement_id: str,
) -> Callable[[Callable[[ClientRun], None]], Callable[[ClientRun], None]]:
    """Bind a judge to its requirement (as ``checks.check`` does) and register it."""

    def register(function: Callable[[ClientRun], None]) -> Callable[[ClientRun], None]:
        bound = check(requirement_id)(function)
        JUDGES[requirement_id] = bound
        return bound

    return register


def _needs(items: list[Any], reason: str) -> None:
    if not items:
        raise NotJudged(reason)


# Token requests ---------------------------------------------------------------------------------


@judge("CLIENT-TOKEN-REQUEST")
def token_requests_are_well_formed(run: ClientRun) -> None:
    _needs(run.token_requests, "the integration never requested a token")
    for exchange in run.token_requests:
        if exchange.method != "POST":
            raise Violation(f"the token request used {exchange.method}, not POST", exchange)
        in_query = sorted({"client_id", "client_secret"} & set(exchange.query_params))
        if in_query or run.client_secret in unquote(exchange.query):
            raise Violation(
                f"the token request put client credentials ({', '.join(in_query) or 'the secret'}) "
                "in the URL's query string (RFC 6749 §2.3.1: MUST NOT be included in the request URI)",
                exchange,
            )
        content_type = exchange.headers.get("content-type", "")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            raise Violation(
                f"the token request body is {content_type or 'sent without a content type'}, not "
                "application/x-www-form-urlencoded (RFC 6749 §4.4.2)",
                exchange,
            )
        if exchange.form.get("grant_type") != ["client_credentials"]:
            raise Violation(
                f"the token request sent grant_type={exchange.form.get('grant_type')}, not "
                "client_credentials",
                exchange,
            )
        if not exchange.scope_requested():
            raise Violation("the token request sent no scope (the docs make it Required)", exchange)
        basic = exchange.headers.get("authorization", "").lower().startswith("basic ")
        in_body = exchange.form.get("client_id") and exchange.form.get("client_secret")
        if not (basic or in_body):
            raise Violation(
                "the token request carried no client credentials in the form body or HTTP Basic",
                exchange,
            )


# Bearer use -------------------------------------------------------------------------------------


@judge("CLIENT-BEARER")
def api_calls_carry_an_issued_bearer_token(run: ClientRun) -> None:
    _needs(run.api, "the integration made no API call")
    for exchange in run.api:
        token = exchange.bearer
        if token is None:
            raise Violation(
                "an API call was sent without Authorization: Bearer <access token>", exchange
            )
        if token not in run.issued:
            raise Violation(
                "an API call carried a Bearer token the token endpoint never issued in this run",
                exchange,
            )


def _basic_decoded(exchange: Observed) -> str:
    scheme, _, value = exchange.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        return base64.b64decode(value.strip()).decode("utf-8", "replace")
    except ValueError:
        return ""


@judge("CLIENT-SECRETS-CONFINED")
def tokens_and_secret_stay_out_of_urls_and_the_api(run: ClientRun) -> None:
    _needs(run.exchanges, "the integration sent no request")
    for exchange in run.exchanges:
        url = unquote(exchange.path + "?" + exchange.query)
        if any(token in url for token in run.issued):
            raise Violation("an access token was sent in a URL (RFC 6750 §2.3, §5.3)", exchange)
    for exchange in run.api:
        sent = " ".join(
            [unquote(exchange.url), *exchange.headers.values(), _basic_decoded(exchange)]
        ) + exchange.body.decode("utf-8", "replace")
        if run.client_secret and run.client_secret in sent:
            raise Violation(
                "the client secret was sent to the API (it belongs only to the token endpoint)",
                exchange,
            )


# Scopes -----------------------------------------------------------------------------------------


@judge("CLIENT-SCOPE-DOCUMENTED")
def requested_scopes_are_documented(run: ClientRun) -> None:
    _needs(run.token_requests, "the integration never requested a token")
    documented = set(spec.oauth_scopes())
    for exchange in run.token_requests:
        unknown = [s for s in exchange.scope_requested() if s not in documented]
        if unknown:
            raise Violation(
                f"the token request asked for undocumented scope(s) {', '.join(map(ascii, unknown))}",
                exchange,
            )


@judge("CLIENT-SCOPE-HELD")
def operations_called_with_their_scope(run: ClientRun) -> None:
    judged = [e for e in run.api if e.bearer in run.issued and run.operation(e)]
    _needs(judged, "no documented operation was called with an issued token")
    for exchange in judged:
        found = run.operation(exchange)
        assert found is not None  # judged holds only documented operations
        operation = found[0]
        granted = run.granted_scopes(exchange.bearer or "")
        if operation.scope not in granted:
            raise Violation(
                f"{operation.operation_id} needs the {operation.scope} scope (openapi/credly.yaml) "
                f"but was called with a token granted only {' '.join(sorted(granted))}",
                exchange,
            )


@judge("CLIENT-LEAST-PRIVILEGE")
def only_needed_scopes_requested(run: ClientRun) -> None:
    granted = [e for e in run.token_requests if e.status == 200]
    _needs(granted, "the integration obtained no token")
    needed = {found[0].scope for e in run.api if (found := run.operation(e))}
    for exchange in granted:
        extra = sorted(set(exchange.scope_requested()) - needed)
        if extra:
            raise Violation(
                f"the token request asked for {' '.join(extra)}, which no operation the integration "
                f"called needs (it called operations needing: {' '.join(sorted(needed)) or 'none'})",
                exchange,
            )


# Token lifecycle --------------------------------------------------------------------------------


@judge("CLIENT-TOKEN-REUSE")
def tokens_reused_while_valid(run: ClientRun) -> None:
    _needs(list(run.issued), "the integration obtained no token")
    scope_set = {token: frozenset(e.scope_requested()) for token, e in run.issued.items()}
    # (run, scope set) -> (tokens obtained in its current expiry window, when that window ends);
    # each of the integration's runs is a new process, with no token yet
    windows: dict[tuple[str, frozenset[str]], tuple[int, float]] = {}
    for exchange in run.exchanges:
        if exchange.kind == TOKEN and exchange.status == 200:
            key = (exchange.phase, frozenset(exchange.scope_requested()))
            count, ends = windows.get(key, (0, -1.0))
            if exchange.started >= ends:  # the first token of the set, or its expires_in is up
                count, ends = 0, exchange.finished + _expires_in(exchange)
            windows[key] = (count + 1, ends)
            if count + 1 > MAX_TOKENS_PER_WINDOW:
                raise Violation(
                    f"token #{count + 1} for scope set {' '.join(sorted(key[1]))} was requested "
                    "while an earlier one still worked (at most "
                    f"{MAX_TOKENS_PER_WINDOW} per scope set within one expiry window, which "
                    "ends when expires_in is up or a token of the set answers 401)",
                    exchange,
                )
        elif exchange.kind == API and exchange.status == 401 and exchange.bearer in scope_set:
            windows.pop((exchange.phase, scope_set[exchange.bearer]), None)  # it stopped working


def _expires_in(exchange: Observed) -> float:
    """The lifetime the token response stated (RFC 6749 §5.1), or the documented 7200 s."""
    body = exchange.response_json()
    lifetime = body.get("expires_in") if isinstance(body, dict) else None
    return float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 7200.0


@judge("CLIENT-RENEWAL")
def dead_token_renewed(run: ClientRun) -> None:
    losses = [run.injector.fired[n] for n in TOKEN_LOSSES if n in run.injector.fired]
    if not losses:
        raise _not_fired(run, TOKEN_LOSSES[0])
    for lost in losses:
        later = [e for e in run.api if e.phase == lost.phase and e.started >= lost.finished]
        if not later:
            raise NotJudged(_stopped_after(lost))
        reused = next((e for e in later if e.bearer == lost.bearer), None)
        if reused is not None:
            raise Violation(
                "the integration retried with the token that had just answered 401",
                Reaction(reused, lost),
            )
        renewed = any(t.started >= lost.finished for t in run.issued.values())
        if not renewed:
            raise Violation(
                "after the 401 the integration went on without requesting a new token",
                Reaction(later[0], lost),
            )


# Resilience -------------------------------------------------------------------------------------


@judge("CLIENT-RETRY-AFTER")
def retry_after_honoured(run: ClientRun) -> None:
    limited = run.injector.fired.get(RATE_LIMITED)
    if limited is None:
        raise _not_fired(run, RATE_LIMITED)
    following = run.next_api_call(limited)
    if following is None:
        raise NotJudged(_stopped_after(limited))
    wait = int(limited.response_headers.get("retry-after", "0"))
    waited = following.started - limited.finished
    if waited + CLOCK_SLACK < wait:
        raise Violation(
            f"the next API call came {waited:.3f} s after a 429 with Retry-After: {wait}",
            Reaction(following, limited),
        )


@judge("CLIENT-BACKOFF")
def server_errors_retried_with_backoff(run: ClientRun) -> None:
    failed = [e for e in run.api if e.status >= 500]
    if not failed:
        raise _not_fired(run, UNAVAILABLE)
    # (run, method, path, query) -> the retries of that request since it last got a non-5xx answer
    retries: dict[tuple[str, str, str, str], list[Observed]] = {}
    last_answer: dict[tuple[str, str, str, str], Observed] = {}
    for exchange in run.api:
        key = (exchange.phase, exchange.method, exchange.path, exchange.query)
        before = last_answer.get(key)
        chain = retries.setdefault(key, [])
        if before is None or before.status < 500:
            chain.clear()
        else:
            chain.append(exchange)
            burst = chain[-(HOT_LOOP_RETRIES + 1) :]
            if len(burst) > HOT_LOOP_RETRIES and (
                burst[-1].started - burst[0].started <= HOT_LOOP_SECONDS
            ):
                raise Violation(
                    f"{len(burst)} retries of one request within "
                    f"{burst[-1].started - burst[0].started:.3f} s, each after a 5xx: a hot loop "
                    f"(more than {HOT_LOOP_RETRIES} within {HOT_LOOP_SECONDS:g} s; RFC 9110 §15.6.4)",
                    Reaction(exchange, before),
                )
            if len(chain) > MAX_RETRIES_IN_A_ROW:
                raise Violation(
                    f"one request was retried more than {MAX_RETRIES_IN_A_ROW} times in a row, each "
                    "retry answered 5xx: retries must stop",
                    Reaction(exchange, before),
                )
        last_answer[key] = exchange
    if not any(e.status < 500 for e in run.api if e.started >= failed[0].finished):
        raise NotJudged(_stopped_after(failed[0]))


def _stopped_after(injected: Observed) -> str:
    """The not_run reason of a reaction judge whose injection ended the integration's run."""
    return (
        f"no API call followed the {injected.status} at exchange #{injected.index}: the "
        "integration stopped there (CLIENT-RESILIENT judges that)"
    )


# Pagination and requests ------------------------------------------------------------------------


def _page_of(query: dict[str, list[str]]) -> tuple[str, str]:
    return (query.get("page", ["1"])[-1], query.get("per", [""])[-1])


@judge("CLIENT-PAGINATION")
def pages_followed_in_order(run: ClientRun) -> None:
    # (run, list path) -> the next (page, per); None: the last page was read
    expected: dict[tuple[str, str], tuple[str, str] | None] = {}
    went_beyond = offered = False
    for exchange in run.api:
        found = run.operation(exchange)
        if not found or not found[0].paginated:
            continue
        key = (exchange.phase, exchange.path)
        page, per = _page_of(exchange.query_params)
        if page != "1":
            went_beyond = True
            if key in expected and expected[key] is None:
                raise Violation(
                    f"page {page} was read after a page whose next_page_url was null", exchange
                )
            wanted = expected.get(key)
            if wanted is not None and (page, per or wanted[1]) != (wanted[0], wanted[1]):
                raise Violation(
                    f"page {page} (per {per or 'default'}) was read where next_page_url pointed "
                    f"at page {wanted[0]} (per {wanted[1] or 'default'}): a page was skipped or "
                    "repeated",
                    exchange,
                )
        if exchange.status != 200:
            continue  # a retry of the same page is expected next
        metadata = (exchange.response_json() or {}).get("metadata") or {}
        next_url = metadata.get("next_page_url")
        expected[key] = (
            _page_of(_query(next_url)) if isinstance(next_url, str) and next_url else None
        )
        offered = offered or expected[key] is not None
    if not went_beyond and not offered:
        # Not the client's doing: the target's lists had one page (under --upstream live, an
        # organization with fewer than 2 applications, even with the smaller_pages injection).
        raise NotJudged(
            "every list the integration read had one page only (no next_page_url): there was "
            "no second page to follow"
        )
    if not went_beyond:
        raise NotJudged("the integration never read beyond the first page of a list")


def _query(url: str) -> dict[str, list[str]]:
    from urllib.parse import parse_qs

    return parse_qs(urlsplit(url).query)


@judge("CLIENT-VALID-REQUESTS")
def requests_match_the_contract(run: ClientRun) -> None:
    _needs(run.api, "the integration made no API call")
    for exchange in run.api:
        found = run.operation(exchange)
        if found is None:
            raise Violation(
                f"{exchange.method} {exchange.path} is no operation of the contract", exchange
            )
        operation, path_values = found
        errors = contract.request_errors(
            operation,
            path_values,
            exchange.query_params,
            exchange.json(),
            exchange.headers.get("content-type", ""),
        )
        if errors:
            raise Violation(
                f"the {operation.operation_id} request breaks the contract: " + "; ".join(errors),
                exchange,
            )


# Completion and secrets -------------------------------------------------------------------------


@judge("CLIENT-COMPLETES")
def task_completed(run: ClientRun) -> None:
    clean = run.clean_outcome or run.outcome
    phase = CLEAN if run.clean_outcome else INJECTED
    why = _did_not_finish(run, clean, phase)
    if why:
        raise Violation(why[0] + ("" if phase == INJECTED else ", with nothing injected"), why[1])


@judge("CLIENT-RESILIENT")
def task_completed_despite_injections(run: ClientRun) -> None:
    if run.clean_outcome is not None and _did_not_finish(run, run.clean_outcome, CLEAN):
        raise NotJudged("the integration does not finish its task even with nothing injected")
    why = _did_not_finish(run, run.outcome, INJECTED)
    if why is None:
        return
    fired = sorted(run.injector.fired.values(), key=lambda e: e.index)
    if not fired:
        raise NotJudged("no injection fired, and the integration did not finish (CLIENT-COMPLETES)")
    last = fired[-1]
    raise Violation(
        f"{why[0]}, with the injections; the last before it stopped: {last.injection} "
        f"({last.status} at exchange #{last.index})",
        Reaction(why[1] or last, last),
    )


def _last_error_line(stderr: bytes) -> str:
    """The line of the integration's stderr that says why it stopped: the last exception line of a
    traceback (httpx adds a hint line after it), or else the last line."""
    lines = [
        line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()
    ]
    found = [line for line in lines if _EXCEPTION_LINE.match(line)]
    return (found or lines or [""])[-1]


def _did_not_finish(
    run: ClientRun, outcome: Outcome, phase: str
) -> tuple[str, Observed | None] | None:
    """Why one of the integration's runs did not finish its task, and the exchange to show."""
    exchanges = [e for e in run.exchanges if e.phase == phase]
    last = exchanges[-1] if exchanges else None
    if outcome.timed_out:
        return f"the integration did not finish within {run.timeout:g} s", last
    if outcome.returncode == 0:
        return None
    deleted = [e for e in exchanges if e.kind == API and e.method == "DELETE" and e.status == 204]
    tail = scrub(_last_error_line(outcome.stderr))
    why = f"the integration exited {outcome.returncode}" + (f" ({tail})" if tail else "")
    if deleted:
        why += "; its DELETE was answered 204 No Content, the documented success"
    return why, deleted[-1] if deleted else last


@judge("CLIENT-NO-LEAK")
def no_secret_in_output_or_files(run: ClientRun) -> None:
    places = [("stdout", run.outcome.stdout), ("stderr", run.outcome.stderr)]
    if run.clean_outcome is not None:
        clean = run.clean_outcome
        places += [("stdout (run without injections)", clean.stdout)]
        places += [("stderr (run without injections)", clean.stderr)]
    if run.watch_dir is not None and run.watch_dir.is_dir():
        for path in sorted(run.watch_dir.rglob("*")):
            try:
                if path.is_file():
                    places.append((str(path), path.read_bytes()))
            except OSError as error:  # unreadable: say so rather than pass it as clean
                run.notes.append(f"CLIENT-NO-LEAK: {path} could not be read ({error.strerror})")
    elif run.watch_dir is not None:
        run.notes.append(
            f"CLIENT-NO-LEAK: the watched folder {run.watch_dir} did not exist after the run, so "
            "only stdout and stderr were scanned"
        )
    # Each secret in every form scrub.encodings gives (the console scrubber masks the same forms).
    leaks = [(secret, _kind_of(run, secret)) for secret in run.secrets]
    leaks += [
        (value, "the HTTP Basic client credentials (base64 of client_id:client_secret)")
        for value in run.basic_credentials
    ]
    for where, content in places:
        text = content.decode("utf-8", "replace")
        for secret, kind in leaks:
            form = next((f for f in encodings(secret) if f in text), None)
            if form is None:
                continue
            line = next(n for n, row in enumerate(text.splitlines(), 1) if form in row)
            how = "" if form == secret else ", encoded"
            raise Violation(
                f"{kind} of this run appears{how} in {where} (line {line}): "
                f"{scrub(text.splitlines()[line - 1])[:200]}",
                _where_it_was_handed_over(run, secret),
            )


def _kind_of(run: ClientRun, secret: str) -> str:
    return "an access token" if secret in run.issued else "a client secret"


def _where_it_was_handed_over(run: ClientRun, secret: str) -> Observed | None:
    """The exchange that issued a leaked token, or the first that carried a leaked credential."""
    if secret in run.issued:
        return run.issued[secret]
    for exchange in run.exchanges:
        if secret in (exchange.response_body + exchange.body).decode("utf-8", "replace") or (
            secret in exchange.headers.get("authorization", "")
            or secret in _basic_decoded(exchange)
        ):
            return exchange
    # A Basic value the client never sent: its credentials went out with the first token request.
    return run.token_requests[0] if run.token_requests else None
