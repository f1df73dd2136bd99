"""Every file of ../shared/corpora/feedparser-tests and realworld-feeds through the real
poll path: served from loopback, listed in a feeds file, polled by a real worker (poll
queue only: the pages their entries link to are off this machine). Nothing crashes, every
feed ends polled, and each one's recorded state says what the parse stage says of its
bytes: a feed, a malformed feed kept in part, or not a feed at all."""

from __future__ import annotations

import mimetypes
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from pipeline.stages.parse import parse_feed
from tests.conftest import need_shared
from tests.e2e.harness import backend, newswatch_process, wait_until
from tests.faults.conftest import Measure
from tests.faults.servers import install_tripwire
from tests.faults.world import feeds, store_rows, tail
from worker.loopback import SiteServer

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.shared, pytest.mark.slow]

CORPORA = ("feedparser-tests", "realworld-feeds")
POLL_WORKER = ("--queues", "tick,poll", "--pool", "prefork", "--concurrency", "2")
_TYPES = {".rss": "application/rss+xml", ".atom": "application/atom+xml", ".xml": "application/xml"}


def _is_feed_file(path: Path) -> bool:
    return path.name != "SOURCE.txt" and not path.name.endswith(
        (".LICENSE", ".serde.json", "LICENSE", ".txt")
    )


def _expected(path: Path, url: str) -> str:
    """What the parse stage says of the file as the site serves it: ok, malformed, not-a-feed."""
    kind = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
    kind = kind or "application/octet-stream"
    try:
        parsed = parse_feed(path.read_bytes(), {"content-type": kind}, url)
    except ValueError:
        return "not-a-feed"
    if not parsed.entries and (parsed.problem or not parsed.title):
        return "not-a-feed"
    return "malformed" if parsed.problem else "ok"


def _recorded(row: dict[str, object]) -> str:
    error = str(row.get("last_error") or "")
    if not error:
        return "ok"
    if error.startswith("malformed"):
        return "malformed"
    if "not a feed" in error:
        return "not-a-feed"
    return f"error: {error[:120]}"


@pytest.mark.timeout(900)
def test_corpora_through_the_poll_path(tmp_path: Path, measure: Measure) -> None:
    root = need_shared("corpora")
    files = sorted(
        p for name in CORPORA for p in need_shared("corpora", name).rglob("*") if p.is_file()
    )
    files = [p for p in files if _is_feed_file(p)]
    assert len(files) > 2000
    log = tmp_path / "worker.log"
    site = SiteServer(root).start()
    try:
        names = [p.relative_to(root).as_posix() for p in files]
        urls = {name: f"{site.base_url}/{name}" for name in names}
        # What the parse stage says of each file, worked out while the worker polls (its
        # start-up and the waits leave a core idle now and then) instead of after it.
        parsing = ThreadPoolExecutor(max_workers=1)
        expectations = parsing.submit(lambda: {n: _expected(root / n, u) for n, u in urls.items()})
        parsing.shutdown(wait=False)
        with backend("services", tmp_path) as b:
            install_tripwire(tmp_path / "tripwire", b.env)
            feeds_file = b.data_dir / "corpus-feeds.yaml"
            feeds_file.write_text(
                yaml.safe_dump({"feeds": [{"url": u, "name": n} for n, u in urls.items()]})
            )
            b.env |= {
                "NEWSWATCH_FEEDS_FILE": str(feeds_file),
                "NEWSWATCH_FEEDS_PER_TICK": "500",
                "NEWSWATCH_HOST_LIMITS": "127.0.0.1=16/0",
            }
            b.cli("db", "upgrade")
            with (
                newswatch_process(b, tmp_path / "beat.log", "beat"),
                # Parsing is CPU work: two processes use both cores, threads would share one.
                newswatch_process(b, log, "worker", *POLL_WORKER) as worker,
            ):
                # Counted in the store from this process: a `feeds list` of 2,000 rows every
                # few seconds would cost a core the two parsing workers need.
                def polled() -> int:
                    query = "SELECT count(*) FROM feeds WHERE last_polled_at IS NOT NULL"
                    return int(store_rows(b, query)[0][0])

                done = wait_until(lambda: polled() >= len(files), 540, interval=2)
                rows = feeds(b)
                assert worker.poll() is None, tail(log)
            assert done, f"{polled()} of {len(files)} polled\n{tail(log)}"
            text = log.read_text(errors="replace")
            assert "raised unexpected" not in text, tail(log)
            mismatched = []
            counts: dict[str, int] = {}
            expectation = expectations.result(timeout=300)
            for name in urls:
                recorded = _recorded(rows[name])
                counts[recorded.split(":")[0]] = counts.get(recorded.split(":")[0], 0) + 1
                expected = expectation[name]
                if recorded != expected:
                    mismatched.append(f"{name}: recorded {recorded}, parse says {expected}")
            measure("feeds polled", ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
            assert not mismatched, "\n".join(mismatched[:50])
    finally:
        site.stop()
