"""Figures about the work as it happens (how long cleaning took, how a poll ended),
handed to a sink the worker process installs (Prometheus, see worker/metrics.py).

The pipeline knows no metrics library: with no sink installed (the CLI, tests) every call
here costs a clock read at most.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Sink(Protocol):
    def observe(self, name: str, value: float, labels: dict[str, str]) -> None: ...

    def increment(self, name: str, labels: dict[str, str]) -> None: ...


_sink: Sink | None = None


def install(sink: Sink | None) -> None:
    global _sink
    _sink = sink


def count(name: str, **labels: str) -> None:
    if _sink is not None:
        _sink.increment(name, labels)


def observe(name: str, value: float, **labels: str) -> None:
    if _sink is not None:
        _sink.observe(name, value, labels)


@contextmanager
def timed(name: str, **labels: str) -> Iterator[None]:
    """Observe the seconds the block took (also when it raised)."""
    if _sink is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        _sink.observe(name, time.perf_counter() - start, labels)
