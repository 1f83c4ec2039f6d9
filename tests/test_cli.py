"""The command line's promises that need no target: help on every flag, help that names only flags
a subcommand has, and one definition of the exit codes and verdicts that everything speaks."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from credly_contract import cli
from credly_contract.interrupts import Interrupts, Terminated
from credly_contract.verdict import EXIT_CODES_HELP, ExitCode, Verdict

ROOT = Path(__file__).resolve().parents[1]


def subcommand_parsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(prefix: str, current: argparse.ArgumentParser) -> None:
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    found[f"{prefix} {name}".strip()] = child
                    walk(f"{prefix} {name}", child)

    walk("", parser)
    return found


@pytest.mark.parametrize("command", sorted(subcommand_parsers()))
def test_every_flag_of_every_subcommand_has_help_text(command):
    parser = subcommand_parsers()[command]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        assert action.help and action.help != argparse.SUPPRESS, (
            f"{command} {'/'.join(action.option_strings) or action.dest}"
        )


@pytest.mark.parametrize("command", sorted(subcommand_parsers()))
def test_help_mentions_only_flags_the_subcommand_has(command):
    parser = subcommand_parsers()[command]
    own = {option for action in parser._actions for option in action.option_strings}
    # "see emulate --list-faults" names another subcommand's flag, with that subcommand.
    others = "|".join(name for name in subcommand_parsers() if " " not in name)
    text = re.sub(rf"\b(?:{others})\s+--[a-z0-9-]+", "", parser.format_help())
    mentioned = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9]", text))
    assert mentioned <= own, f"{command} --help mentions {sorted(mentioned - own)}"


def test_record_and_sweep_never_mention_the_readonly_profile():
    parsers = subcommand_parsers()
    for command in ("record", "sweep"):
        assert "readonly" not in parsers[command].format_help(), command


def test_help_explains_every_exit_code_and_verdict_including_replay_and_report():
    certify_help = subcommand_parsers()["certify"].format_help()
    for code in ExitCode:
        assert re.search(rf"(?m)^\s+{code.value}\b|; {code.value}\b", EXIT_CODES_HELP), code
    for verdict in Verdict:
        assert verdict.value in EXIT_CODES_HELP
    assert EXIT_CODES_HELP in certify_help
    assert "replay" in EXIT_CODES_HELP and "report" in EXIT_CODES_HELP
    assert "4 the folder does not verify" in subcommand_parsers()["report"].format_help()


def test_a_verdict_and_its_exit_code_never_disagree():
    assert Verdict.CERTIFIED.exit_code == ExitCode.CERTIFIED
    assert Verdict.PASSED_IN_SCOPE.exit_code == ExitCode.CERTIFIED
    assert Verdict.NOT_CERTIFIED.exit_code == ExitCode.NOT_COMPLIANT
    assert Verdict.ERROR.exit_code == ExitCode.UNREACHABLE


def test_exit_codes_are_defined_in_one_place():
    stray = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("suite", "tests")
        for path in (ROOT / folder).rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if re.match(r"\s*EXIT_[A-Z_]+\s*[,=]\s*\d", line)
    ]
    assert stray == []


def test_a_new_subcommand_is_one_entry_in_the_handler_table(capsys):
    def add(commands):
        parser = commands.add_parser("hello", help="say hello")
        parser.add_argument("--name", default="QA", help="who to greet")
        return parser

    def run(args):
        print(f"hello {args.name}")
        return ExitCode.CERTIFIED

    cli.SUBCOMMANDS.append(cli.Subcommand("hello", add, run))
    try:
        assert cli.main(["hello", "--name", "lead"]) == 0
    finally:
        cli.SUBCOMMANDS.pop()
    assert capsys.readouterr().out == "hello lead\n"


def test_output_cut_short_by_its_reader_ends_quietly_without_a_traceback():
    # Like `credly-contract emulate --list-faults | head -0`: the reader is gone before the first
    # line is written.
    process = subprocess.Popen(
        [sys.executable, "-m", "credly_contract.cli", "emulate", "--list-faults"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    assert process.wait(60) == ExitCode.OUTPUT_CLOSED
    assert b"Traceback" not in process.stderr.read()


@pytest.mark.slow
def test_a_certification_whose_output_is_cut_short_is_an_error_not_a_verdict(tmp_path):
    # `credly-contract certify | head -1`: the run stops when its console goes; what it wrote is
    # not a verdict on the target (it was not_certified, with the unfinished requirements not run).
    reports = tmp_path / "reports"
    # 30 ms a request leaves the run about 3 s of tests after its first line (72 tests in): the
    # reader is gone long before the next line, however slow the machine is to wake it.
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "credly_contract.cli", "certify", "--profile", "quick"),
            *("--latency", "30", "--reports-dir", str(reports)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()

    assert process.wait(120) == ExitCode.OUTPUT_CLOSED
    assert b"Traceback" not in process.stderr.read()
    certificate = json.loads((reports / "certificate.json").read_text(encoding="utf-8"))
    assert certificate["verdict"] == "error"
    assert certificate["observations"][0]["kind"] == "run_error"
    assert "the run stopped before its tests ended" in certificate["observations"][0]["detail"]


def test_sigterm_that_reaches_the_command_itself_exits_143_not_130():
    # A SIGTERM in a run's last moments (its handlers already put back) ends the command as a
    # SIGTERM: CI tells a cancelled job (143) from a Ctrl-C (130) by this code.
    def add(subparsers):
        return subparsers.add_parser("cancelled")

    def run(args):
        raise Terminated()

    cli.SUBCOMMANDS.append(cli.Subcommand("cancelled", add, run))
    try:
        assert cli.main(["cancelled"]) == ExitCode.TERMINATED
    finally:
        cli.SUBCOMMANDS.pop()


def test_a_signal_while_the_certificate_is_written_lets_it_be_written_and_a_second_stops():
    interrupts = Interrupts()
    interrupts.install()
    try:
        with interrupts.shielded("writing the certificate; press Ctrl-C again to stop"):
            os.kill(os.getpid(), signal.SIGTERM)  # noted, said, and the writing goes on
            assert interrupts.received == [signal.SIGTERM]
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
    finally:
        interrupts.restore()
