"""Fault-suite fixtures: the figures each case measured, printed at the end of the run
(recovery times, peak memory), so a CI log shows what the README's Reliability table says."""

from __future__ import annotations

from collections.abc import Callable

import pytest

_FIGURES: list[tuple[str, str, str]] = []

Measure = Callable[[str, str], None]


@pytest.fixture
def measure(request: pytest.FixtureRequest) -> Measure:
    """``measure("recovery", "12.3 s")`` notes a figure under the current test's id."""

    def note(name: str, value: str) -> None:
        _FIGURES.append((request.node.nodeid.split("::", 1)[-1], name, value))

    return note


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("fault suite: measured figures")
    for case, name, value in _FIGURES:
        terminalreporter.write_line(f"{case:<60} {name:<22} {value}")
