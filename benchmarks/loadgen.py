"""A small load generator, run as its own process so that it does not share the emulator's interpreter:
a few threads, each with one keep-alive http.client connection to loopback, send the same request until
a request count or a time limit is reached, and one JSON line reports throughput and latency.

    python -m benchmarks.loadgen '{"port": 8000, "method": "GET", "path": "/v1/...", "headers": {},
                                   "body": null, "threads": 4, "count": 2000, "seconds": 5}'
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from collections import Counter
from typing import Any

LOOPBACK = "127.0.0.1"


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def generate(plan: dict[str, Any]) -> dict[str, Any]:
    method, path = plan["method"], plan["path"]
    headers, body = plan.get("headers") or {}, plan.get("body")
    count, seconds, threads = plan["count"], plan["seconds"], plan.get("threads", 4)
    warmup = plan.get("warmup", 20)
    lock = threading.Lock()
    issued = 0
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    deadline = [0.0]

    def take() -> bool:
        nonlocal issued
        with lock:
            if issued >= count or (deadline[0] and time.perf_counter() > deadline[0]):
                return False
            issued += 1
            return True

    def worker(measured: bool, quota: int | None) -> None:
        connection = http.client.HTTPConnection(LOOPBACK, plan["port"], timeout=10)
        done = 0
        while (quota is None and take()) or (quota is not None and done < quota):
            done += 1
            began = time.perf_counter()
            try:
                connection.request(method, path, body, headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as error:
                with lock:
                    errors.append(type(error).__name__)
                connection.close()
                connection = http.client.HTTPConnection(LOOPBACK, plan["port"], timeout=10)
                continue
            elapsed = time.perf_counter() - began
            if measured:
                with lock:
                    latencies.append(elapsed)
                    statuses[response.status] += 1
        connection.close()

    worker(False, warmup)  # first requests pay for imports and caches in the emulator
    started = time.perf_counter()
    deadline[0] = started + seconds
    pool = [threading.Thread(target=worker, args=(True, None)) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "warmup": warmup,
        "seconds": elapsed,
        "per_second": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": len(errors),
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    print(json.dumps(generate(json.loads(args[0]))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
