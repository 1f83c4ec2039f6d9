"""The emulator stays consistent under concurrent clients (real HTTP from several threads)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

APPS = "oauth_applications"
THREADS = 8
CREATES_PER_THREAD = 25
MAX_PAGES = 50


def listed_ids(crud: httpx.Client) -> tuple[list[int], int]:
    """Every listed id (following next_page_url) and the total_count the list reports."""
    ids: list[int] = []
    url: str | None = f"{APPS}?per=100"
    for _ in range(MAX_PAGES):
        body = crud.get(url).json()
        ids += [a["id"] for a in body["data"]]
        url = body["metadata"]["next_page_url"]
        if url is None:
            return ids, body["metadata"]["total_count"]
        assert body["data"], "an empty page still has a next_page_url"
    pytest.fail(f"next_page_url never ended after {MAX_PAGES} pages")


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(0..count-1) in parallel threads that start together."""
    barrier = threading.Barrier(count)

    def run(n: int) -> Any:
        barrier.wait(5)
        return work(n)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_concurrent_creates_get_unique_ids_and_all_are_listed(emulator, api):
    clients = [api(emulator) for _ in range(THREADS)]
    before, _ = listed_ids(clients[0])

    def create_many(n: int) -> list[tuple[int, int | None]]:
        results = []
        for i in range(CREATES_PER_THREAD):
            response = clients[n].post(APPS, json={"name": f"Thread {n} app {i}"})
            results.append((response.status_code, response.json()["data"].get("id")))
        return results

    results = [r for batch in in_threads(THREADS, create_many) for r in batch]

    assert {status for status, _ in results} == {201}
    created = [app_id for _, app_id in results]
    assert len(set(created)) == THREADS * CREATES_PER_THREAD
    ids, total = listed_ids(clients[0])
    assert total == len(ids) == len(before) + THREADS * CREATES_PER_THREAD
    assert sorted(ids) == ids
    assert set(ids) == set(before) | set(created)


def test_concurrent_creates_and_deletes_keep_the_list_consistent(emulator, api):
    clients = [api(emulator) for _ in range(THREADS)]
    doomed = [
        clients[0].post(APPS, json={"name": f"Doomed {n}"}).json()["data"]["id"] for n in range(40)
    ]
    survivors, _ = listed_ids(clients[0])
    survivors = [i for i in survivors if i not in doomed]
    deleters = THREADS // 2

    def work(n: int) -> list[tuple[str, int, int]]:
        http = clients[n]
        if n < deleters:  # each deleter removes its own share of the doomed applications
            return [
                ("delete", http.delete(f"{APPS}/{i}").status_code, i) for i in doomed[n::deleters]
            ]
        out = []
        for i in range(20):
            response = http.post(APPS, json={"name": f"Born {n}/{i}"})
            out.append(("create", response.status_code, response.json()["data"].get("id")))
        return out

    results = [r for batch in in_threads(THREADS, work) for r in batch]

    deleted = {i for kind, status, i in results if kind == "delete" and status == 204}
    created = [i for kind, status, i in results if kind == "create" and status == 201]
    assert deleted == set(doomed)
    assert len(created) == len(set(created)) == (THREADS - deleters) * 20
    assert not set(created) & set(doomed)
    ids, total = listed_ids(clients[0])
    assert total == len(ids) == len(set(ids))
    assert set(ids) == set(survivors) | set(created)
    for app_id in doomed[:5]:
        assert clients[0].get(f"{APPS}/{app_id}").status_code == 404
