"""`newswatch run`: the shipped worker layout and beat as child processes of one command.

Each class of work gets its own process and pool (see worker.layout), so ticks and
deliveries never wait for a pool slot held by a slow page fetch. The children are forked
from this process after it imported the tasks once (as Celery's prefork pool does), so the
import cost is paid once, not once per child. They stay in this process's group, so a
signal to the group reaches them all; SIGTERM or SIGINT to this process alone is passed on.

A child that dies after running a while (killed, out of memory, a bug) is started again;
its lost work comes back through the relays. If it then keeps dying soon after each start,
it is started again after a pause that doubles each time, for as long as it takes: a child
that has run once can run again. Only a child that dies soon after its first start (bad
settings) stops the others, and `run` exits non-zero, so whoever started it (systemd, the
demo) sees the failure instead of a half-working pipeline. A broker that is down is not
such a failure: `run` checks it once before forking, and the workers wait for it
(worker.celery_app).
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
# Pauses before restarting a child that had run but now dies soon after each start: from
# 1 s, doubling up to this, so a child that cannot run for a while does not spin.
MAX_RESTART_PAUSE = 30.0


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
    proven: set[str] = set()  # children that ran MIN_UPTIME at least once
    pause: dict[str, float] = {}
    restart_at: dict[str, float] = {}
    status = 0
    try:
        for name, main in children:
            running[_start(name, main)] = name
            started[name] = time.monotonic()
        while not stop_signal and not status:
            now = time.monotonic()
            for name, code in _reap(running):
                quick = now - started[name] < MIN_UPTIME
                if not quick:
                    proven.add(name)
                if name not in proven:
                    log.error("%s exited with status %s at start: stopping the others", name, code)
                    status = code or 1
                    break
                if quick:
                    pause[name] = min(max(pause.get(name, 0.0) * 2, 1.0), MAX_RESTART_PAUSE)
                else:
                    pause[name] = 0.0
                log.error(
                    "%s exited with status %s: starting it again in %gs", name, code, pause[name]
                )
                restart_at[name] = now + pause[name]
            for name, when in list(restart_at.items()):
                if not status and now >= when:
                    del restart_at[name]
                    running[_start(name, mains[name])] = name
                    started[name] = time.monotonic()
            time.sleep(poll_interval)
    finally:
        _stop_all(running)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


def _start(name: str, main: Callable[[], object]) -> int:
    pid = _fork(main)
    log.info("%s started, pid %d", name, pid)  # which process to look at, or to signal
    return pid


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
