"""Where the suite points: the target's URLs and credentials, read from CREDLY_* variables or flags.

This is the one place that turns the contract's paths (openapi/credly.yaml) into a target's URLs;
everything else asks a Target for URLs.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from credly_contract import spec
from credly_contract.scrub import register

ENVIRONMENT = {
    "api_base_url": "CREDLY_API_BASE_URL",
    "token_url": "CREDLY_TOKEN_URL",
    "organization_id": "CREDLY_ORGANIZATION_ID",
    "client_id": "CREDLY_CLIENT_ID",
    "client_secret": "CREDLY_CLIENT_SECRET",
    "foreign_organization_id": "CREDLY_FOREIGN_ORGANIZATION_ID",
    "foreign_application_id": "CREDLY_FOREIGN_APPLICATION_ID",
    # A PEM file of the CAs that signed the target's certificates (a company CA): see trust_setting.
    "ca_bundle": "CREDLY_CA_BUNDLE",
}
OPTIONAL = {"foreign_organization_id", "foreign_application_id", "ca_bundle"}
# Where a trusted CA bundle may be named, in the order they are honoured (see trust_setting).
CA_BUNDLE_VARIABLES = ("CREDLY_CA_BUNDLE", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
SECRET_FILE_VARIABLE = "CREDLY_CLIENT_SECRET_FILE"
PRODUCTION_HOSTS = frozenset({"api.credly.com", "www.credly.com"})
DENY_HOSTS_VARIABLE = "CREDLY_DENY_HOSTS"


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the setting and the fix (exit code 2)."""


class TargetUnreachable(Exception):
    """No HTTP answer came: refused connections, timeouts, repeated 502/503/504 (exit code 3).

    An HTTP answer that breaks the contract is never this: it fails a requirement (CheckFailed).
    """


class ConnectionDropped(TargetUnreachable):
    """The connection a request went out on was reset or closed before an answer came (a keep-alive
    connection the server or a load balancer closed meanwhile): not refused, not timed out."""


@dataclass(frozen=True)
class Target:
    kind: str
    api_base_url: str
    token_url: str
    organization_id: str
    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)
    foreign_organization_id: str | None = None
    # An application id of another organization, to ask for through our own organization's path.
    foreign_application_id: str | None = None
    ca_bundle: str | None = None  # --ca-bundle / CREDLY_CA_BUNDLE, when given

    def trust(self) -> Trust:
        """The CAs every HTTP client of the run trusts for this target."""
        return trust_setting(self.ca_bundle)

    def may_carry_credentials(self, url: str) -> bool:
        """Whether a request to ``url`` may carry a credential (a bearer token, a client secret):
        only when its scheme, host and port are those of the API base URL or the token URL, the
        two origins the user configured (so never plain http when those are https)."""
        return origin(url) in {origin(self.api_base_url), origin(self.token_url)}

    def link_to_follow(
        self, link: str, page_url: str, page: int, per: int | None
    ) -> tuple[str, dict[str, int] | None]:
        """The request for page ``page`` that a page link names (``link``, as the server wrote it on
        the page at ``page_url``; a relative one is resolved against it): the link itself when a
        token may follow it (``may_carry_credentials``), else the list's own URL with the page
        number, so a link that leaves the origin costs no credential and the walk goes on."""
        resolved = urljoin(page_url, link)
        if self.may_carry_credentials(resolved):
            return resolved, None
        params = {"page": page} | ({"per": per} if per else {})
        return page_url.split("?", 1)[0], params

    def setting_for(self, url: str) -> str:
        """The setting that made the suite request ``url``, as the user wrote it."""
        key = "token_url" if url.startswith(self.token_url) else "api_base_url"
        return f"{ENVIRONMENT[key]}={getattr(self, key)}"

    def _url(self, operation_id: str, organization_id: str | None, **values: str | int) -> str:
        """An operation's URL on this target: its path in the contract below the API base URL."""
        organization = organization_id or self.organization_id
        return self.api_base_url + spec.data_path(
            operation_id, organization_id=organization, **values
        )

    def applications_url(self, organization_id: str | None = None) -> str:
        return self._url("listOAuthApplications", organization_id)

    def application_url(self, application_id: int | str, organization_id: str | None = None) -> str:
        return self._url(
            "getOAuthApplication", organization_id, oauth_application_id=application_id
        )

    def badges_url(self, organization_id: str | None = None) -> str:
        return self._url("listIssuedBadges", organization_id)

    def environment(self) -> dict[str, str]:
        """The CREDLY_* variables that point the suite (or an integration) at this target: the one
        mapping from a target to them, the inverse of ``live_target``."""
        values = {key: getattr(self, key) for key in ENVIRONMENT}
        return {ENVIRONMENT[key]: value for key, value in values.items() if value is not None}

    def public(self) -> dict[str, str | None]:
        """What may be shown in a report: never credentials."""
        return {
            "kind": self.kind,
            "api_base_url": self.api_base_url,
            "token_url": self.token_url,
            "organization_id": self.organization_id,
        }

    def hosts(self) -> set[str]:
        """The normalised hosts of the API and the token URL (see ``normalised_host``)."""
        return {normalised_host(self.api_base_url), normalised_host(self.token_url)}


def origin(url: str) -> tuple[str, str, int | None]:
    """A URL's origin (RFC 6454): scheme, normalised host and port, the scheme's default port
    filled in; a malformed port makes an origin nothing else has."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return scheme, normalise_hostname(parts.hostname or ""), port


def normalise_hostname(host: str) -> str:
    """One spelling per host: percent-decoded, lower case, IDNA (which also maps fullwidth letters to
    ASCII), and no trailing dot (``api.credly.com.`` is the same host as ``api.credly.com``)."""
    host = unquote(host).strip().rstrip(".").lower()
    if not host:
        return ""
    # Not a valid IDNA name: compare its lower-case spelling.
    with contextlib.suppress(UnicodeError):
        host = host.encode("idna").decode("ascii")
    return host.rstrip(".").lower()


def normalised_host(url: str) -> str:
    """The host a URL reaches, whatever its spelling: userinfo and any port are ignored."""
    return normalise_hostname(urlsplit(url.strip()).hostname or "")


EXAMPLE_URLS = {
    "CREDLY_API_BASE_URL": "https://sandbox-api.credly.com/v1",
    "CREDLY_TOKEN_URL": "https://sandbox.credly.com/oauth/token",
}


def _check_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        parts = parts._replace(netloc="")
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"{name}={value!r} is not an http(s) URL; "
            f"set it like {EXAMPLE_URLS.get(name, 'https://...')}"
        )
    return value.rstrip("/")


def live_target(
    overrides: Mapping[str, str | None], environ: Mapping[str, str] | None = None
) -> Target:
    """A live target from flags (``overrides``) falling back to the CREDLY_* environment."""
    environ = os.environ if environ is None else environ
    values: dict[str, str | None] = {}
    missing = []
    for key, variable in ENVIRONMENT.items():
        value = overrides.get(key) or environ.get(variable) or None
        if key == "client_secret" and value is None and environ.get(SECRET_FILE_VARIABLE):
            value = _read_secret_file(environ[SECRET_FILE_VARIABLE])
        if value is not None:
            value = value.strip()
        if not value and key not in OPTIONAL:
            missing.append(variable)
        values[key] = value
    if missing:
        named = [
            f"{v} (or {SECRET_FILE_VARIABLE})" if v == ENVIRONMENT["client_secret"] else v
            for v in missing
        ]
        raise ConfigError(
            f"--target live needs {', '.join(named)}: export "
            + ("it" if len(missing) == 1 else "them")
            + " (or pass the matching --api-base-url/--token-url/--organization-id/--client-id/"
            "--client-secret flags)"
        )
    register(values["client_secret"], "CLIENT_SECRET")
    return Target(
        kind="live",
        api_base_url=_check_url(ENVIRONMENT["api_base_url"], values["api_base_url"] or ""),
        token_url=_check_url(ENVIRONMENT["token_url"], values["token_url"] or ""),
        organization_id=values["organization_id"] or "",
        client_id=values["client_id"] or "",
        client_secret=values["client_secret"] or "",
        foreign_organization_id=values["foreign_organization_id"],
        foreign_application_id=values["foreign_application_id"],
        ca_bundle=values["ca_bundle"],
    )


def _read_secret_file(path: str) -> str:
    """The client secret from a file (a mounted CI secret, say), surrounding whitespace stripped."""
    try:
        secret = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(
            f"{SECRET_FILE_VARIABLE}={path} cannot be read ({error.strerror}): point it at a file "
            "that holds only the client secret"
        ) from None
    if not secret:
        raise ConfigError(f"{SECRET_FILE_VARIABLE}={path} is empty: put the client secret in it")
    return secret


def denied_hosts(environ: Mapping[str, str] | None = None) -> set[str]:
    environ = os.environ if environ is None else environ
    extra = {
        normalise_hostname(h) for h in environ.get(DENY_HOSTS_VARIABLE, "").split(",") if h.strip()
    }
    return set(PRODUCTION_HOSTS) | extra


def denied_hosts_of(target: Target, environ: Mapping[str, str] | None = None) -> list[str]:
    """The target's hosts that are production or on the CREDLY_DENY_HOSTS list, compared after
    normalisation (case, trailing dot, IDNA, userinfo and port do not make another host)."""
    denied = denied_hosts(environ)
    return sorted(h for h in target.hosts() if h in denied)


def refused_settings(target: Target, environ: Mapping[str, str] | None = None) -> str:
    """The settings that name a refused host, and why each is refused: ``production host
    api.credly.com (CREDLY_API_BASE_URL)`` or ``host x.example, listed in CREDLY_DENY_HOSTS
    (CREDLY_TOKEN_URL)``. URLs are left out: their userinfo may hold a password."""
    environ = os.environ if environ is None else environ
    listed = denied_hosts(environ) - PRODUCTION_HOSTS
    parts = []
    for variable, url in (
        (ENVIRONMENT["api_base_url"], target.api_base_url),
        (ENVIRONMENT["token_url"], target.token_url),
    ):
        host = normalised_host(url)
        if host in PRODUCTION_HOSTS:
            parts.append(f"production host {host} ({variable})")
        elif host in listed:
            parts.append(f"host {host}, listed in {DENY_HOSTS_VARIABLE} ({variable})")
    return " and ".join(parts)


def guard_production(
    target: Target,
    allow_production: bool,
    read_only: bool,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Refuse production (and deny-listed) hosts, of the API and the token URL, before anything is
    sent."""
    hit = denied_hosts_of(target, environ)
    if not hit:
        return
    if allow_production and read_only:
        return
    how = (
        "--allow-production works only with --profile readonly"
        if allow_production
        else ("pass --allow-production together with --profile readonly")
    )
    raise ConfigError(
        f"refusing to certify against {refused_settings(target, environ)}: the suite creates and "
        f"deletes applications; {how}, or set {_staging_fix(target, environ)}"
    )


def _staging_fix(target: Target, environ: Mapping[str, str] | None) -> str:
    """Which setting to point at staging, with an example: the refused ones."""
    denied = denied_hosts(environ)
    fixes = [
        f"{variable} to staging (e.g. {EXAMPLE_URLS[variable]})"
        for variable, url in (
            (ENVIRONMENT["api_base_url"], target.api_base_url),
            (ENVIRONMENT["token_url"], target.token_url),
        )
        if normalised_host(url) in denied
    ]
    return " and ".join(fixes)


@dataclass(frozen=True)
class Trust:
    """The CA bundle every HTTP client of a run verifies servers against: ``cafile`` and the setting
    that named it (``source``), or both None for the default bundle (certifi's)."""

    cafile: str | None = None
    source: str | None = None

    def describe(self) -> str:
        return f"{self.source}={self.cafile}" if self.source else "the default CA bundle (certifi)"


def trust_setting(ca_bundle: str | None = None, environ: Mapping[str, str] | None = None) -> Trust:
    """The one trust setting of a run: ``--ca-bundle`` (``ca_bundle``), else the first of
    CREDLY_CA_BUNDLE, SSL_CERT_FILE and REQUESTS_CA_BUNDLE that is set, else certifi's bundle. The
    libraries the suite uses each read only some of these variables (httpx SSL_CERT_FILE, requests
    REQUESTS_CA_BUNDLE): reading them here, once, lets either one alone reach every client. A
    bundle replaces the default one, as curl's --cacert does."""
    environ = os.environ if environ is None else environ
    flag = "CREDLY_CA_BUNDLE" if ca_bundle == environ.get("CREDLY_CA_BUNDLE") else "--ca-bundle"
    named = [(flag, ca_bundle)] + [(v, environ.get(v)) for v in CA_BUNDLE_VARIABLES]
    for source, value in named:
        if value and value.strip():
            path = Path(value.strip()).expanduser()
            if not path.is_file():
                raise ConfigError(
                    f"{source}={value} is not a readable file: point it at a PEM file of the CA "
                    "certificates that signed the target's certificate"
                )
            return Trust(str(path), source)
    return Trust()


def proxy_for(url: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The proxy a request to ``url`` goes through, the same for every HTTP client of a run:
    HTTPS_PROXY for https, HTTP_PROXY for http, else ALL_PROXY (each in lower or upper case, lower
    first as curl reads them), unless NO_PROXY names the host: ``*``, a host or domain (with or
    without a leading dot, matching its subdomains), an IP address or network (CIDR), each
    optionally with a port."""
    environ = os.environ if environ is None else environ
    variables = {k.lower(): v for k, v in environ.items() if k.isupper()}
    variables |= {k: v for k, v in environ.items() if k.islower()}
    scheme, host, port = origin(url)
    proxy = variables.get(f"{scheme}_proxy") or variables.get("all_proxy")
    if not proxy or not proxy.strip():
        return None
    if _bypassed(host, port, variables.get("no_proxy", "")):
        return None
    proxy = proxy.strip()
    return proxy if "://" in proxy else "http://" + proxy


def _bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        name, entry_port = _split_port(entry)
        if entry_port is not None and entry_port != port:
            continue
        try:
            if ipaddress.ip_address(host) in ipaddress.ip_network(name, strict=False):
                return True
            continue
        except ValueError:
            pass  # not an address and a network: compare names
        domain = name.strip(".")
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False


def _split_port(entry: str) -> tuple[str, int | None]:
    """A NO_PROXY entry's name and port: ``host:8080``, ``[::1]:8080``; a bare IPv6 address has none."""
    if entry.startswith("["):
        name, _, rest = entry[1:].partition("]")
        rest = rest.removeprefix(":")
        return name, int(rest) if rest.isdigit() else None
    name, colon, rest = entry.partition(":")
    if colon and rest.isdigit():
        return name, int(rest)
    return entry, None
