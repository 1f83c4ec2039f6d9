"""Fault switches: unknown names are refused, every known one can be enabled, and a few are shown
to change the emulator's behaviour over HTTP. (The certification suite proves each fault in detail.)
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from credly_contract.emulator import FAULTS, EmulatorServer, Faults
from credly_contract.emulator.faults import UnknownFault

APPS = "oauth_applications"


def test_faults_rejects_an_unknown_name_with_a_message_listing_the_known_faults():
    with pytest.raises(UnknownFault) as raised:
        Faults(["no_such_fault"])

    message = str(raised.value)
    assert "no_such_fault" in message
    assert all(name in message for name in FAULTS)


def test_an_emulator_server_refuses_an_unknown_fault():
    with pytest.raises(ValueError, match="known faults"):
        EmulatorServer(faults=["secret_on_read", "typo_fault"])


def test_faults_enable_disable_and_clear():
    faults = Faults(["secret_on_read"])
    faults.enable("token_cacheable")
    assert faults.active == ["secret_on_read", "token_cacheable"]
    assert "secret_on_read" in faults

    faults.disable("secret_on_read")
    assert faults.active == ["token_cacheable"]
    assert "secret_on_read" not in faults
    faults.clear()
    assert faults.active == []


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_every_fault_can_be_enabled_on_a_running_server(make_emulator, client, name):
    emulator = make_emulator(faults=[name])
    boot = emulator.bootstrap

    response = client.post(
        emulator.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": boot.client_id,
            "client_secret": boot.client_secret,
            "scope": "oauth_applications",
        },
    )

    assert emulator.faults.active == [name]
    assert FAULTS[name]  # each fault documents the rule it breaks
    assert response.status_code == 200


def test_all_faults_can_be_enabled_together(make_emulator):
    emulator = make_emulator(faults=list(FAULTS))

    assert emulator.faults.active == sorted(FAULTS)


@pytest.mark.parametrize(
    "emulator", [{}, {"faults": ["secret_on_read"]}], indirect=True, ids=["clean", "fault"]
)
def test_secret_on_read_shows_the_secret_again(emulator, api):
    crud = api(emulator)
    created = crud.post(APPS, json={"name": "Leaky"}).json()["data"]

    read = crud.get(f"{APPS}/{created['id']}").json()["data"]

    faulty = "secret_on_read" in emulator.faults
    assert read["secret"] == (created["secret"] if faulty else None)


@pytest.mark.parametrize(
    "emulator", [{}, {"faults": ["delete_returns_200"]}], indirect=True, ids=["clean", "fault"]
)
def test_delete_returns_200_answers_200_with_a_body(emulator, api):
    crud = api(emulator)
    created = crud.post(APPS, json={"name": "Doomed"}).json()["data"]

    response = crud.delete(f"{APPS}/{created['id']}")

    if "delete_returns_200" in emulator.faults:
        assert response.status_code == 200
        assert response.json()["data"]["message"]
    else:
        assert response.status_code == 204
        assert response.content == b""


@pytest.mark.parametrize(
    "emulator", [{}, {"faults": ["token_cacheable"]}], indirect=True, ids=["clean", "fault"]
)
def test_token_cacheable_drops_cache_control_no_store(emulator, client):
    boot = emulator.bootstrap
    data = {"grant_type": "client_credentials", "client_id": boot.client_id, "scope": "events"}

    good = client.post(emulator.token_url, data={**data, "client_secret": boot.client_secret})
    bad = client.post(emulator.token_url, data={**data, "client_secret": "wrong"})

    assert (good.status_code, bad.status_code) == (200, 401)
    for response in (good, bad):
        has_no_store = "no-store" in response.headers.get("cache-control", "")
        assert has_no_store is ("token_cacheable" not in emulator.faults)


def test_faults_can_be_switched_on_a_running_server(emulator, api):
    crud = api(emulator)

    emulator.faults.enable("unknown_id_not_404")
    faulty = crud.get(f"{APPS}/999999").status_code
    emulator.faults.disable("unknown_id_not_404")

    assert (faulty, crud.get(f"{APPS}/999999").status_code) == (400, 404)


@pytest.mark.parametrize("emulator", [{"faults": ["per_zero_500"]}], indirect=True)
def test_a_crash_answers_500_and_keeps_the_connection_open(emulator, token):
    """A handler that crashes answers 500 in the error envelope, as Credly's Rails app would, and
    the keep-alive connection serves the next request (uvicorn alone would close it under the
    client, which then sees a reset instead of an answer)."""
    origin = urlsplit(emulator.api_base_url)
    path = f"{origin.path}/organizations/{emulator.bootstrap.organization_id}/oauth_applications"
    headers = {"Authorization": f"Bearer {token(emulator)}"}
    connection = http.client.HTTPConnection(origin.hostname, origin.port, timeout=5)
    try:
        connection.request("GET", path + "?per=0", headers=headers)
        crashed = connection.getresponse()
        assert crashed.status == 500
        assert json.loads(crashed.read()) == {
            "data": {"message": "Internal Server Error"},
            "metadata": {},
        }
        assert (crashed.getheader("connection") or "").lower() != "close"
        used = connection.sock
        connection.request("GET", path + "?per=1", headers=headers)
        listed = connection.getresponse()
        assert listed.status == 200, listed.read()
        assert connection.sock is used  # the same connection, not a new one
    finally:
        connection.close()


@pytest.mark.parametrize(
    "emulator",
    [{}, {"faults": ["delete_removes_a_neighbour"]}],
    indirect=True,
    ids=["clean", "fault"],
)
def test_delete_removes_a_neighbour_takes_a_seeded_one_never_the_callers_own(emulator, api):
    """The fault seeds the neighbours it takes, and never takes an application the caller created
    (nor the caller): a certification's own applications stay, so the run fails one requirement."""
    crud = api(emulator)
    kept = crud.post(APPS, json={"name": "Kept"}).json()["data"]
    doomed = crud.post(APPS, json={"name": "Doomed"}).json()["data"]
    before = {a["id"] for a in crud.get(APPS, params={"per": 100}).json()["data"]}

    assert crud.delete(f"{APPS}/{doomed['id']}").status_code == 204

    after = {a["id"] for a in crud.get(APPS, params={"per": 100}).json()["data"]}
    gone = before - after - {doomed["id"]}
    faulty = "delete_removes_a_neighbour" in emulator.faults
    assert len(gone) == (1 if faulty else 0)
    assert kept["id"] in after
    assert crud.get(f"{APPS}/{kept['id']}").status_code == 200
