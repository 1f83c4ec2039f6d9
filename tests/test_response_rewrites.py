"""The suite's judgement on servers that answer differently from the emulator (issue 10, "Prove it in
the tests: response mutation"): a FaultProxy in front of the real emulator rewrites its answers by one
named response rewrite (tests/response_rewrites.py), and `credly-contract certify --target live
--profile quick` runs through it, one certification per test item so that xdist spreads them over the
workers.

- a variation (contract-preserving: the docs or RFC 6749/6750 allow it) is certified, exit 0;
- a fault (contract-breaking) fails exactly the requirements it breaks, exit 1, never 3 (an outage);
- either way, the run deletes every application it created.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fault_proxy import FaultProxy
from tests.live_runs import live_env, run_certify
from tests.response_rewrites import FAULTS, REWRITES, VARIATIONS, ResponseRewrite


@dataclass
class Certification:
    returncode: int
    output: str
    certificate: dict[str, Any] | None
    left_behind: list[str]  # applications the run created and did not delete (by their stored name)

    def statuses(self) -> dict[str, str]:
        assert self.certificate is not None, self.output
        return {r["id"]: r["status"] for r in self.certificate["requirements"]}

    def failed(self) -> set[str]:
        return {rid for rid, status in self.statuses().items() if status == "failed"}

    def describe(self) -> str:
        lines = [f"exit {self.returncode}", self.output[-4000:]]
        for requirement in (self.certificate or {}).get("requirements", []):
            for evidence in requirement.get("evidence") or []:
                lines.append(f"{requirement['id']}: {evidence.get('message')}")
        return "\n".join(lines)


def certify_through(named: ResponseRewrite, make_emulator: Any, workdir: Path) -> Certification:
    emulator = make_emulator(seed_applications=named.neighbours)
    existing = set(emulator.store.applications)
    rewrite = named.rewrite()
    with FaultProxy(emulator.origin) as proxy:
        proxy.rewrite = rewrite
        done = run_certify(live_env(emulator, via=proxy), workdir)
    certificate_file = workdir / "reports" / "certificate.json"
    certificate = json.loads(certificate_file.read_text()) if certificate_file.exists() else None
    assert not rewrite.errors, rewrite.errors
    assert rewrite.changed, f"{named.name} never changed an exchange: it proves nothing"
    left_behind = [
        app.name for key, app in emulator.store.applications.items() if key not in existing
    ]
    return Certification(done.returncode, done.stdout + done.stderr, certificate, left_behind)


def test_there_are_at_least_15_variations_and_15_faults():
    assert len(VARIATIONS) >= 15, VARIATIONS
    assert len(FAULTS) >= 15, FAULTS


def test_every_rewrite_says_what_it_does_and_why_the_docs_allow_or_forbid_it():
    assert all(len(r.why) > 40 for r in REWRITES.values()), [
        r.name for r in REWRITES.values() if len(r.why) <= 40
    ]


@pytest.mark.slow
@pytest.mark.parametrize("name", VARIATIONS)
def test_a_variation_is_certified(name, make_emulator, tmp_path):
    run = certify_through(REWRITES[name], make_emulator, tmp_path)
    not_passed = {rid: s for rid, s in run.statuses().items() if s != "passed"}
    assert not not_passed, run.describe()
    assert run.certificate["verdict"] == "certified", run.describe()
    assert run.returncode == 0, run.describe()
    assert not run.left_behind, run.left_behind


@pytest.mark.slow
@pytest.mark.parametrize("name", FAULTS)
def test_a_fault_fails_exactly_what_it_breaks_with_exit_1(name, make_emulator, tmp_path):
    fault = REWRITES[name]
    run = certify_through(fault, make_emulator, tmp_path)
    assert run.returncode == 1, run.describe()
    assert run.failed() == fault.breaks, run.describe()
    assert run.certificate["verdict"] == "not_certified", run.describe()
    # Issue 10: cleanup deletes whatever the server said it created, whatever it answered.
    assert not run.left_behind, run.left_behind


# The proxy itself, without a certification: so that a failed certification is never a broken proxy.


def test_stand_in_credentials_work_through_the_proxy_and_never_show_the_emulators(
    make_emulator, client
):
    emulator = make_emulator()
    rewrite = REWRITES["credentials_of_other_lengths_and_alphabets"].rewrite()
    with FaultProxy(emulator.origin) as proxy:
        proxy.rewrite = rewrite
        owner = emulator.bootstrap
        granted = client.post(
            proxy.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": owner.client_id,
                "client_secret": owner.client_secret,
                "scope": "oauth_applications",
            },
        )
        token = granted.json()["access_token"]
        assert token.startswith("eyJ") and len(token) > 150 and token not in emulator.store.tokens
        api = f"{proxy.api_base_url}/organizations/{owner.organization_id}/oauth_applications"
        created = client.post(api, json={"name": "n"}, headers={"Authorization": f"Bearer {token}"})
        app = created.json()["data"]
        assert (
            created.status_code == 201 and len(app["uid"]) == 36 and app["secret"].startswith("cs_")
        )
        again = client.post(
            proxy.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": app["uid"],
                "client_secret": app["secret"],
                "scope": "oauth_applications",
            },
        )
        assert again.status_code == 200, again.text
        stranger = client.get(api, headers={"Authorization": f"Bearer {token}x"})
        assert stranger.status_code == 401
    assert not rewrite.errors


def test_long_names_are_kept_and_shown_whole_through_the_proxy(make_emulator, client, token):
    emulator = make_emulator()
    with FaultProxy(emulator.origin) as proxy:
        proxy.rewrite = REWRITES["long_strings_accepted"].rewrite()
        api = f"{proxy.api_base_url}/organizations/{emulator.bootstrap.organization_id}/oauth_applications"
        headers = {"Authorization": f"Bearer {token(emulator)}"}
        long_name = "x" * 10_000
        created = client.post(api, json={"name": long_name}, headers=headers)
        assert created.status_code == 201, created.text
        read = client.get(f"{api}/{created.json()['data']['id']}", headers=headers)
        assert read.json()["data"]["name"] == long_name
        assert long_name not in {a.name for a in emulator.store.applications.values()}
