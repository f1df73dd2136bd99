"""`newswatch run`'s supervisor with stand-in children: restart, start-up failure, stop."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from worker import supervisor


def _sleeper(marker: Path) -> None:
    with marker.open("a") as out:
        out.write(f"{os.getpid()}\n")
    time.sleep(60)


def _pids(marker: Path) -> list[int]:
    return [int(x) for x in marker.read_text().split()] if marker.exists() else []


def _wait(predicate: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_child_that_cannot_start_stops_the_others(tmp_path: Path) -> None:
    marker = tmp_path / "sleeper"

    def broken() -> None:
        raise SystemExit(3)

    status = supervisor.supervise(
        [("sleeper", lambda: _sleeper(marker)), ("broken", broken)], poll_interval=0.05
    )
    assert status == 3
    assert all(not _alive(pid) for pid in _pids(marker))


def test_a_child_killed_later_is_started_again_and_sigterm_stops_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supervisor, "MIN_UPTIME", 0.5)
    marker = tmp_path / "sleeper"

    def kill_then_stop() -> None:
        assert _wait(lambda: len(_pids(marker)) == 1)
        time.sleep(0.6)
        os.kill(_pids(marker)[0], signal.SIGKILL)
        assert _wait(lambda: len(_pids(marker)) == 2)  # started again
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=kill_then_stop)
    thread.start()
    status = supervisor.supervise([("sleeper", lambda: _sleeper(marker))], poll_interval=0.05)
    thread.join(timeout=30)
    assert status == 0
    assert len(_pids(marker)) == 2
    assert not _alive(_pids(marker)[1])
