"""The CI templates in docs/ci/ run only `credly-contract` commands and flags that exist, and keep
the promises the README makes for them: credentials from the secret store, junit.xml published, the
reports kept also on failure, and exit 3 reported as an infrastructure failure."""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from credly_contract.cli import build_parser

CI = Path(__file__).resolve().parent.parent / "docs" / "ci"
GITHUB = CI / "github-actions.yml"
GITLAB = CI / "gitlab-ci.yml"
COMMAND = "credly-contract"
VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
# Shell operators end a simple command; shlex's punctuation_chars yields them as tokens of their own.
OPERATOR = re.compile(r"^[;&|<>()]+$")


def _exact_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The CLI's parser without abbreviations, so a flag renamed to a longer name (the template's
    `--reports-dir` against a CLI's `--reports-directory`) is not taken for a prefix of it."""
    parser = parser or build_parser()
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subcommand in action.choices.values():
                _exact_parser(subcommand)
    return parser


def _load(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path} is not a YAML mapping"
    return document


def _github_steps() -> list[dict[str, Any]]:
    return [step for job in _load(GITHUB)["jobs"].values() for step in job["steps"]]


def _gitlab_jobs() -> dict[str, dict[str, Any]]:
    return {
        name: job
        for name, job in _load(GITLAB).items()
        if isinstance(job, dict) and "script" in job
    }


def _scripts(path: Path) -> list[str]:
    """Every shell script the file runs."""
    if path == GITHUB:
        return [step["run"] for step in _github_steps() if "run" in step]
    scripts: list[str] = []
    for job in _gitlab_jobs().values():
        for key in ("before_script", "script", "after_script"):
            lines = job.get(key, [])
            scripts += [lines] if isinstance(lines, str) else lines
    return scripts


def _variable_values(path: Path) -> dict[str, set[str]]:
    """The values the file gives each variable: GitHub `env:` (of an expression like
    `${{ cond && 'a' || 'b' }}`, the literals it can result in) and GitLab `variables:`, including
    those set by `rules:`."""
    values: dict[str, set[str]] = {}

    def add(variables: dict[str, Any] | None) -> None:
        for name, value in (variables or {}).items():
            text = str(value)
            literals = re.findall(r"(?:&&|\|\|)\s*'([^']*)'", text) if "${{" in text else [text]
            values.setdefault(name, set()).update(literals)

    document = _load(path)
    if path == GITHUB:
        add(document.get("env"))
        for job in document["jobs"].values():
            add(job.get("env"))
            for step in job["steps"]:
                add(step.get("env"))
    else:
        add(document.get("variables"))
        for job in _gitlab_jobs().values():
            add(job.get("variables"))
            for rule in job.get("rules", []):
                add(rule.get("variables"))
    return values


def _commands(script: str) -> Iterator[list[str]]:
    """The argument lists of the `credly-contract` commands in a shell script."""
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        command: list[str] | None = None
        for token in lexer:
            if OPERATOR.match(token):
                if command is not None:
                    yield command
                command = None
            elif command is not None:
                command.append(token)
            elif token == COMMAND:
                command = []
        if command is not None:
            yield command


def _substitute(text: str, chosen: dict[str, str]) -> str:
    return VARIABLE.sub(lambda match: chosen.get(match.group(1), match.group(0)), text)


def _expansions(arguments: list[str], values: dict[str, set[str]]) -> Iterator[list[str]]:
    """The command once for every combination of the values its variables can take (a variable the
    file gives no value, like a loop counter, is left as written)."""
    names = sorted({name for argument in arguments for name in VARIABLE.findall(argument)})
    known = [name for name in names if values.get(name)]
    for combination in itertools.product(*(sorted(values[name]) for name in known)):
        chosen = dict(zip(known, combination, strict=True))
        yield [_substitute(argument, chosen) for argument in arguments]


def _template_commands(path: Path) -> list[list[str]]:
    values = _variable_values(path)
    return [
        expanded
        for script in _scripts(path)
        for command in _commands(script)
        for expanded in _expansions(command, values)
    ]


@pytest.mark.parametrize(
    ("path", "schema"),
    [(GITHUB, "github-workflows"), (GITLAB, "gitlab-ci")],
    ids=["github", "gitlab"],
)
def test_templates_are_valid_for_their_ci_service(path: Path, schema: str) -> None:
    # check-jsonschema ships the services' published schemas (SchemaStore's copies), so this runs
    # offline: a misspelt key such as `allow_failure: {exit_code: ...}` fails here, not in CI.
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", f"vendor.{schema}", path],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_every_command_a_template_runs_exists_with_those_flags(path: Path) -> None:
    commands = _template_commands(path)
    assert ["certify", "--target", "live"] in [command[:3] for command in commands], commands
    for arguments in commands:
        try:
            _exact_parser().parse_args(arguments)
        except (Exception, SystemExit) as error:
            pytest.fail(f"{path.name}: `{shlex.join([COMMAND, *arguments])}` is refused: {error}")


@pytest.mark.parametrize(
    "line",
    [
        "credly-contract certify --target live --profle quick || status=$?",
        "credly-contract certify --target live --reports r",  # a prefix of --reports-dir
    ],
)
def test_a_flag_the_cli_lacks_is_caught(line: str) -> None:
    # The same extraction and parser as above, fed a command line the CLI would refuse.
    (command,) = _commands(line)
    with pytest.raises((Exception, SystemExit)):
        _exact_parser().parse_args(command)


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_templates_install_the_tool_before_running_it(path: Path) -> None:
    scripts = "\n".join(_scripts(path))
    install = scripts.find("pip install")
    assert install != -1 and "credly-contract" in scripts[install : scripts.index("\n", install)]
    assert install < scripts.find(f"{COMMAND} certify")


def test_github_takes_the_client_secret_from_the_secret_store() -> None:
    (job,) = _load(GITHUB)["jobs"].values()
    assert job["env"]["CREDLY_CLIENT_SECRET"] == "${{ secrets.CREDLY_CLIENT_SECRET }}"
    for name in ("CREDLY_API_BASE_URL", "CREDLY_TOKEN_URL", "CREDLY_ORGANIZATION_ID"):
        assert name in job["env"]


def test_gitlab_writes_no_credential_into_the_file() -> None:
    # The secret is a masked CI/CD variable: defining it here would override it with this text.
    for name, values in _variable_values(GITLAB).items():
        assert not name.startswith("CREDLY_CLIENT"), (name, values)


def test_github_publishes_junit_and_keeps_the_reports_even_on_failure() -> None:
    steps = _github_steps()
    uploads = [step for step in steps if str(step.get("uses", "")).startswith("actions/upload-")]
    junit = [step for step in steps if "junit" in str(step.get("uses", ""))]
    assert uploads and junit
    for step in uploads + junit:
        assert step.get("if") == "always()", step
    assert "reports/" in uploads[0]["with"]["path"]
    assert "junit.xml" in junit[0]["with"]["report_paths"]


def test_gitlab_publishes_junit_and_keeps_the_reports_even_on_failure() -> None:
    (job,) = _gitlab_jobs().values()
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["reports"]["junit"].endswith("junit.xml")
    assert any(path.startswith("reports/") for path in artifacts["paths"])


def test_gitlab_treats_exit_3_as_an_infrastructure_failure() -> None:
    (job,) = _gitlab_jobs().values()
    assert job["allow_failure"]["exit_codes"] == [3]
    assert job["retry"]["exit_codes"] == [3]
    assert "INFRASTRUCTURE FAILURE (exit 3)" in "\n".join(job["script"])


def test_github_fails_on_exit_1_and_names_exit_3_an_infrastructure_failure() -> None:
    (certify,) = [step for step in _github_steps() if f"{COMMAND} certify" in step.get("run", "")]
    script = certify["run"]
    assert "continue-on-error" not in certify
    assert 'exit "$status"' in script  # exit 1 (and every other code) fails the step
    assert "Infrastructure failure (exit 3)" in script


def _variables_the_cli_reads() -> set[str]:
    """Every CREDLY_* variable `credly-contract` reads: the live target's, the secret file, the
    deny list, the CA bundle, and every run option that a variable can set (RunSettings)."""
    from credly_contract import config
    from credly_contract.engine.settings import RunSettings

    names = {*config.ENVIRONMENT.values(), config.SECRET_FILE_VARIABLE, config.DENY_HOSTS_VARIABLE}
    names |= set(config.CA_BUNDLE_VARIABLES)
    names |= {
        field.metadata["option"].variable
        for field in dataclasses.fields(RunSettings)
        if "option" in field.metadata and field.metadata["option"].variable
    }
    return {name for name in names if name.startswith("CREDLY_")}


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_every_credly_variable_a_template_names_is_one_the_cli_reads(path: Path) -> None:
    named = set(re.findall(r"\bCREDLY_[A-Z_]+\b", path.read_text(encoding="utf-8")))
    assert named, path
    assert named <= _variables_the_cli_reads(), sorted(named - _variables_the_cli_reads())


def test_the_variable_check_catches_a_name_the_cli_does_not_read() -> None:
    assert "CREDLY_CLIENT_SECRET" in _variables_the_cli_reads()
    assert "CREDLY_SECRET" not in _variables_the_cli_reads()
    assert "CREDLY_SIGNING_KEY" in _variables_the_cli_reads()


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_templates_provide_every_variable_a_live_target_needs(path: Path) -> None:
    from credly_contract.config import ENVIRONMENT, OPTIONAL

    text = path.read_text(encoding="utf-8")
    for key, variable in ENVIRONMENT.items():
        if key not in OPTIONAL:
            assert variable in text, variable
    if path == GITHUB:
        (job,) = _load(GITHUB)["jobs"].values()
        assert {v for k, v in ENVIRONMENT.items() if k not in OPTIONAL} <= set(job["env"])


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_templates_install_from_the_repository_at_a_tag_not_from_an_index(path: Path) -> None:
    (install,) = [line for line in _scripts(path) if "pip install" in line]
    assert "git+" in install and "@${SUITE_REF}" in install, install
    assert "==" not in install


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_templates_state_no_request_counts_that_could_go_stale(path: Path) -> None:
    # The measured counts live in request_plan.json; `certify --dry-run` prints them.
    assert not re.search(r"\d+\s*requests", path.read_text(encoding="utf-8"))


def test_gitlab_runs_only_where_its_protected_variables_are_given() -> None:
    # GitLab gives protected variables only to protected refs: a merge-request pipeline on an
    # unprotected branch would get none and exit 2.
    (job,) = _gitlab_jobs().values()
    for rule in job["rules"]:
        assert "merge_request_event" not in rule["if"], rule
        assert '$CI_COMMIT_REF_PROTECTED == "true"' in rule["if"], rule
