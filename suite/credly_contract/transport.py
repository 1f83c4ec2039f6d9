"""How every HTTP client of a run reaches a target: the one place that turns the run's trust setting
(``config.trust_setting``) and proxy variables (``config.proxy_for``) into httpx clients (the suite's
ApiClient, certify-client's forwarding proxy) and a requests session (schemathesis's generated calls),
and that says which transport errors the user can fix (exit 2) rather than retry (exit 3)."""

from __future__ import annotations

import functools
import socket
import ssl
from collections.abc import Iterable, Iterator
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit

import certifi
import httpx
import requests

from credly_contract.config import ConfigError, Trust, proxy_for


class UntrustedCertificate(ConfigError):
    """The server's TLS certificate does not verify against the run's trust setting (exit 2): the
    message names the setting that fixes it."""


class HostNotFound(ConfigError):
    """The DNS says a host does not exist (NXDOMAIN): a typo in a URL setting, which retrying
    cannot fix (exit 2). A DNS lookup that timed out or failed for now is no answer (exit 3)."""


@functools.lru_cache(maxsize=8)
def _context(cafile: str) -> ssl.SSLContext:
    # Loading a CA bundle costs ~30 ms: one context per bundle, shared by every client of the process.
    return ssl.create_default_context(cafile=cafile)


def ssl_context(trust: Trust) -> ssl.SSLContext:
    """The SSL context that verifies servers against ``trust``."""
    try:
        return _context(trust.cafile or certifi.where())
    except (ssl.SSLError, OSError, ValueError) as error:
        raise ConfigError(
            f"{trust.describe()} holds no usable CA certificate ({error}): point it at a PEM file "
            "of the CA certificates that signed the target's certificate"
        ) from None


def _pattern(url: str) -> str:
    """An httpx mount pattern for exactly the origin of ``url`` (httpx leaves default ports out)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = parts.port
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def _proxied(urls: Iterable[str]) -> Iterator[tuple[str, str]]:
    for url in dict.fromkeys(urls):
        proxy = proxy_for(url)
        if proxy is not None:
            yield url, proxy


def httpx_client(
    urls: Iterable[str],
    trust: Trust,
    *,
    timeout: httpx.Timeout | float,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client for the origins of ``urls``: verifying against ``trust``, through the proxy
    ``proxy_for`` names for each, and deaf to the environment (every setting is read here)."""
    context = ssl_context(trust)
    mounts: dict[str, httpx.BaseTransport | None] = {
        _pattern(url): httpx.HTTPTransport(verify=context, proxy=proxy)
        for url, proxy in _proxied(urls)
    }
    return httpx.Client(
        timeout=timeout,
        verify=context,
        trust_env=False,
        mounts=mounts,
        transport=transport,
        follow_redirects=False,
    )


def httpx_async_client(urls: Iterable[str], trust: Trust, *, timeout: float) -> httpx.AsyncClient:
    """``httpx_client`` for asyncio (certify-client's forwarding proxy), for the origins of ``urls``.
    It keeps no cookies: a proxy forwards the integration's Cookie headers and adds none of its own."""
    context = ssl_context(trust)
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {
        _pattern(url): httpx.AsyncHTTPTransport(verify=context, proxy=proxy)
        for url, proxy in _proxied(urls)
    }
    client = httpx.AsyncClient(
        timeout=timeout, verify=context, trust_env=False, mounts=mounts, follow_redirects=False
    )
    client.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return client


def requests_session(urls: Iterable[str], trust: Trust) -> requests.Session:
    """A requests session for the origins of ``urls`` with the same trust and proxies as
    ``httpx_client``. It keeps no cookies, as schemathesis's own session per call kept none."""
    session = requests.Session()
    session.trust_env = False
    session.verify = trust.cafile or certifi.where()
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    for url, proxy in _proxied(urls):
        parts = urlsplit(url)
        session.proxies[f"{parts.scheme}://{parts.hostname}"] = proxy
    return session


def _chain(error: BaseException, depth: int = 0) -> Iterator[BaseException]:
    """``error`` and every exception it wraps (httpx and requests nest the socket's several deep)."""
    yield error
    if depth > 6:
        return
    inner = [a for a in error.args if isinstance(a, BaseException)]
    inner += [e for e in (error.__cause__, error.__context__) if e is not None]
    for nested in inner:
        yield from _chain(nested, depth + 1)


# getaddrinfo's answers that mean the name does not exist (EAI_NODATA: it has no address), as
# opposed to EAI_AGAIN (the lookup failed for now: a DNS timeout) and the rest.
_NO_SUCH_HOST = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
_NO_SUCH_HOST_TEXT = (
    "name or service not known",
    "nodename nor servname provided",
    "no address associated with hostname",
)


def user_fixable(error: BaseException, url: str, setting: str, trust: Trust) -> ConfigError | None:
    """The configuration error a transport error means, when the user can fix it: a certificate that
    does not verify against the run's trust setting, or a host the DNS says does not exist."""
    chain = list(_chain(error))
    host = urlsplit(url).hostname or url
    # The innermost words first: the ssl module's own ("self-signed certificate in certificate
    # chain"), else any wrapper that names the failure.
    verification: list[BaseException] = [
        i for i in chain if isinstance(i, ssl.SSLCertVerificationError)
    ]
    verification += [i for i in chain if "CERTIFICATE_VERIFY_FAILED" in str(i)]
    if verification:
        failed = verification[0]
        reason = getattr(failed, "verify_message", None) or _short(failed)
        return UntrustedCertificate(
            f"the TLS certificate of {host} ({setting}) did not verify against "
            f"{trust.describe()} ({reason}): if a private CA signed it, set CREDLY_CA_BUNDLE "
            "(or --ca-bundle) to that CA's PEM file"
        )
    for inner in chain:
        errno = inner.errno if isinstance(inner, socket.gaierror) else None
        if errno in _NO_SUCH_HOST or (
            errno is None and any(t in str(inner).lower() for t in _NO_SUCH_HOST_TEXT)
        ):
            return HostNotFound(
                f"the host {host} does not exist (DNS: no such name): check the host name in "
                f"{setting}"
            )
    return None


def _short(error: BaseException) -> str:
    return (str(error) or type(error).__name__).splitlines()[0][:200]
