"""Exit codes by cause: what the user can fix is exit 2 with one line naming the setting (a host the DNS
says does not exist, an exhausted request budget); only a target that gave no answer is exit 3 (a DNS
lookup that timed out among them). Names are resolved by a patched getaddrinfo: nothing leaves 127.0.0.1."""

from __future__ import annotations

import socket

import pytest
import requests

from credly_contract import cli
from credly_contract.config import TargetUnreachable, live_target
from credly_contract.http_client import ApiClient, BudgetExhausted, Limits
from credly_contract.transport import HostNotFound

TYPO = "sandbox-api.credyl.com"
SETTINGS = {
    "CREDLY_API_BASE_URL": f"https://{TYPO}/v1",
    "CREDLY_TOKEN_URL": "https://sandbox.credyl.com/oauth/token",
    "CREDLY_ORGANIZATION_ID": "org",
    "CREDLY_CLIENT_ID": "client",
    "CREDLY_CLIENT_SECRET": "not-a-real-secret",
}


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch):
    """getaddrinfo answering every name but loopback with the given error number."""
    real = socket.getaddrinfo

    def answer(errno: int) -> None:
        def lookup(host, *args, **kwargs):
            if host in ("127.0.0.1", "localhost"):
                return real(host, *args, **kwargs)
            raise socket.gaierror(
                errno,
                {socket.EAI_NONAME: "Name or service not known"}.get(
                    errno, "Temporary failure in name resolution"
                ),
            )

        monkeypatch.setattr(socket, "getaddrinfo", lookup)

    return answer


def test_a_host_that_does_not_exist_is_a_setting_to_fix_in_either_library(dns):
    dns(socket.EAI_NONAME)
    target = live_target({}, SETTINGS)
    url = target.applications_url()
    client = ApiClient(target)
    try:
        with pytest.raises(HostNotFound) as by_httpx:
            client.get(url)
        with pytest.raises(requests.ConnectionError) as by_requests:
            client.requests_session().get(url, timeout=5)
    finally:
        client.close()
    by_requests_means = client.unreachable("GET", url, by_requests.value)
    assert isinstance(by_requests_means, HostNotFound)
    for message in (str(by_httpx.value), str(by_requests_means)):
        assert f"CREDLY_API_BASE_URL=https://{TYPO}/v1" in message and "does not exist" in message


def test_a_dns_lookup_that_timed_out_stays_no_answer(dns):
    dns(socket.EAI_AGAIN)
    target = live_target({}, SETTINGS)
    client = ApiClient(target)
    try:
        with pytest.raises(TargetUnreachable, match="DNS lookup failed"):
            client.get(target.applications_url())
    finally:
        client.close()


@pytest.mark.parametrize(("errno", "code"), [(socket.EAI_NONAME, 2), (socket.EAI_AGAIN, 3)])
def test_certify_says_which_url_names_no_host(dns, monkeypatch, capsys, tmp_path, errno, code):
    dns(errno)
    for variable, value in SETTINGS.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["certify", "--target", "live"]) == code
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "CREDLY_TOKEN_URL" in err if code == 2 else "unreachable" in err


def test_an_exhausted_budget_says_what_to_raise_and_is_no_outage(make_emulator):
    from credly_contract.targets import emulated_target

    emulator = make_emulator()
    client = ApiClient(emulated_target(emulator), Limits(budget=1))
    try:
        client.get(emulator.api_base_url)
        with pytest.raises(BudgetExhausted, match=r"budget of 1 requests .*raise --max-requests"):
            client.get(emulator.api_base_url)
    finally:
        client.close()
    assert not issubclass(BudgetExhausted, TargetUnreachable)
