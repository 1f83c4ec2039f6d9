"""An emulator in its own process, for the load generator and for plain schemathesis.

`python -m benchmarks.emulator_host [--fault NAME]... [--seed-applications N]` prints one JSON line with
its URLs and bootstrap credentials, serves until its stdin closes, then prints one JSON line with the
requests it answered. `EmulatorProcess` starts one and talks to it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from benchmarks.measure import REPO


class CountingApp:
    """ASGI middleware counting the HTTP requests that reach the emulator."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.requests += 1
        await self.app(scope, receive, send)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.emulator_host")
    parser.add_argument("--fault", action="append", default=[])
    parser.add_argument("--seed-applications", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="milliseconds per request")
    args = parser.parse_args(argv)
    from credly_contract.emulator import EmulatorServer

    server = EmulatorServer(
        faults=args.fault, seed_applications=args.seed_applications, latency_ms=args.latency
    )
    # The benchmark counts requests at the server, the same way for every client it compares.
    counter = CountingApp(server._server.config.app)
    server._server.config.app = counter
    server.start()
    print(
        json.dumps(
            {
                "api_base_url": server.api_base_url,
                "token_url": server.token_url,
                "organization_id": server.bootstrap.organization_id,
                "client_id": server.bootstrap.client_id,
                "client_secret": server.bootstrap.client_secret,
            }
        ),
        flush=True,
    )
    sys.stdin.read()  # the benchmark closes stdin when it is done with this emulator
    server.stop()
    print(json.dumps({"requests": counter.requests}), flush=True)
    return 0


class EmulatorProcess:
    """A running `benchmarks.emulator_host`: its URLs, credentials, request count and CPU time."""

    def __init__(
        self, faults: tuple[str, ...] = (), seed_applications: int = 0, latency_ms: float = 0.0
    ) -> None:
        argv = [sys.executable, "-m", "benchmarks.emulator_host"]
        for fault in faults:
            argv += ["--fault", fault]
        argv += ["--seed-applications", str(seed_applications), "--latency", str(latency_ms)]
        # uvicorn's warnings about the fuzzers' malformed requests would drown the progress lines.
        self._stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen(
            argv, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(10)
            self._stderr.seek(0)
            raise RuntimeError(
                f"the emulator host did not start (exit {self.process.returncode}): "
                f"{self._stderr.read()[-500:]}"
            )
        self.info: dict[str, str] = json.loads(line)
        self.requests: int | None = None

    @property
    def api_base_url(self) -> str:
        return self.info["api_base_url"]

    @property
    def organization_id(self) -> str:
        return self.info["organization_id"]

    def live_environment(self) -> dict[str, str | None]:
        """The CREDLY_* variables that make this emulator a `--target live`."""
        return {
            "CREDLY_API_BASE_URL": self.api_base_url,
            "CREDLY_TOKEN_URL": self.info["token_url"],
            "CREDLY_ORGANIZATION_ID": self.organization_id,
            "CREDLY_CLIENT_ID": self.info["client_id"],
            "CREDLY_CLIENT_SECRET": self.info["client_secret"],
            "CREDLY_CLIENT_SECRET_FILE": None,
        }

    @property
    def applications_path(self) -> str:
        path = urlsplit(self.api_base_url).path
        return f"{path}/organizations/{self.organization_id}/oauth_applications"

    def token_request(self, scopes: str = "oauth_applications issued_badges") -> tuple[str, str]:
        """The path and form body of a client-credentials token request for the bootstrap app."""
        body = urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": self.info["client_id"],
                "client_secret": self.info["client_secret"],
                "scope": scopes,
            }
        )
        return urlsplit(self.info["token_url"]).path, body

    def access_token(self, scopes: str = "oauth_applications issued_badges") -> str:
        origin = urlsplit(self.info["token_url"])
        connection = http.client.HTTPConnection(origin.hostname, origin.port, timeout=10)
        path, body = self.token_request(scopes)
        try:
            connection.request(
                "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"}
            )
            return json.loads(connection.getresponse().read())["access_token"]
        finally:
            connection.close()

    def cpu_seconds(self) -> float:
        """User + system CPU time the emulator process has used so far."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None and self.process.stdout is not None
            self.process.stdin.close()
            line = self.process.stdout.readline()
            if line:
                self.requests = json.loads(line)["requests"]
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self._stderr.close()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    sys.exit(main())
