"""The destination guard, end to end: every spelling of a loopback, private, link-local or
metadata address, redirects to each, names that resolve to loopback and other schemes —
as feeds, as article pages, as webhooks and as Apprise targets — against a real worker.

The allowlist holds one address only, 127.0.0.77, where the test's own feed server and
redirector live. Listeners on 127.0.0.1 and [::1] sit behind every loopback spelling and
must see zero connections; the worker's tripwire (tests/faults/servers.py) records and
refuses any connection off loopback, so a private or metadata address that got through
would be caught there without a packet leaving the machine.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.harness import Backend, backend, newswatch_process, wait_until
from tests.faults.hostile import HostileServer, fixed
from tests.faults.servers import Listener, free_port, install_tripwire
from tests.faults.world import alerts, feeds, store_rows, tail
from worker.loopback import WebhookReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

ALLOWED = "127.0.0.77"


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


def spellings(port: int) -> dict[str, str]:
    """name -> URL; every one reaches this machine or a private network if not refused."""
    loopback_hosts = {
        "dotted": "127.0.0.1",
        "trailing-dot": "127.0.0.1.",
        "short-2": "127.1",
        "short-3": "127.0.1",
        "decimal": "2130706433",
        "hex": "0x7f000001",
        "hex-dotted": "0x7f.0x0.0x0.0x1",
        "octal": "0177.0.0.1",
        "octal-long": "017700000001",
        "zero-padded": "127.000.000.001",
        "other-127": "127.0.0.2",
        "unspecified": "0.0.0.0",
        "zero": "0",
        "localhost": "localhost",
        "localhost-dot": "localhost.",
        "localhost-caps": "LOCALHOST",
        "v6-loopback": "[::1]",
        "v6-loopback-long": "[0:0:0:0:0:0:0:1]",
        "v6-unspecified": "[::]",
        "v4-mapped": "[::ffff:127.0.0.1]",
        "v4-mapped-hex": "[::ffff:7f00:1]",
        "v4-compatible": "[::127.0.0.1]",
        "v4-compatible-hex": "[::7f00:1]",
        "6to4": "[2002:7f00:1::]",
        "nat64": "[64:ff9b::7f00:1]",
        "nat64-dotted": "[64:ff9b::127.0.0.1]",
        "nat64-local": "[64:ff9b:1::7f00:1]",
        "teredo": "[2001:0:4136:e378:8000:63bf:80ff:fffe]",
    }
    private_hosts = {
        "ten": "10.0.0.1",
        "ten-decimal": "167772161",
        "ten-octal": "012.0.0.1",
        "172": "172.16.0.1",
        "192": "192.168.0.1",
        "cgnat": "100.64.0.1",
        "link-local": "169.254.1.1",
        "metadata": "169.254.169.254",
        "metadata-decimal": "2852039166",
        "metadata-hex": "0xa9fea9fe",
        "metadata-name": "metadata.google.internal",
        "metadata-v4-mapped": "[::ffff:169.254.169.254]",
        "metadata-v4-compatible": "[::a9fe:a9fe]",
        "metadata-6to4": "[2002:a9fe:a9fe::]",
        "metadata-nat64": "[64:ff9b::a9fe:a9fe]",
        "v6-link-local": "[fe80::1]",
        "v6-unique-local": "[fc00::1]",
        "private-v4-mapped": "[::ffff:10.0.0.1]",
        "private-v4-compatible": "[::a00:1]",
    }
    urls = {f"loopback-{k}": f"http://{h}:{port}/ssrf/{k}" for k, h in loopback_hosts.items()}
    urls |= {f"private-{k}": f"http://{h}:{port}/ssrf/{k}" for k, h in private_hosts.items()}
    return urls


# Refused when saved: not http(s), credentials, or nothing that can be looked up.
BAD_SCHEMES = {
    "file": "file:///etc/passwd",
    "ftp": "ftp://127.0.0.1/x",
    "gopher": "gopher://127.0.0.1:70/_x",
    "dict": "dict://127.0.0.1:11211/stat",
    "data": "data:text/xml,<rss/>",
    "credentials": f"http://{ALLOWED}@127.0.0.1/x",
}


@dataclass
class SsrfRun:
    urls: dict[str, str]
    feeds: dict[str, dict[str, Any]]
    pages: dict[str, tuple[str, str]]
    alerts: list[dict[str, Any]]
    # Apprise target -> (status, last error) of its notification.
    channels: dict[str, tuple[str, str]]
    hits: list[str]
    tripwire: str
    refused_at_save: dict[str, str]
    saved_rules: set[str]
    log: Path


def _rss(items: list[tuple[str, str, str]]) -> bytes:
    # Dated now: undated or old entries of a feed's first poll raise no alerts.
    now = format_datetime(datetime.now(UTC))
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{t}</guid>"
        f"<pubDate>{now}</pubDate><description>{d}</description></item>"
        for t, link, d in items
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>ssrf</title>'
        f"{body}</channel></rss>"
    ).encode()


def _redirect(location: str) -> Any:
    def send(conn: socket.socket) -> None:
        conn.sendall(
            (
                f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
        )

    return send


@pytest.fixture(scope="module")
def ssrf_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SsrfRun]:
    tmp_path = tmp_path_factory.mktemp("ssrf")
    log = tmp_path / "worker.log"
    port = free_port()
    listeners = [Listener("127.0.0.1", port)]
    if _ipv6_loopback():
        listeners.append(Listener("::1", port))
    urls = spellings(port)
    secret_receiver = WebhookReceiver("whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    secret_receiver.host = ALLOWED
    behaviours: dict[str, Any] = {}
    site: HostileServer | None = None
    try:
        site = HostileServer(behaviours, host=ALLOWED).start()
        secret_receiver.start()
        base = site.base_url
        # Pages: one feed whose entries link to every spelling and to a redirect to each;
        # one entry matches the rules, so every rule below alerts once.
        items = [(f"page {name}", url, "nothing") for name, url in urls.items()]
        items += [(f"redirect {name}", f"{base}/r/{name}", "nothing") for name in urls]
        items.append(("trigger", f"{base}/trigger.html", "A ceasefire took hold at dawn."))
        behaviours["/pages.rss"] = fixed(_rss(items))
        behaviours["/trigger.html"] = fixed(
            b"<html><body><article><p>A ceasefire took hold at dawn on Tuesday, officials "
            b"said, after days of shelling.</p></article></body></html>"
        )
        for name, url in urls.items():
            behaviours[f"/r/{name}"] = _redirect(url)
        feed_entries = [{"url": f"{base}/pages.rss", "name": "pages"}]
        feed_entries += [{"url": url, "name": f"feed {name}"} for name, url in urls.items()]
        feed_entries += [
            {"url": f"{base}/r/{name}", "name": f"feed-redirect {name}"} for name in urls
        ]
        with backend("services", tmp_path) as b:
            b.env["NEWSWATCH_HTTP_ALLOW_HOSTS"] = ALLOWED
            b.env["NEWSWATCH_WEBHOOK_TIMEOUT"] = "3"
            b.env["NEWSWATCH_HTTP_TOTAL_TIMEOUT"] = "10"
            # Every feed and page here lives on the one allowlisted host: the default of
            # one request at a time per host would make the run a queue, not a test.
            b.env["NEWSWATCH_HOST_LIMITS"] = f"{ALLOWED}=16/0"
            tripwire = install_tripwire(tmp_path / "tripwire", b.env)
            secret = secret_receiver.secret
            rules: list[dict[str, Any]] = [
                {"name": f"hook {name}", "query": "ceasefire", "webhook": url, "secret": secret}
                for name, url in urls.items()
            ]
            rules += [
                {
                    "name": f"apprise {name}",
                    "query": "ceasefire",
                    "webhook": secret_receiver.url,
                    "secret": secret,
                    "notify": [url.replace("http://", "json://", 1)],
                }
                for name, url in urls.items()
                # A target Apprise cannot parse is refused when saved (one error line); in
                # a rules file that error stops the sync, so such targets are left out.
                if _apprise_parses(url.replace("http://", "json://", 1))
            ]
            (b.data_dir / "ssrf-feeds.yaml").write_text(yaml.safe_dump({"feeds": feed_entries}))
            (b.data_dir / "ssrf-rules.yaml").write_text(yaml.safe_dump({"rules": rules}))
            b.env["NEWSWATCH_FEEDS_FILE"] = str(b.data_dir / "ssrf-feeds.yaml")
            b.env["NEWSWATCH_RULES_FILE"] = str(b.data_dir / "ssrf-rules.yaml")
            b.cli("db", "upgrade")
            # Twelve CLI runs that save nothing: they go on beside the sync and the worker's
            # start-up (a copy of the environment, which is changed below before `run`).
            refusing = ThreadPoolExecutor(max_workers=1)
            refusals = refusing.submit(
                _refused_at_save, Backend(b.name, b.data_dir, dict(b.env)), secret
            )
            refusing.shutdown(wait=False)
            # A rule whose target is refused as it is saved is as safe as one refused when
            # sent: the sync names it and saves the others.
            b.cli("config", "sync", check=False)
            saved = {str(row[0]) for row in store_rows(b, "SELECT name FROM rules")}
            # One notification per Apprise rule saved: a target Apprise cannot parse has
            # none, and waiting for one per spelling would only ever end at the timeout.
            notified = {name for name in saved if name.startswith("apprise ")}
            # Synced once: `run` would sync again and stop on the refused rule's clash.
            del b.env["NEWSWATCH_FEEDS_FILE"], b.env["NEWSWATCH_RULES_FILE"]
            with newswatch_process(b, log, "run", "--concurrency", "2") as worker:
                # Asked of the store in this process, not through the CLI: a `newswatch`
                # start every few seconds would take a core from the worker it waits for.
                def settled() -> bool:
                    unpolled = store_rows(
                        b, "SELECT count(*) FROM feeds WHERE last_polled_at IS NULL"
                    )
                    tried = store_rows(
                        b, "SELECT count(*) FROM alerts WHERE attempts > 0 OR status = 'dead'"
                    )
                    sent = [c for c in _channels(b).values() if c[0] != "pending" or c[1]]
                    polled = unpolled[0][0] == 0
                    return polled and tried[0][0] >= len(saved) and len(sent) >= len(notified)

                # Bounded waits; what is still unsettled at the end fails the tests below
                # with the spelling it concerns.
                wait_until(settled, 240, interval=1)
                wait_until(lambda: _pages_done(b), 90, interval=1)
                assert worker.poll() is None, tail(log)
                yield SsrfRun(
                    urls=urls,
                    feeds=feeds(b),
                    pages=_pages(b),
                    alerts=alerts(b),
                    channels=_channels(b),
                    hits=[hit for listener in listeners for hit in listener.hits],
                    tripwire=tripwire.read_text(),
                    refused_at_save=refusals.result(timeout=300),
                    saved_rules=saved,
                    log=log,
                )
    finally:
        if site is not None:
            site.stop()
        secret_receiver.stop()
        for listener in listeners:
            listener.stop()


def _refused_at_save(b: Backend, secret: str) -> dict[str, str]:
    """Other schemes, as a feed and as a webhook, through the CLI: one line, exit 2."""
    refused = {}
    for name, url in BAD_SCHEMES.items():
        as_feed = b.cli("feeds", "add", url, "--no-check", check=False)
        as_hook = b.cli(
            "rules", "add", f"scheme {name}", "x", "--webhook", url, "--secret", secret, check=False
        )
        for result in (as_feed, as_hook):
            if result.returncode == 0 or "Traceback" in result.stderr:
                refused[name] = f"accepted or crashed: {result.stdout} {result.stderr}"
                break
        else:
            refused[name] = "refused"
    return refused


def _apprise_parses(target: str) -> bool:
    from pipeline.io.channels import validate_target

    try:
        validate_target("apprise", target)
    except ValueError:
        return False
    return True


def _pages(b: Backend) -> dict[str, tuple[str, str]]:
    rows = store_rows(b, "SELECT title, fetch_status, coalesce(fetch_reason, '') FROM articles")
    return {str(t): (str(s), str(r)) for t, s, r in rows}


def _channels(b: Backend) -> dict[str, tuple[str, str]]:
    rows = store_rows(
        b,
        "SELECT target, status, coalesce(last_error, '') FROM notifications "
        "WHERE alert_id IS NOT NULL",
    )
    return {str(t): (str(s), str(e)) for t, s, e in rows}


def _pages_done(b: Backend) -> bool:
    return all(status != "pending" for status, _ in _pages(b).values())


def test_nothing_was_reached(ssrf_run: SsrfRun) -> None:
    assert ssrf_run.hits == [], f"loopback listeners were reached: {ssrf_run.hits}"
    assert ssrf_run.tripwire == "", f"connections off loopback: {ssrf_run.tripwire}"


def test_other_schemes_refused_when_saved(ssrf_run: SsrfRun) -> None:
    bad = {k: v for k, v in ssrf_run.refused_at_save.items() if v != "refused"}
    assert not bad, bad


@pytest.mark.parametrize("via", ["feed", "feed-redirect"])
def test_feeds_refused(ssrf_run: SsrfRun, via: str) -> None:
    problems = []
    for name in ssrf_run.urls:
        row = ssrf_run.feeds.get(f"{via} {name}")
        if row is None:
            problems.append(f"{name}: feed missing")
        elif not row["last_polled_at"] or not row["last_error"]:
            problems.append(f"{name}: no error recorded ({row['last_polled_at']})")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("via", ["page", "redirect"])
def test_pages_refused(ssrf_run: SsrfRun, via: str) -> None:
    problems = []
    for name in ssrf_run.urls:
        status, reason = ssrf_run.pages.get(f"{via} {name}", ("missing", ""))
        if status == "missing" and via == "page":
            continue  # the parser dropped a link it could not read: never fetched
        if status != "fallback" or "unavailable" not in reason:
            problems.append(f"{name}: {status} {reason!r}")
    assert not problems, "\n".join(problems)
    assert ssrf_run.pages["trigger"][0] == "fetched"


@pytest.mark.parametrize("via", ["hook", "apprise"])
def test_deliveries_refused_for_good(ssrf_run: SsrfRun, via: str) -> None:
    """A refused destination is a permanent failure: dead at once, with the reason, not
    retried as if it were a network blip."""
    problems = []
    by_rule = {row["rule"]: row for row in ssrf_run.alerts}
    for name, url in ssrf_run.urls.items():
        if f"{via} {name}" not in ssrf_run.saved_rules:
            continue  # refused when saved: nothing to send
        if via == "hook":
            row = by_rule.get(f"hook {name}")
            state = (row["status"], row["last_error"] or "") if row else ("no alert", "")
        else:
            target = url.replace("http://", "json://", 1)
            state = ssrf_run.channels.get(target, ("no notification", ""))
        # httpx itself rejects some spellings (octal, zero-padded): refused just the same.
        if state[0] != "dead" or not ("refused" in state[1] or "invalid URL" in state[1]):
            problems.append(f"{name}: {state[0]} {state[1]!r}")
    assert not problems, "\n".join(problems)
