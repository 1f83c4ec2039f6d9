"""How the CLI runs a suite under pytest: the one place the pytest command line is built (for
certify, replay and record), and the one place its outcome becomes an exit code and the console's
last lines (the verdict, the counts and where the certificate is)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from credly_contract.config import Target
from credly_contract.engine.run import Engine
from credly_contract.engine.settings import RunSettings
from credly_contract.plugin import Certification
from credly_contract.scrub import scrub
from credly_contract.verdict import ExitCode

PACKAGE = Path(__file__).resolve().parent
CERTIFICATION_DIR = PACKAGE / "certification"
SCENARIOS_DIR = PACKAGE / "scenarios"
CLIENT_CERTIFICATION_DIR = PACKAGE / "client_cert" / "certification"
# pytest's own exit codes that reach us when the plugin could not judge anything.
PYTEST_INTERRUPTED = 2


def pytest_arguments(suite: Path, settings: RunSettings) -> list[str]:
    """The pytest command line that runs ``suite`` for ``settings``: pytest's own flags only; the
    run's settings reach the plugin as the object itself."""
    reports = settings.run_folder
    arguments = [
        str(suite),
        "-c", str(suite / "pytest.ini"),
        "--rootdir", str(suite),
        # The plugin by its entry point name: loaded even where plugin autoloading is disabled.
        "-p", "credly_contract",
        "-p", "no:cacheprovider",
        "--junitxml", str(reports / "junit.xml"),
        "-q" if not settings.verbose else "-v",
        # Every failure printed once, in full: --tb=line cuts a requirement's message at 50
        # characters and the short summary repeats it cut at the terminal's width.
        "--tb=short",
        "-rN",
        "-W", "ignore",
        # Plain asserts: rewriting the suite's dependencies on every start costs seconds where no
        # bytecode cache is kept, and the checks raise their own messages anyway.
        "--assert=plain",
        # Its five gc.collect() passes at exit cost ~0.4 s and guard nothing the suite relies on.
        "-p", "no:unraisableexception",
    ]  # fmt: skip
    if suite in (CERTIFICATION_DIR, CLIENT_CERTIFICATION_DIR):
        arguments += ["--alluredir", str(reports / "allure-results")]
    if settings.workers > 1:
        arguments += ["-p", "xdist", "-n", str(settings.workers)]
    return arguments


def run_suite(
    suite: Path,
    settings: RunSettings,
    target: Target | None = None,
    *,
    engine: Engine | None = None,
    plugins: Sequence[object] = (),
) -> tuple[ExitCode, Certification]:
    """Run the suite (with ``engine`` when the caller built it, and its own ``plugins``); print
    the verdict lines last; return the exit code and the run's results."""
    # Hypothesis keeps a Unicode table (~2 s to build) in its storage directory: keep it in a
    # per-user cache rather than in whatever folder the command runs from.
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "credly-contract"
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(cache / "hypothesis"))
    import pytest

    from credly_contract.report import verdict_lines

    certification = Certification(settings, target=target, driven_by_cli=True, engine=engine)
    arguments = pytest_arguments(suite, settings)
    with _own_pytest_options():
        code = int(pytest.main(arguments, plugins=[certification, *plugins]))
    sys.stdout.flush()
    engine = certification.configured
    if engine is not None and engine.results.error is not None:
        print(f"credly-contract: {scrub(str(engine.results.error))}", file=sys.stderr)
    if engine is not None and engine.certificate is not None:
        for line in verdict_lines(engine.certificate, settings.run_folder):
            print(line)
    return exit_code(code, engine), certification


# pytest reads these from the environment on every run; a CI job sets them for its own tests
# (PYTEST_ADDOPTS="-n auto", "-k ..."), which would split, filter or break the certification.
PYTEST_VARIABLES = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")


@contextmanager
def _own_pytest_options() -> Iterator[None]:
    """The suite runs with the options this module gives it only: the PYTEST_* variables a CI job
    set for its own tests are set aside (with a line saying so) and put back afterwards."""
    aside = {name: os.environ.pop(name) for name in PYTEST_VARIABLES if name in os.environ}
    if aside:
        print(
            f"credly-contract: {', '.join(aside)} set aside: the certification runs with its own "
            "pytest options",
            file=sys.stderr,
        )
    try:
        yield
    finally:
        os.environ.update(aside)


def exit_code(pytest_code: int, engine: Engine | None) -> ExitCode:
    """The command's exit code: the engine's judgement, or what pytest's own code means."""
    if engine is not None and (engine.results.error is not None or engine.certificate is not None):
        return engine.exit_code()
    if pytest_code == PYTEST_INTERRUPTED:
        return ExitCode.INTERRUPTED
    return ExitCode.CONFIG
