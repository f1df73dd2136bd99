"""`newswatch run`'s supervisor with stand-in children: restart, start-up failure, stop."""

from __future__ import annotations

import itertools
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


def test_a_child_that_ran_then_keeps_failing_is_restarted_with_pauses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A child that ran, then dies at once after each restart (whatever the reason), is
    # waited out with growing pauses: `run` neither spins nor stops the whole pipeline.
    monkeypatch.setattr(supervisor, "MIN_UPTIME", 0.5)
    monkeypatch.setattr(supervisor, "MAX_RESTART_PAUSE", 0.4)
    starts = tmp_path / "starts"

    def flaky() -> None:
        with starts.open("a") as out:
            out.write(f"{time.monotonic()}\n")
        runs = len(starts.read_text().split())
        time.sleep(0.8 if runs == 1 else 0.0)  # the first run is long, the next ones fail
        raise SystemExit(1)

    def stop_after_restarts() -> None:
        assert _wait(lambda: starts.exists() and len(starts.read_text().split()) >= 4)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=stop_after_restarts)
    thread.start()
    status = supervisor.supervise([("flaky", flaky)], poll_interval=0.05)
    thread.join(timeout=30)
    assert status == 0  # stopped by the signal, not given up
    times = [float(x) for x in starts.read_text().split()]
    assert len(times) >= 4
    # After the first quick failure there is a pause before each restart.
    assert all(later - earlier >= 0.3 for earlier, later in itertools.pairwise(times[1:]))
