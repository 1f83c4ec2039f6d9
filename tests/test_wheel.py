"""The product as a new user installs it: a wheel built from this checkout, and one built the way
`pip install git+file://<a clone of HEAD>` builds it (`pip wheel git+file://...`), each installed in
a fresh venv and used from a folder that holds the user's own `suite/` and `tests/` packages.

Offline and fast on purpose: tests send network traffic only to 127.0.0.1, so our package is installed
with ``--no-deps --no-index`` and the dependencies are made visible through a ``.pth`` file naming
this test venv's site-packages. A ``.pth`` line only appends a folder to ``sys.path``; the ``.pth``
files inside it (among them the editable install's finder) are not run, so the fresh venv imports
the installed wheel, which ``test_the_fresh_venv_imports_the_installed_package`` proves.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMAND_TIMEOUT = 180
USERS_SUITE = 'OWNER = "the user\'s own suite"\n'
# What a source tree holds that must never reach site-packages.
NOT_INSTALLED = ("suite", "tests", "benchmarks", "openapi")
# The working tree's own state, not the product's.
LOCAL_ONLY = (
    ".venv",
    ".git",
    "build",
    "dist",
    "*.egg-info",
    "reports",
    "__pycache__",
    ".hypothesis",
    ".mypy_cache",
    ".ruff_cache",
    "node_modules",
)


@dataclass(frozen=True)
class Installed:
    """A fresh venv with credly-contract installed, and a user's folder to run it from."""

    source: Path
    venv: Path
    site_packages: Path
    user_folder: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def command(self) -> Path:
        return self.venv / "bin" / "credly-contract"

    def environment(self) -> dict[str, str]:
        """A clean environment, as in a CI job: no CREDLY_* settings, no pytest state of ours, the
        venv's bin first on PATH, and the user's folder on PYTHONPATH (its `suite` is importable)."""
        dropped = ("CREDLY_", "PYTEST_", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
        environment = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
        environment["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{environment.get('PATH', '')}"
        environment["PYTHONPATH"] = str(self.user_folder)
        return environment

    def run(self, *arguments: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(argument) for argument in arguments],
            cwd=self.user_folder,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )

    def credly_contract(self, *arguments: str | Path) -> subprocess.CompletedProcess[str]:
        return self.run(self.command, *arguments)


def _pip(*arguments: str | Path) -> None:
    """This test venv's pip, offline: `--no-build-isolation` builds with its setuptools."""
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *arguments]
    done = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=COMMAND_TIMEOUT
    )
    assert done.returncode == 0, f"{' '.join(map(str, command))}\n{done.stdout}\n{done.stderr}"


def _build_wheel(source: str | Path, into: Path) -> Path:
    _pip("wheel", "--no-deps", "--no-index", "--no-build-isolation", "-w", into, source)
    (wheel,) = into.glob("credly_contract-*.whl")
    return wheel


def _wheel_from_the_checkout(tmp: Path) -> tuple[Path, Path]:
    # A copy, so setuptools' build/ folder (which can carry stale modules) stays out of the checkout.
    copy = tmp / "checkout"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(*LOCAL_ONLY))
    return copy, _build_wheel(copy, tmp / "wheelhouse")


def _wheel_from_a_clone(tmp: Path) -> tuple[Path, Path]:
    # `pip install git+file://...` clones the URL, builds a wheel and installs it; the first two
    # steps are `pip wheel git+file://...`. A clone has only what is committed, as CI has.
    clone = tmp / "clone"
    done = subprocess.run(
        ["git", "clone", "--quiet", str(ROOT), str(clone)],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    return clone, _build_wheel(f"git+file://{clone}", tmp / "wheelhouse")


def _fresh_venv(wheel: Path, venv: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60
    )
    python = venv / "bin" / "python"
    _pip("--python", python, "install", "--no-deps", "--no-index", wheel)
    site_packages = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # Written after the install, so pip never saw this venv's own editable install.
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site_packages / "test-venv-dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    return site_packages


def _users_folder(folder: Path) -> Path:
    for package in ("suite", "tests"):
        (folder / package).mkdir(parents=True)
        (folder / package / "__init__.py").write_text(USERS_SUITE if package == "suite" else "")
    return folder


# Each install is module-scoped and marked with its own xdist group: under `--dist loadgroup` each is
# built once, and the two spread over two workers.
@pytest.fixture(
    scope="module",
    params=[
        pytest.param(
            _wheel_from_the_checkout,
            id="wheel",
            marks=[pytest.mark.slow, pytest.mark.xdist_group("wheel")],
        ),
        pytest.param(
            _wheel_from_a_clone,
            id="git",
            marks=[pytest.mark.slow, pytest.mark.xdist_group("git-install")],
        ),
    ],
)
def installed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Installed:
    tmp = tmp_path_factory.mktemp(request.param.__name__.strip("_"))
    source, wheel = request.param(tmp)
    site_packages = _fresh_venv(wheel, tmp / "venv")
    return Installed(source, tmp / "venv", site_packages, _users_folder(tmp / "project"))


@pytest.fixture(scope="module")
def quick_run(installed: Installed) -> tuple[subprocess.CompletedProcess[str], Path]:
    reports = installed.user_folder / "reports" / "quick"
    done = installed.credly_contract("certify", "--profile", "quick", "--reports-dir", reports)
    return done, reports


def test_every_package_folder_is_listed_for_setuptools() -> None:
    # [tool.setuptools] packages is an explicit list (openapi/ is mapped in beside the package): a new
    # folder with an __init__.py must be added to it.
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    suite = ROOT / "suite"
    folders = {
        ".".join(marker.parent.relative_to(suite).parts)
        for marker in suite.rglob("__init__.py")
        if "__pycache__" not in marker.parts
    }
    assert folders | {"credly_contract.openapi"} == set(setuptools["packages"])
    assert setuptools["package-dir"] == {
        "": "suite",
        "credly_contract.openapi": "openapi",
    }


def test_the_fresh_venv_imports_the_installed_package(installed: Installed) -> None:
    probe = (
        "import json, sys, credly_contract, credly_contract.spec as spec; "
        "print(json.dumps({'file': credly_contract.__file__, 'contract': str(spec.SPEC_PATH), "
        "'finders': [f'{f.__module__}.{getattr(f, \"__name__\", type(f).__name__)}' "
        "for f in sys.meta_path]}))"
    )
    done = installed.run(installed.python, "-c", probe)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert Path(seen["file"]).is_relative_to(installed.site_packages)
    assert Path(seen["contract"]).is_relative_to(installed.site_packages)
    assert Path(seen["contract"]).is_file()
    assert not [finder for finder in seen["finders"] if "editable" in finder], seen["finders"]


def test_only_credly_contract_is_installed_at_top_level(installed: Installed) -> None:
    present = [name for name in NOT_INSTALLED if (installed.site_packages / name).exists()]
    assert present == []
    (dist_info,) = installed.site_packages.glob("credly_contract-*.dist-info")
    top_level = {
        line.split(",", 1)[0].split("/", 1)[0]
        for line in (dist_info / "RECORD").read_text().splitlines()
    }
    assert top_level == {"credly_contract", dist_info.name, ".."}  # ".." is bin/credly-contract
    assert (installed.site_packages / "credly_contract" / "py.typed").is_file()


def test_every_file_of_the_package_folders_is_installed(installed: Installed) -> None:
    # suite/credly_contract/ is installed as credly_contract/ and openapi/ as credly_contract/openapi/:
    # a data file added to either and left out of [tool.setuptools.package-data] would be missing
    # only from installs.
    folders = {"suite/credly_contract": "credly_contract", "openapi": "credly_contract/openapi"}
    missing = [
        f"{folder}/{path.relative_to(installed.source / folder)}"
        for folder, package in folders.items()
        for path in sorted((installed.source / folder).rglob("*"))
        if path.is_file()
        and "__pycache__" not in path.parts
        and not (
            installed.site_packages / package / path.relative_to(installed.source / folder)
        ).is_file()
    ]
    assert missing == []


def test_certify_quick_exits_0_from_a_folder_with_its_own_suite_and_tests(
    quick_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, reports = quick_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    certificate = json.loads((reports / "certificate.json").read_text())
    assert certificate["verdict"] == "certified"


def test_the_users_suite_package_is_still_the_one_imported(installed: Installed) -> None:
    done = installed.run(installed.python, "-c", "import suite; print(suite.OWNER)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "the user's own suite"


def test_report_verifies_the_run_and_re_renders_it_into_a_new_folder(
    installed: Installed, quick_run: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    _, reports = quick_run
    before = {p.name: p.read_bytes() for p in reports.iterdir() if p.is_file()}
    rendered = installed.user_folder / "re-rendered"
    done = installed.credly_contract("report", reports, "--output", rendered)
    assert done.returncode == 0, done.stderr
    assert "certified" in done.stdout
    assert "<html" in (rendered / "certificate.html").read_text().lower()
    assert {p.name: p.read_bytes() for p in reports.iterdir() if p.is_file()} == before


def test_emulate_lists_the_faults(installed: Installed) -> None:
    done = installed.credly_contract("emulate", "--list-faults")
    assert done.returncode == 0, done.stderr
    assert "list_as_text" in done.stdout


def test_record_writes_cassettes_that_replay_offline(installed: Installed) -> None:
    cassettes = installed.user_folder / "recorded"
    recorded = installed.credly_contract("record", "--cassettes-dir", cassettes)
    assert recorded.returncode == 0, recorded.stdout[-3000:] + recorded.stderr
    assert (cassettes / "target.yaml").is_file()
    assert len(list(cassettes.glob("*.yaml"))) >= 3
    replayed = installed.credly_contract(
        "certify",
        "--target",
        "replay",
        "--cassettes-dir",
        cassettes,
        "--reports-dir",
        installed.user_folder / "reports" / "replay",
    )
    assert replayed.returncode == 0, replayed.stdout[-3000:] + replayed.stderr


@pytest.fixture
def emulated(installed: Installed) -> Iterator[dict[str, str]]:
    """`credly-contract emulate --port 0` from the install; yields the variables it prints."""
    server = subprocess.Popen(
        [str(installed.command), "emulate", "--port", "0"],
        cwd=installed.user_folder,
        env=installed.environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert server.stdout is not None
    threading.Thread(
        target=lambda: [lines.put(line) for line in server.stdout], daemon=True
    ).start()
    variables: dict[str, str] = {}
    seen: list[str] = []
    try:
        while "CREDLY_FOREIGN_APPLICATION_ID" not in variables:
            try:
                line = lines.get(timeout=60)
            except queue.Empty:
                pytest.fail(f"emulate printed no variables within 60 s: {''.join(seen)}")
            seen.append(line)
            if line.strip().startswith("export "):
                name, _, value = line.strip().removeprefix("export ").partition("=")
                variables[name] = value
        yield variables
    finally:
        server.send_signal(signal.SIGINT)
        code = server.wait(timeout=30)
    assert code == 0  # Ctrl-C stops the emulator cleanly


def test_sweep_dry_run_lists_a_leftover_and_deletes_nothing(
    installed: Installed, emulated: dict[str, str]
) -> None:
    with httpx.Client(timeout=10) as http:
        token = http.post(
            emulated["CREDLY_TOKEN_URL"],
            data={
                "grant_type": "client_credentials",
                "client_id": emulated["CREDLY_CLIENT_ID"],
                "client_secret": emulated["CREDLY_CLIENT_SECRET"],
                "scope": "oauth_applications",
            },
        ).json()["access_token"]
        applications = (
            f"{emulated['CREDLY_API_BASE_URL']}/organizations/"
            f"{emulated['CREDLY_ORGANIZATION_ID']}/oauth_applications"
        )
        headers = {"Authorization": f"Bearer {token}"}
        leftover = http.post(
            applications, json={"name": "credly-contract 0badc0de left behind"}, headers=headers
        ).json()["data"]

        done = subprocess.run(
            [str(installed.command), "sweep", "--dry-run", "--older-than", "0s"],
            cwd=installed.user_folder,
            env={**installed.environment(), **emulated},
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )

        assert done.returncode == 0, done.stdout + done.stderr
        assert "would delete" in done.stdout and "0badc0de" in done.stdout
        assert "1 would be deleted, nothing was" in done.stdout
        still_there = http.get(f"{applications}/{leftover['id']}", headers=headers)
        assert still_there.status_code == 200
