"""The emulator alone: requests per second for token issue, list and create, sent by a load generator in
a separate process over loopback, with latency percentiles and the emulator's CPU seconds per request."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

from benchmarks.emulator_host import EmulatorProcess
from benchmarks.measure import REPO, run


@dataclass
class Throughput:
    operation: str
    requests: int
    per_second: float
    per_cpu_second: float  # requests per second of emulator CPU: what one core would sustain
    p50_ms: float
    p95_ms: float
    p99_ms: float
    statuses: dict[str, int]
    errors: int


def _plans(emulator: EmulatorProcess, count: int, seconds: float) -> dict[str, dict]:
    token = emulator.access_token()
    bearer = {"Authorization": f"Bearer {token}"}
    token_path, token_body = emulator.token_request("oauth_applications")
    common = {"port": urlsplit(emulator.api_base_url).port, "count": count, "seconds": seconds}
    return {
        "token issue": common | {
            "method": "POST", "path": token_path, "body": token_body,
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        },
        "list (50 per page)": common | {
            "method": "GET", "path": emulator.applications_path + "?page=1&per=50",
            "headers": bearer, "body": None,
        },
        "create": common | {
            "method": "POST", "path": emulator.applications_path,
            "body": json.dumps({"name": "benchmark load", "description": "Created by the load test."}),
            "headers": bearer | {"Content-Type": "application/json"},
        },
    }  # fmt: skip


def measure_emulator(count: int, seconds: float, threads: int = 4) -> list[Throughput]:
    """Token issue, list and create against one emulator process (60 applications seeded, so that a
    list page is full), each bounded by `count` requests and `seconds`."""
    results = []
    with EmulatorProcess(seed_applications=60) as emulator:
        for operation, plan in _plans(emulator, count, seconds).items():
            plan["threads"] = threads
            before = emulator.cpu_seconds()
            finished = run(
                [sys.executable, "-m", "benchmarks.loadgen", json.dumps(plan)],
                cwd=REPO,
                timeout=seconds + 60,
            )
            cpu = emulator.cpu_seconds() - before
            if finished.returncode != 0:
                raise RuntimeError(f"the load generator failed: {finished.output[-500:]}")
            report = json.loads(finished.output.strip().splitlines()[-1])
            served = report["requests"] + report["warmup"]
            results.append(
                Throughput(
                    operation=operation,
                    requests=report["requests"],
                    per_second=report["per_second"],
                    per_cpu_second=served / cpu if cpu > 0 else float("nan"),
                    p50_ms=report["p50_ms"],
                    p95_ms=report["p95_ms"],
                    p99_ms=report["p99_ms"],
                    statuses=report["statuses"],
                    errors=report["errors"],
                )
            )
    return results
