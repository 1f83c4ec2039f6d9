"""RunSettings is the one table of a run's options: `certify`'s flags and the plugin's --credly-*
options are generated from it, so they cannot disagree on a default or a help text, and both doors
build the same settings through one validation."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from credly_contract import cli
from credly_contract.config import ConfigError
from credly_contract.engine import settings as run_settings
from credly_contract.engine.settings import RunSettings


def certify_parser() -> argparse.ArgumentParser:
    commands = argparse.ArgumentParser().add_subparsers()
    return cli.add_certify(commands)


def pytest_options() -> dict[str, argparse.Action]:
    parser = argparse.ArgumentParser()

    class Group:
        def addoption(self, *names: str, **how: object) -> None:
            parser.add_argument(*names, **how)  # type: ignore[arg-type]

    run_settings.add_pytest_options(Group())
    return {a.option_strings[0]: a for a in parser._actions if a.option_strings[0] != "-h"}


def test_both_doors_offer_each_option_with_the_one_help_text_of_the_table():
    certify = {a.option_strings[0]: a for a in certify_parser()._actions}
    plugin = pytest_options()
    for spec, _ in run_settings._options():
        how = spec.option
        flag = "--" + spec.name.replace("_", "-")
        assert (flag in certify) == how.cli, flag
        assert ("--credly-" + flag[2:] in plugin) == how.pytest, flag
        if how.cli and how.pytest:
            assert certify[flag].help == plugin["--credly-" + flag[2:]].help
            assert certify[flag].choices == plugin["--credly-" + flag[2:]].choices


def test_the_same_values_make_the_same_settings_through_either_door(monkeypatch):
    monkeypatch.delenv("CREDLY_PROFILE", raising=False)
    values = ["target", "emulated", "fault", "list_as_text", "latency", "5", "timeout", "3"]
    cli_argv = [f"--{v}" if i % 2 == 0 else v for i, v in enumerate(values)]
    plugin_argv = [f"--credly-{v}" if i % 2 == 0 else v for i, v in enumerate(values)]
    args = certify_parser().parse_args([*cli_argv, "--reports-dir", "r"])
    parser = argparse.ArgumentParser()

    class Group:
        def addoption(self, *names: str, **how: object) -> None:
            parser.add_argument(*names, **how)  # type: ignore[arg-type]

    run_settings.add_pytest_options(Group())
    option = parser.parse_args([*plugin_argv, "--credly-reports-dir", "r"])
    from_cli = run_settings.from_cli(args)
    from_pytest = run_settings.from_pytest(option)
    assert dataclasses.replace(from_cli, run_id="x") == dataclasses.replace(from_pytest, run_id="x")
    assert from_cli.profile == "standard" and from_cli.fault == ("list_as_text",)
    assert from_cli.latency == 5.0 and from_cli.timeout == 3.0 and from_cli.reports_dir == "r"


def test_a_live_target_defaults_to_the_quick_profile_and_its_budget():
    settings = RunSettings.build({"target": "live"}, environ={})
    assert settings.profile == "quick" and settings.request_budget == 600
    assert settings.min_interval == 0.05
    emulated = RunSettings.build({}, environ={})
    assert emulated.profile == "standard" and emulated.request_budget is None
    assert emulated.min_interval == 0.0 and emulated.latency == 0.0


def test_a_variable_sets_an_option_and_a_flag_wins_over_it():
    environ = {"CREDLY_PROFILE": "thorough"}
    assert RunSettings.build({}, environ=environ).profile == "thorough"
    assert RunSettings.build({"profile": "quick"}, environ=environ).profile == "quick"


@pytest.mark.parametrize(
    ("given", "environ", "named"),
    [
        ({"workers": 0}, {}, "--workers must be at least 1"),
        ({"timeout": 0}, {}, "--timeout must be more than 0"),
        ({"target": "live", "latency": 100}, {}, "--latency"),
        ({"target": "replay", "fault": ["list_as_text"]}, {}, "--fault only applies"),
        ({"fault": ["no_such_fault"]}, {}, "unknown fault 'no_such_fault'"),
        ({}, {"CREDLY_TARGET": "staging"}, "CREDLY_TARGET='staging'"),
        ({"max_requests": "many"}, {}, "--max-requests takes a whole number"),
    ],
)
def test_a_wrong_value_is_one_error_naming_the_option(given, environ, named):
    with pytest.raises(ConfigError, match=named):
        RunSettings.build(given, environ=environ)


def test_the_plugin_spells_its_options_in_its_errors():
    with pytest.raises(ConfigError, match="--credly-latency takes 0 or more"):
        RunSettings.build(
            {"target": "live", "latency": 1}, environ={}, prefix=run_settings.PYTEST_PREFIX
        )


def test_an_xdist_worker_gets_the_very_settings_of_its_controller():
    settings = RunSettings.build({"fault": ["list_as_text"], "organization_id": "org"}, environ={})
    assert RunSettings.from_facts(settings.facts()) == settings
