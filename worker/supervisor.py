"""`newswatch run`: the shipped worker layout and beat as child processes of one command.

Each class of work gets its own process and pool (see worker.layout), so ticks and
deliveries never wait for a pool slot held by a slow page fetch. The children are forked
from this process after it imported the tasks once (as Celery's prefork pool does), so the
import cost is paid once, not once per child. They stay in this process's group, so a
signal to the group reaches them all; SIGTERM or SIGINT to this process alone is passed on.

A child that dies after running a while (killed, out of memory) is started again; its lost
work comes back through the relays. One that dies soon after it started cannot start (bad
settings, broker down): the others are stopped and `run` exits non-zero, so whoever started
it (systemd, the demo) sees the failure instead of a half-working pipeline.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from types import FrameType

log = logging.getLogger("newswatch.run")

STOP_TIMEOUT = 30.0
# A child that ran at least this long before it died is restarted, not a start-up failure.
MIN_UPTIME = 10.0


def supervise(
    children: Sequence[tuple[str, Callable[[], object]]], poll_interval: float = 0.2
) -> int:
    """Run every ``(name, main)`` in a forked child until a signal, or a child that fails to start;
    return the exit status."""
    stop_signal: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop_signal.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    mains = dict(children)
    running: dict[int, str] = {}
    started: dict[str, float] = {}
    status = 0
    try:
        for name, main in children:
            running[_fork(main)] = name
            started[name] = time.monotonic()
        while not stop_signal and not status:
            for name, code in _reap(running):
                if time.monotonic() - started[name] < MIN_UPTIME:
                    log.error("%s exited with status %s at start: stopping the others", name, code)
                    status = code or 1
                    break
                log.error("%s exited with status %s: starting it again", name, code)
                running[_fork(mains[name])] = name
                started[name] = time.monotonic()
            time.sleep(poll_interval)
    finally:
        _stop_all(running)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


def _fork(main: Callable[[], object]) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        # Never return into the parent's code, nor run its exit hooks (they are its own).
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _reap(running: dict[int, str]) -> list[tuple[str, int]]:
    exited = []
    for pid in list(running):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            exited.append((running.pop(pid), os.waitstatus_to_exitcode(status)))
    return exited


def _stop_all(running: dict[int, str]) -> None:
    for pid in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while running and time.monotonic() < deadline:
        _reap(running)
        time.sleep(0.05)
    for pid, name in running.items():
        log.error("%s did not stop within %gs: killed", name, STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
