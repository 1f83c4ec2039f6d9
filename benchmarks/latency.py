"""Issue 13's latency figure: `certify --target live --profile quick` at the default live pace (20
requests per second, a total across workers) against an emulator process that answers every request
100 ms late, as a distant staging server would; sequentially and with xdist workers side by side."""

from __future__ import annotations

from benchmarks.certify_runs import Repeated, Variant, Workspace, repeat
from benchmarks.emulator_host import EmulatorProcess

LATENCY_MS = 100.0
TARGET_SECONDS = 30.0


def quick_at_latency(
    workspace: Workspace,
    workers: tuple[int, ...],
    times: int,
    timeout: float,
    deadline: float,
    latency_ms: float = LATENCY_MS,
) -> dict[str, Repeated]:
    """Each worker count ``times`` times (taking turns) against one emulator with added latency."""
    with EmulatorProcess(latency_ms=latency_ms) as emulator:
        environment = emulator.live_environment()
        variants = {
            f"quick, live, {latency_ms:g} ms, {count} process{'es' if count > 1 else ''}": Variant(
                ("--target", "live", "--profile", "quick")
                + (("--workers", str(count)) if count > 1 else ()),
                environment,
            )
            for count in workers
        }
        return repeat(workspace, variants, times, timeout, deadline)
