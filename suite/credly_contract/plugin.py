"""The certification's pytest plugin (entry point ``credly_contract``): its options, the requirement
marker, and thin hooks that turn pytest's events into calls of the run's :class:`Engine`.

It stays inert until a run asks for it: ``--credly-target`` (or ``CREDLY_TARGET``), or the
certification and scenario suites, whose conftests call :func:`activate`."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from credly_contract import fixtures, lost_answers
from credly_contract.config import ConfigError, Target
from credly_contract.engine.run import Engine, UnknownRequirement
from credly_contract.engine.settings import (
    RunSettings,
    add_pytest_options,
    from_pytest,
    requested_target,
)
from credly_contract.facts import RunFacts
from credly_contract.fixtures import ENGINE_KEY
from credly_contract.pytest_report import (
    FACTS_PROPERTY,
    facts_of,
    one_line_interrupt,
    raised_by,
    scrubbed_longrepr,
    test_id,
    write_judgement,
)
from credly_contract.report import requirement_lines, verdict_lines
from credly_contract.report.allure_labels import label_test, report_failures

PLUGIN_NAME = "credly-certification"
PLUGIN_KEY = pytest.StashKey["Certification"]()
# Where an xdist controller hands its workers the run's settings, and they hand back their facts.
SETTINGS_INPUT, FACTS_OUTPUT = "credly_settings", FACTS_PROPERTY


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(
        "credly", "credly-contract certification (inert without --credly-target)"
    )
    add_pytest_options(group)  # the one table of run options (engine/settings.py)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(*ids): the requirement ids a test proves")
    if requested_target(config.option):
        activate(config)


def activate(config: pytest.Config, *, scoped: bool = False) -> Certification:
    """Make this pytest run a certification (once): the suites' conftests call it; so does
    ``--credly-target``. ``scoped``: the run proves only the requirements its tests are tagged with."""
    plugin = config.stash.get(PLUGIN_KEY, None)
    if plugin is None:
        # `credly-contract` hands its own object in through pytest.main(plugins=[...]).
        given = [p for p in config.pluginmanager.get_plugins() if isinstance(p, Certification)]
        plugin = given[0] if given else Certification()
        plugin.configure(config)
        if not config.pluginmanager.is_registered(plugin):
            config.pluginmanager.register(plugin, PLUGIN_NAME)
        # The fixtures exist only in a certification run: other pytest runs never see their names.
        if not config.pluginmanager.is_registered(fixtures):
            config.pluginmanager.register(fixtures, "credly-fixtures")
        config.stash[PLUGIN_KEY] = plugin
        config.stash[ENGINE_KEY] = plugin.engine
        plugin.reruns = lost_answers.register(config, lambda: plugin.engine.run)
    plugin.scoped = plugin.scoped or scoped
    return plugin


class Certification:
    """The pytest side of one certification run, registered on the config as a plugin (the way
    pytest's junitxml plugin is): it feeds the run's :class:`Engine` with pytest's events."""

    def __init__(
        self,
        settings: RunSettings | None = None,
        *,
        target: Target | None = None,
        driven_by_cli: bool = False,
        engine: Engine | None = None,
    ) -> None:
        # certify's (and the live target it proved), certify-client's engine, or configure()'s.
        self.settings = engine.settings if engine else settings
        self.given_target = target
        self.driven_by_cli = driven_by_cli
        self.scoped = False
        self.config: pytest.Config | None = None
        self._engine: Engine | None = engine
        self.reruns: lost_answers.LostAnswerReruns | None = None

    @property
    def engine(self) -> Engine:
        assert self._engine is not None, "activate() configures the certification first"
        return self._engine

    @property
    def configured(self) -> Engine | None:
        """The run's engine, or None when pytest stopped before the run was configured."""
        return self._engine

    def configure(self, config: pytest.Config) -> None:
        self.config = config
        workerinput = getattr(config, "workerinput", None)
        # xdist tells its own workers how many they are; an environment variable would also reach a
        # run started inside another pytest-xdist session and split this run's budget for nothing.
        workers = int(workerinput["workercount"]) if workerinput else 1
        try:
            if workerinput and SETTINGS_INPUT in workerinput:  # the xdist controller's settings
                self.settings = RunSettings.from_facts(workerinput[SETTINGS_INPUT])
            elif self.settings is None:
                self.settings = from_pytest(config.option)
            if self._engine is None:
                self._engine = Engine(self.settings, self.given_target, workers=workers)
            self._engine.say = self.say
        except (ConfigError, ValueError) as error:
            raise pytest.UsageError(f"credly-contract: {error}") from None
        if workerinput is None:
            self.engine.interrupts.install()

    def _terminal(self) -> Any:
        return self.config.pluginmanager.get_plugin("terminalreporter") if self.config else None

    def say(self, line: str) -> None:
        if terminal := self._terminal():
            terminal.write_line(f"credly-contract: {line}")

    def requirement_ids(self, item: pytest.Item) -> list[str]:
        tagged = [rid for marker in item.iter_markers("requirement") for rid in marker.args]
        try:
            return self.engine.known(tagged)
        except UnknownRequirement as error:
            raise pytest.UsageError(str(error)) from None

    # -- pytest hooks ------------------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist controller: every worker certifies with this run's settings (and run id)."""
        assert self.settings is not None
        node.workerinput[SETTINGS_INPUT] = self.settings.facts()

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        ids = [rid for item in items for rid in self.requirement_ids(item)]
        if self.scoped:
            self.engine.results.limit_scope(ids)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        ids = self.requirement_ids(item)
        self.engine.begin_test(item.nodeid, ids)
        label_test([self.engine.results.requirements[rid] for rid in ids])

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self.engine.begin_teardown(item.nodeid)

    def pytest_runtest_logfinish(self) -> None:
        self.engine.end_test()

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> Generator[None, Any, Any]:
        """A session fixture's requests (tokens, scratch applications) serve every test: they are
        charged to setup, not to the test that happened to need them first."""
        if fixturedef.scope != "session":
            return (yield)
        with self.engine.paid_by_setup():
            return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, Any]:
        report = yield
        lost = self.reruns is not None and self.reruns.will_rerun(item, call.when, raised_by(call))
        if lost:
            pass  # an answer it judges was lost: the test runs again, nothing of this is judged
        elif call.when == "call" or (call.when == "setup" and not report.passed):
            ids = self.requirement_ids(item)
            judgement = self.engine.judge(ids, raised_by(call))
            stop = f"credly-contract: {self.engine.results.error}"
            facts = write_judgement(item, report, ids, judgement, stop)
            waived = self.engine.waived_note(facts.failures)
            if waived:  # CI dashboards show a skipped test as "not a failure"
                report.outcome = "skipped"
                report.longrepr = (str(item.path), 0, f"Skipped: {waived}")
            report_failures(item.config, facts.failures, waived=waived)
        report.longrepr = scrubbed_longrepr(report)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.engine.results.count(report.when, report.outcome)
        for facts in facts_of(report):
            self.engine.results.record(
                test_id(report), facts.requirements, facts.failures, facts.completed, facts.skipped
            )

    @pytest.hookimpl(trylast=True)
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        engine = self._engine
        if engine is not None and engine.interrupts.interrupted:
            engine.note_interrupt()
            line = f"credly-contract: {engine.results.error}"
            one_line_interrupt(self._terminal(), line, quiet=self.driven_by_cli)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._engine:
            self._engine.interrupts.restore()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        engine, write = self._engine, terminalreporter.write_line
        if engine is None:
            return
        lines = requirement_lines(engine.certificate) if engine.certificate is not None else []
        if lines:
            terminalreporter.section("credly-contract requirements")
        if engine.cleanup_note:
            lines.append(f"credly-contract: {engine.cleanup_note}")
        if engine.certificate is not None and not self.driven_by_cli:
            lines += verdict_lines(engine.certificate, engine.settings.run_folder)
        for line in lines:
            write(line)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: merge a finished worker's run facts into the session's results."""
        if raw := getattr(node, "workeroutput", {}).get(FACTS_OUTPUT):
            self.engine.merge(RunFacts.from_json(raw))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        engine, config = self._engine, session.config
        if engine is not None:
            engine.record_late_failures()
        if engine is None or not engine.judged_anything():
            return
        if hasattr(config, "workeroutput"):
            # An xdist worker: hand the run's facts to the controller, which writes the artefacts.
            config.workeroutput[FACTS_OUTPUT] = engine.facts().to_json()
            return
        engine.finish(unfinished=exitstatus == pytest.ExitCode.INTERNAL_ERROR)
        session.exitstatus = engine.exit_code()
