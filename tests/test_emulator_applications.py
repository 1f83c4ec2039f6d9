"""The emulator's OAuth applications endpoints (list, get, create, update, delete), over HTTP."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credly_contract.checks.pagination import METADATA_FIELDS
from credly_contract.emulator import EmulatorServer
from credly_contract.emulator.store import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH

APPS = "oauth_applications"
DOCUMENTED_FIELDS = {
    "id",
    "name",
    "description",
    "created_at",
    "updated_at",
    "uid",
    "created_by_id",
    "created_by_type",
    "created_by_name",
    "creator_available",
    "secret",
}
MAX_PAGES = 50
CREDENTIAL = re.compile(r"^[A-Za-z0-9_-]{43}$")
ISO8601_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def create(crud: httpx.Client, name: str = "App", **fields: Any) -> dict[str, Any]:
    response = crud.post(APPS, json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()["data"]


def pages(crud: httpx.Client, url: str, link: str = "next_page_url") -> Iterator[dict[str, Any]]:
    """Each page body from url on, following the link; fails rather than looping forever."""
    for _ in range(MAX_PAGES):
        response = crud.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        yield body
        if body["metadata"][link] is None:
            return
        assert body["data"], f"an empty page still has a {link}"
        url = body["metadata"][link]
    pytest.fail(f"{link} never ended after {MAX_PAGES} pages")


def everything(crud: httpx.Client) -> list[dict[str, Any]]:
    """Every application of the organization, following next_page_url."""
    return [app for body in pages(crud, f"{APPS}?per=100") for app in body["data"]]


def assert_error(response: httpx.Response, statuses: tuple[int, ...] = (400, 422)) -> None:
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["data"]["message"]
    assert isinstance(message, str)
    assert message


def send(crud: httpx.Client, method: str, url: str, body: bytes, content_type: str):
    return crud.request(method, url, content=body, headers={"Content-Type": content_type})


@pytest.fixture
def crud(emulator, api) -> httpx.Client:
    return api(emulator)


# Create, get, list ------------------------------------------------------------------------------


def test_create_answers_201_with_the_documented_fields_and_a_secret(crud):
    response = crud.post(APPS, json={"name": "Integrations", "description": "For the dev team."})

    assert response.status_code == 201
    body = response.json()
    assert body["metadata"] == {}
    app = body["data"]
    assert set(app) == DOCUMENTED_FIELDS
    assert isinstance(app["id"], int)
    assert app["name"] == "Integrations"
    assert app["description"] == "For the dev team."
    assert CREDENTIAL.match(app["uid"])
    assert CREDENTIAL.match(app["secret"])
    assert app["uid"] != app["secret"]
    assert app["creator_available"] is True


def test_create_without_description_stores_a_null_description(crud):
    app = create(crud, "No description")

    assert app["description"] is None
    assert crud.get(f"{APPS}/{app['id']}").json()["data"]["description"] is None


def test_get_answers_200_with_the_created_application_and_no_secret(crud):
    created = create(crud, "Readable", description="d")

    response = crud.get(f"{APPS}/{created['id']}")

    assert response.status_code == 200
    body = response.json()
    assert body["metadata"] == {}
    assert body["data"] == {**created, "secret": None}


def test_list_answers_200_with_the_applications_and_seven_metadata_fields(emulator, crud):
    created = create(crud, "Listed")

    response = crud.get(APPS)

    assert response.status_code == 200
    body = response.json()
    assert set(body["metadata"]) == set(METADATA_FIELDS)
    assert body["metadata"] == {
        "count": 2,
        "current_page": 1,
        "total_count": 2,
        "total_pages": 1,
        "per": 50,
        "previous_page_url": None,
        "next_page_url": None,
    }
    assert [a["id"] for a in body["data"]] == [1, created["id"]]
    assert all(set(a) == DOCUMENTED_FIELDS for a in body["data"])
    assert body["data"][1] == {**created, "secret": None}


def test_the_secret_is_shown_only_in_the_create_response(crud):
    created = create(crud, "Secretive")
    secret = created["secret"]

    read = crud.get(f"{APPS}/{created['id']}")
    listed = crud.get(APPS)
    updated = crud.put(f"{APPS}/{created['id']}", json={"name": "Renamed"})

    assert read.json()["data"]["secret"] is None
    assert all(a["secret"] is None for a in listed.json()["data"])
    assert updated.json()["data"]["secret"] is None
    for response in (read, listed, updated):
        assert secret not in response.text


def test_created_applications_get_distinct_ids_and_credentials(crud):
    apps = [create(crud, f"App {n}") for n in range(5)]

    assert len({a["id"] for a in apps}) == 5
    assert len({a["uid"] for a in apps} | {a["secret"] for a in apps}) == 10


# Update -----------------------------------------------------------------------------------------


def test_update_answers_200_and_stores_the_new_values(crud):
    created = create(crud, "Before", description="old")

    response = crud.put(f"{APPS}/{created['id']}", json={"name": "After", "description": "new"})

    assert response.status_code == 200
    assert response.json()["metadata"] == {}
    data = response.json()["data"]
    assert (data["name"], data["description"]) == ("After", "new")
    assert crud.get(f"{APPS}/{created['id']}").json()["data"] == data


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ({"name": "Renamed"}, {"name": "Renamed", "description": "kept"}),
        ({"description": "changed"}, {"name": "Original", "description": "changed"}),
        ({}, {"name": "Original", "description": "kept"}),
        ({"description": None}, {"name": "Original", "description": None}),
    ],
    ids=["name-only", "description-only", "empty-object", "description-null"],
)
def test_update_keeps_the_fields_that_were_not_sent(crud, sent, expected):
    created = create(crud, "Original", description="kept")

    response = crud.put(f"{APPS}/{created['id']}", json=sent)

    assert response.status_code == 200
    stored = crud.get(f"{APPS}/{created['id']}").json()["data"]
    for data in (response.json()["data"], stored):
        assert {"name": data["name"], "description": data["description"]} == expected
        assert data["uid"] == created["uid"]
        assert data["created_at"] == created["created_at"]


def test_timestamps_are_iso8601_with_z_and_update_moves_only_updated_at(emulator, crud):
    created = create(crud, "Timed")
    emulator.clock.advance(90)

    updated = crud.put(f"{APPS}/{created['id']}", json={"name": "Timed again"}).json()["data"]

    for app in (created, updated):
        for key in ("created_at", "updated_at"):
            assert ISO8601_Z.match(app[key]), app[key]
    parse = datetime.fromisoformat
    assert parse(created["updated_at"]) >= parse(created["created_at"])
    assert updated["created_at"] == created["created_at"]
    elapsed = parse(updated["updated_at"]) - parse(created["updated_at"])
    assert 89 <= elapsed.total_seconds() < 120


# Delete -----------------------------------------------------------------------------------------


def test_delete_answers_204_with_an_empty_body_and_the_application_is_gone(crud):
    created = create(crud, "Doomed")
    kept = create(crud, "Kept")

    response = crud.delete(f"{APPS}/{created['id']}")

    assert response.status_code == 204
    assert response.content == b""
    assert crud.get(f"{APPS}/{created['id']}").status_code == 404
    assert crud.delete(f"{APPS}/{created['id']}").status_code == 404
    assert [a["id"] for a in everything(crud)] == [1, kept["id"]]


# Unknown and non-integer ids --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("app_id", ["999999", "0", "-1", "98765432109876543210"])
def test_unknown_application_id_answers_404(crud, method, app_id):
    before = everything(crud)

    response = crud.request(
        method, f"{APPS}/{app_id}", json={"name": "x"} if method == "PUT" else None
    )

    assert_error(response, (404,))
    assert everything(crud) == before


def _arabic_indic(number: int) -> str:
    return quote("".join(chr(0x0660 + int(d)) for d in str(number)))


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize(
    "spell",
    [
        lambda n: "abc",
        lambda n: f"{n}.0",
        lambda n: f"{n}abc",
        lambda n: f"+{n}",
        lambda n: f"%20{n}",
        lambda n: f"{n}%20",
        lambda n: f"{n}_",
        lambda n: f"{str(n)[0]}_{str(n)[1:]}",
        lambda n: "0x1",
        _arabic_indic,
    ],
    ids=[
        "letters",
        "decimal",
        "suffix",
        "plus-sign",
        "leading-space",
        "trailing-space",
        "trailing-underscore",
        "digit-underscore",
        "hex",
        "arabic-indic-digits",
    ],
)
def test_non_integer_application_id_answers_404_and_touches_nothing(crud, method, spell):
    for n in range(10):
        create(crud, f"Filler {n}")
    target = create(crud, "Target")  # id >= 10, so "1_0"-style spellings name a real id
    before = everything(crud)

    body = {"name": "Hijacked"} if method == "PUT" else None
    response = crud.request(method, f"{APPS}/{spell(target['id'])}", json=body)

    assert_error(response, (404,))
    assert everything(crud) == before


# Ordering and pagination ------------------------------------------------------------------------


def test_list_is_ordered_by_id_and_stable_across_reads_and_updates(crud):
    apps = [create(crud, f"App {n}") for n in range(5)]
    crud.put(f"{APPS}/{apps[0]['id']}", json={"name": "Touched last"})

    first = [a["id"] for a in everything(crud)]
    second = [a["id"] for a in everything(crud)]

    assert first == sorted(first)
    assert first == second == [1] + [a["id"] for a in apps]


def test_pagination_metadata_is_exact_on_every_page(crud):
    for n in range(7):
        create(crud, f"Paged {n}")
    all_ids = [a["id"] for a in everything(crud)]
    assert len(all_ids) == 8  # the bootstrap application and the seven new ones

    pages = [crud.get(APPS, params={"page": p, "per": 3}).json() for p in (1, 2, 3)]

    for number, (page, count) in enumerate(zip(pages, (3, 3, 2), strict=True), start=1):
        meta = page["metadata"]
        assert set(meta) == set(METADATA_FIELDS)
        assert meta["count"] == len(page["data"]) == count
        assert meta["current_page"] == number
        assert meta["total_count"] == 8
        assert meta["total_pages"] == 3
        assert meta["per"] == 3
        assert (meta["previous_page_url"] is None) == (number == 1)
        assert (meta["next_page_url"] is None) == (number == 3)
    assert [a["id"] for page in pages for a in page["data"]] == all_ids


def test_next_and_previous_page_urls_are_absolute_and_work_when_followed(emulator, crud):
    for n in range(7):
        create(crud, f"Paged {n}")
    all_ids = [a["id"] for a in everything(crud)]

    origin = emulator.api_base_url + "/organizations/"

    forward = list(pages(crud, f"{APPS}?per=3"))
    backward = list(pages(crud, forward[-1]["metadata"]["previous_page_url"], "previous_page_url"))

    for page in forward + backward:
        for link in ("next_page_url", "previous_page_url"):
            assert page["metadata"][link] is None or page["metadata"][link].startswith(origin)
    forward_ids = [[a["id"] for a in page["data"]] for page in forward]
    backward_ids = [[a["id"] for a in page["data"]] for page in backward]

    assert [i for ids in forward_ids for i in ids] == all_ids
    assert len(forward_ids) == 3
    assert backward_ids == forward_ids[-2::-1]


def test_a_page_past_the_end_answers_200_with_no_data(crud):
    for n in range(7):
        create(crud, f"Paged {n}")

    response = crud.get(APPS, params={"page": 4, "per": 3})

    assert response.status_code == 200
    body = response.json()
    assert body["data"] == []
    meta = body["metadata"]
    assert (meta["count"], meta["current_page"], meta["total_count"]) == (0, 4, 8)
    assert (meta["total_pages"], meta["per"], meta["next_page_url"]) == (3, 3, None)


def test_per_defaults_to_50(make_emulator, api):
    crud = api(make_emulator(seed_applications=60))

    first = crud.get(APPS).json()
    second = crud.get(first["metadata"]["next_page_url"]).json()

    assert first["metadata"]["per"] == 50
    assert len(first["data"]) == 50
    assert first["metadata"]["total_pages"] == 2
    assert first["metadata"]["total_count"] == 61
    assert len(second["data"]) == 11
    assert second["metadata"]["next_page_url"] is None


def test_per_accepts_100(make_emulator, api):
    crud = api(make_emulator(seed_applications=120))

    response = crud.get(APPS, params={"per": 100})

    assert response.status_code == 200
    assert len(response.json()["data"]) == 100


@pytest.mark.parametrize("per", ["101", "310", "2174888", "99999999999999999999"])
def test_a_per_above_100_is_served_at_100_and_metadata_says_so(make_emulator, api, per):
    # The docs name no maximum page size: any positive per is valid, and the emulator caps it.
    crud = api(make_emulator(seed_applications=120))

    response = crud.get(APPS, params={"per": per})

    assert response.status_code == 200
    assert len(response.json()["data"]) == 100
    assert response.json()["metadata"]["per"] == 100
    assert response.json()["metadata"]["total_pages"] == 2


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", APPS, "GET, HEAD, POST"),
        ("PATCH", APPS, "GET, HEAD, POST"),
        ("OPTIONS", APPS + "/1", "DELETE, GET, HEAD, PUT"),
        ("PATCH", APPS + "/1", "DELETE, GET, HEAD, PUT"),
    ],
)
def test_405_names_every_method_the_path_serves_in_allow(crud, method, path, allowed):
    # RFC 9110 §15.5.6: the Allow header lists the target resource's supported methods.
    response = crud.request(method, path)

    assert response.status_code == 405
    assert response.headers["allow"] == allowed


@pytest.mark.parametrize(
    "params",
    [
        {"page": "0"},
        {"page": "-1"},
        {"page": "x"},
        {"page": "1.5"},
        {"per": "0"},
        {"per": "-1"},
        {"per": "x"},
    ],
    ids=lambda p: "=".join(*p.items()),
)
def test_bad_page_or_per_answers_400_with_a_json_error(crud, params):
    assert_error(crud.get(APPS, params=params), (400,))


# Validation: refused input changes nothing ------------------------------------------------------

JSON = "application/json"
REFUSED_BODIES = {
    "missing-name": json.dumps({"description": "no name"}),
    "empty-object": "{}",
    "blank-name": json.dumps({"name": ""}),
    "whitespace-name": json.dumps({"name": " \t\n "}),
    "name-256": json.dumps({"name": "n" * (NAME_MAX_LENGTH + 1)}),
    "description-2001": json.dumps(
        {"name": "ok", "description": "d" * (DESCRIPTION_MAX_LENGTH + 1)}
    ),
    "name-int": json.dumps({"name": 123}),
    "name-null": json.dumps({"name": None}),
    "name-bool": json.dumps({"name": True}),
    "name-object": json.dumps({"name": {"first": "x"}}),
    "description-list": json.dumps({"name": "ok", "description": [1]}),
    "description-int": json.dumps({"name": "ok", "description": 5}),
    "malformed-json": '{"name": "unterminated',
    "not-json": "name=ok&&&",
    "json-array": json.dumps([{"name": "ok"}]),
    "json-string": json.dumps("ok"),
    "json-null": "null",
    "lone-surrogate-name": json.dumps({"name": "\ud800"}),
    "lone-surrogate-description": json.dumps({"name": "ok", "description": "x\udfffy"}),
    "deeply-nested": '{"name": "ok", "description": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "invalid-utf8": b'{"name": "\xff\xfe"}',
}
# Not every refused body makes sense for update (missing name is fine there).
UPDATE_REFUSED = {
    k: v for k, v in REFUSED_BODIES.items() if k not in {"missing-name", "empty-object"}
}


def _raw(body: str | bytes) -> bytes:
    return body if isinstance(body, bytes) else body.encode()


@pytest.mark.parametrize("body", REFUSED_BODIES.values(), ids=REFUSED_BODIES.keys())
def test_create_refuses_invalid_input_with_a_json_error_and_changes_nothing(crud, body):
    before = everything(crud)

    response = send(crud, "POST", APPS, _raw(body), JSON)

    assert_error(response)
    assert everything(crud) == before


@pytest.mark.parametrize("body", UPDATE_REFUSED.values(), ids=UPDATE_REFUSED.keys())
def test_update_refuses_invalid_input_with_a_json_error_and_changes_nothing(crud, body):
    target = create(crud, "Stable", description="unchanged")
    before = everything(crud)

    response = send(crud, "PUT", f"{APPS}/{target['id']}", _raw(body), JSON)

    assert_error(response)
    assert everything(crud) == before


def test_name_and_description_at_their_maximum_lengths_are_accepted(crud):
    name, description = "n" * NAME_MAX_LENGTH, "d" * DESCRIPTION_MAX_LENGTH

    created = create(crud, name, description=description)
    updated = crud.put(f"{APPS}/{created['id']}", json={"name": name[::-1]})

    assert (created["name"], created["description"]) == (name, description)
    assert updated.status_code == 200


def test_non_ascii_names_round_trip(crud):
    created = create(crud, "Zoë's app 🚀", description="ünïcödé")

    stored = crud.get(f"{APPS}/{created['id']}").json()["data"]

    assert (stored["name"], stored["description"]) == ("Zoë's app 🚀", "ünïcödé")


# No input produces a 500 ------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters(exclude_categories=()), max_size=300),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
request_bodies = st.one_of(
    st.fixed_dictionaries({}, optional={"name": json_values, "description": json_values}).map(
        json.dumps
    ),
    json_values.map(json.dumps),
    st.text(max_size=60),
).map(lambda text: text.encode("utf-8", "surrogatepass")) | st.binary(max_size=60)
content_types = st.sampled_from([JSON, "application/x-www-form-urlencoded", "text/plain"])
FUZZ = settings(max_examples=50, deadline=None, database=None)


def test_create_never_answers_500_and_a_refusal_changes_nothing(emulator, api):
    crud = api(emulator)

    @FUZZ
    @given(body=request_bodies, content_type=content_types)
    def check(body: bytes, content_type: str) -> None:
        before = everything(crud)
        response = send(crud, "POST", APPS, body, content_type)
        assert response.status_code < 500, response.text
        after = everything(crud)
        if response.status_code == 201:
            created = response.json()["data"]
            assert after == [*before, {**created, "secret": None}]
        else:
            assert_error(response)
            assert after == before

    check()


def test_update_never_answers_500_and_a_refusal_changes_nothing(emulator, api):
    crud = api(emulator)
    target = create(crud, "Fuzzed", description="start")

    @FUZZ
    @given(body=request_bodies, content_type=content_types)
    def check(body: bytes, content_type: str) -> None:
        before = everything(crud)
        response = send(crud, "PUT", f"{APPS}/{target['id']}", body, content_type)
        assert response.status_code < 500, response.text
        after = everything(crud)
        if response.status_code == 200:
            assert crud.get(f"{APPS}/{target['id']}").json()["data"] == response.json()["data"]
            assert [a["id"] for a in after] == [a["id"] for a in before]
        else:
            assert_error(response)
            assert after == before

    check()


def test_the_emulator_takes_connections_as_soon_as_its_origin_is_known():
    """`emulate` prints its origin before it serves; a client that connects at once must be queued,
    not refused (a certify-client test against `emulate` met "connection refused" that way)."""
    server = EmulatorServer()  # bound, not yet serving
    try:
        with socket.create_connection((server.host, server.port), timeout=2):
            pass
    finally:
        server.stop()
