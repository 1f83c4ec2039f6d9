"""Bad settings exit 2 with one line that names the setting and never the secret; a client secret
passed as a flag warns about shell history, and one read from a file works."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from credly_contract import cli
from credly_contract.config import ConfigError, live_target
from credly_contract.emulator import EmulatorServer
from tests.fault_proxy import FaultProxy
from tests.live_runs import (
    credly_variables,
    live_env,
    made_up_target,
    one_line,
)


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("CREDLY_CLIENT_ID", "", "CREDLY_CLIENT_ID"),
        ("CREDLY_API_BASE_URL", "sandbox-api.credly.com/v1", "CREDLY_API_BASE_URL"),
        ("CREDLY_TOKEN_URL", "http://exa mple:port/oauth/token", "CREDLY_TOKEN_URL"),
        (
            "CREDLY_ORGANIZATION_ID",
            "00000000-0000-0000-0000-000000000000",
            "CREDLY_ORGANIZATION_ID",
        ),
        ("CREDLY_CLIENT_SECRET", "not-the-secret", "CREDLY_CLIENT_SECRET"),
        ("CREDLY_TOKEN_URL", "{origin}/oauth/tokens", "CREDLY_TOKEN_URL"),
    ],
)
def test_bad_configuration_exits_2_with_one_line_naming_the_setting(
    emulator_env: EmulatorServer,
    credly_env: Any,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    named: str,
) -> None:
    credly_env(**{variable: value.format(origin=emulator_env.origin)})
    assert cli.main(["certify", "--target", "live"]) == 2
    line = one_line(capsys.readouterr().err)
    assert named in line
    assert "not-the-secret" not in line and emulator_env.bootstrap.client_secret not in line


def test_a_bootstrap_application_lacking_a_scope_exits_2_naming_the_scope(
    emulator: EmulatorServer, proxy: FaultProxy, credly_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy.refused_scopes = {"issued_badges"}
    credly_env(**credly_variables(live_env(emulator, via=proxy)))
    assert cli.main(["certify", "--target", "live"]) == 2
    line = one_line(capsys.readouterr().err)
    assert "lacks the scope(s) issued_badges" in line and "CREDLY_CLIENT_ID" in line


def test_passing_the_client_secret_as_a_flag_warns_about_shell_history(
    credly_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["certify", "--target", "live", "--client-secret", "s3cret-flag"]) == 2
    err = capsys.readouterr().err
    assert "warning: --client-secret" in err and "shell history" in err
    assert "s3cret-flag" not in err


def test_the_client_secret_can_be_read_from_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file-secret\n")
    environ = made_up_target("https://sandbox.credly.com")
    del environ["CREDLY_CLIENT_SECRET"]
    environ["CREDLY_CLIENT_SECRET_FILE"] = str(secret_file)
    assert live_target({}, environ).client_secret == "from-a-file-secret"
    with pytest.raises(ConfigError, match="CREDLY_CLIENT_SECRET_FILE"):
        live_target({}, environ | {"CREDLY_CLIENT_SECRET_FILE": str(tmp_path / "missing")})
    secret_file.write_text("  \n")
    with pytest.raises(ConfigError, match=r"CREDLY_CLIENT_SECRET_FILE=.* is empty"):
        live_target({}, environ)
    del environ["CREDLY_CLIENT_SECRET_FILE"]
    with pytest.raises(ConfigError, match=r"CREDLY_CLIENT_SECRET \(or CREDLY_CLIENT_SECRET_FILE\)"):
        live_target({}, environ)


def test_a_targets_variables_read_back_as_the_same_target():
    """Target.environment() is the one mapping from a target to CREDLY_* variables: the inverse of
    live_target, optional settings included when set and left out when not."""
    target = live_target({}, made_up_target("https://sandbox.credly.com"))
    assert live_target({}, target.environment()) == target
    foreign = replace(target, foreign_organization_id="other", foreign_application_id="7")
    assert live_target({}, foreign.environment()) == foreign
    assert "CREDLY_FOREIGN_ORGANIZATION_ID" not in target.environment()
