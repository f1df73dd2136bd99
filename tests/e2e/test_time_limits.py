"""A real worker against a feed server that drips its headers: the poll is cut by the task's
soft time limit (the HTTP deadline here is set longer on purpose) and recorded as a failed
poll with its reason and a backoff, instead of silently holding a worker child again.

Celery enforces time limits in prefork children only, so the poll queue runs in one here;
the shipped layout polls in threads, where the HTTP seam's deadline alone bounds a poll.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tests.e2e.harness import backend, newswatch_process, wait_until
from tests.unit.test_http_limits import HEADERS, RawServer, _drip

pytestmark = pytest.mark.e2e


def test_poll_cut_by_the_soft_time_limit_is_a_failed_poll(tmp_path: Path) -> None:
    stop = threading.Event()
    # Bounded: HEADERS is ~80 bytes, so the drip ends by itself after ~40 s.
    server = RawServer(lambda conn: _drip(conn, HEADERS + b"0123456789", 0.5, stop))
    try:
        with backend("embedded", tmp_path) as b:
            b.env.update(
                NEWSWATCH_TASK_SOFT_TIME_LIMIT="5",
                NEWSWATCH_TASK_TIME_LIMIT="15",
                NEWSWATCH_HTTP_TOTAL_TIMEOUT="60",
                NEWSWATCH_HTTP_READ_TIMEOUT="30",
            )
            b.cli("db", "upgrade")
            b.cli("feeds", "add", server.url(), "--name", "drip", "--no-check")

            def failed_feed() -> dict[str, object] | None:
                rows = [
                    json.loads(line)
                    for line in b.cli("feeds", "list", "--json").stdout.splitlines()
                ]
                row = rows[0] if rows else None
                return row if row and row.get("error_count") else None

            log_path = tmp_path / "worker.log"
            prefork = ("--queues", "tick,poll", "--pool", "prefork", "--concurrency", "1")
            with (
                newswatch_process(b, log_path, "worker", *prefork) as worker,
                newswatch_process(b, log_path, "beat"),
            ):
                recorded = wait_until(lambda: failed_feed() is not None, timeout=90, interval=2)
                log = log_path.read_text(errors="replace")
                assert recorded, f"no failed poll recorded; worker log:\n{log[-4000:]}"
                assert worker.poll() is None, "the worker died"
            row = failed_feed()
            assert row is not None and "time limit" in str(row["last_error"]), row
            assert str(row["next_poll_at"]) > str(row["last_polled_at"])
    finally:
        stop.set()
        server.close()
