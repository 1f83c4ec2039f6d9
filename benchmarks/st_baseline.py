"""The baseline to beat: plain schemathesis (`st run --checks all`) on openapi/credly.yaml against an
emulator on loopback, with the same examples budget as a suite profile, compared with `certify` on the
same faults: time, requests, and which faults each one detects.

The suite detects a fault when certify exits 1. Plain schemathesis already reports failures on the
fault-free emulator (e.g. TRACE answered 405 without an Allow header), so its exit code alone says
nothing: it detects a fault when its report shows a failure (code and operation) that the fault-free
run with the same seed did not.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field

from benchmarks.certify_runs import (
    Certification,
    FirstFailure,
    Workspace,
    certify,
    first_failure,
)
from benchmarks.emulator_host import EmulatorProcess
from benchmarks.measure import SPEC, Run, python_tool, run

# Faults from different families: secret handling, status codes, response schema, persistence,
# authentication, input validation, server errors, tenancy.
FAULTS = (
    "secret_on_read",
    "create_returns_200",
    "list_without_metadata",
    "delete_not_persisted",
    "bearer_not_required",
    "type_coercion",
    "per_zero_500",
    "tenant_not_isolated",
)
QUICK_FAULTS = ("secret_on_read", "list_without_metadata", "bearer_not_required")
SEED = 20240501
# Anything not addressed to loopback would go to a dead proxy: the token operation's own server in
# the contract is www.credly.com, and it is excluded too.
LOOPBACK_ONLY = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
}


@dataclass
class SchemathesisRun:
    run: Run
    requests: int | None
    failures: set[tuple[str, str]] = field(default_factory=set)  # (code, operation)


def schemathesis(
    workspace: Workspace, examples: int, fault: str | None, timeout: float
) -> SchemathesisRun:
    folder = workspace.folder(f"st-{fault or 'clean'}-{examples}")
    with EmulatorProcess(faults=(fault,) if fault else ()) as emulator:
        config = folder / "schemathesis.toml"
        config.write_text(f'[parameters]\n"path.organization_id" = "{emulator.organization_id}"\n')
        argv = [
            *python_tool("st"), "--config-file", str(config), "run", str(SPEC),
            "--url", emulator.api_base_url,
            "--checks", "all",
            "-H", f"Authorization: Bearer {emulator.access_token()}",
            "--max-examples", str(examples),
            "--exclude-operation-id", "createAccessToken",
            "--seed", str(SEED),
            "--generation-database", "none",  # no failure of one fault's run replays in the next
            "--report", "json", "--report-json-path", str(folder / "report.json"),
            "--no-color",
        ]  # fmt: skip
        finished = run(argv, cwd=folder, timeout=timeout, env=workspace.env(LOOPBACK_ONLY))
    (folder / "output.txt").write_text(finished.output)
    report_path = folder / "report.json"
    failures: set[tuple[str, str]] = set()
    if report_path.exists():
        for failure in json.loads(report_path.read_text()).get("failures") or []:
            for operation in failure.get("operations") or ["?"]:
                failures.add((failure.get("code", "?"), operation))
    return SchemathesisRun(finished, emulator.requests, failures)


@dataclass
class FaultComparison:
    fault: str
    suite: Certification
    suite_first_failure: FirstFailure
    plain: SchemathesisRun
    plain_new_failures: set[tuple[str, str]]

    @property
    def suite_detects(self) -> bool:
        return self.suite.run.returncode == 1

    @property
    def plain_detects(self) -> bool:
        return bool(self.plain_new_failures)


@dataclass
class SideBySide:
    profile: str
    examples: int
    suite_clean: Certification
    plain_clean: list[SchemathesisRun]
    faults: list[FaultComparison]

    @property
    def plain_clean_failures(self) -> set[tuple[str, str]]:
        return set().union(*(run.failures for run in self.plain_clean))


STATEFUL = "Stateful tests"


def new_failures(
    failures: set[tuple[str, str]], fault_free: set[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Failures a fault-free run did not show. Stateful failures name no operation, and which
    sequences run varies from run to run, so a stateful failure counts only with a new code."""
    known_codes = {code for code, _ in fault_free}
    return {
        (code, operation)
        for code, operation in failures - fault_free
        if operation != STATEFUL or code not in known_codes
    }


def side_by_side(
    workspace: Workspace,
    profile: str,
    examples: int,
    faults: tuple[str, ...],
    timeout: float,
    fault_free_runs: int = 2,
) -> SideBySide:
    """Both tools on the fault-free emulator (schemathesis more than once: its stateful phase
    varies even with a fixed seed), then both on each fault."""
    suite_clean = certify(
        workspace, f"suite-clean-{profile}", "--profile", profile, timeout=timeout
    )
    plain_clean = [schemathesis(workspace, examples, None, timeout) for _ in range(fault_free_runs)]
    _progress("fault-free", suite_clean, plain_clean[0])
    result = SideBySide(profile, examples, suite_clean, plain_clean, [])
    for fault in faults:
        suite = certify(
            workspace, f"suite-{fault}", "--profile", profile, "--fault", fault, "-v",
            timeout=timeout,
        )  # fmt: skip
        plain = schemathesis(workspace, examples, fault, timeout)
        _progress(fault, suite, plain)
        result.faults.append(
            FaultComparison(
                fault,
                suite,
                first_failure(suite),
                plain,
                new_failures(plain.failures, result.plain_clean_failures),
            )
        )
    return result


def _progress(label: str, suite: Certification, plain: SchemathesisRun) -> None:
    print(
        f"  {label}: suite exit {suite.run.returncode} in {suite.run.wall:.1f} s; "
        f"schemathesis exit {plain.run.returncode} in {plain.run.wall:.1f} s, "
        f"{len(plain.failures)} failure kinds",
        file=sys.stderr,
    )
