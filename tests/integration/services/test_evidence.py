"""Evidence on a real store: the page an alert fired on is kept as WARC, its SHA-256 is in
the delivered payload, other articles keep nothing, and retention drops old files."""

from __future__ import annotations

import hashlib
import io

import pytest
from warcio.archiveiterator import ArchiveIterator

from pipeline.errors import NotFoundError
from pipeline.runtime import Runtime
from pipeline.services import articles, catalog, delivery
from pipeline.services.evidence import evidence_for_article
from pipeline.stages.alert import generate_secret
from tests.integration.services.support import Clock, poll_all
from worker.loopback import SiteServer, WebhookReceiver


def test_an_alert_carries_the_hash_of_the_page_kept_as_warc(
    rt: Runtime, site: SiteServer, clock: Clock
) -> None:
    secret = generate_secret()
    receiver = WebhookReceiver(secret).start()
    try:
        catalog.add_rule(rt, "ceasefire", "ceasefire", receiver.url, secret)
        feed = catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha", backfill=True)
        alert_ids = poll_all(rt, int(feed.id))  # type: ignore[arg-type]
        assert len(alert_ids) == 1
        assert delivery.deliver_alert(alert_ids[0], rt) == "delivered"
        assert receiver.wait_for(1, timeout=5)
        article = receiver.verified[0].payload["data"]["article"]
    finally:
        receiver.stop()
    kept = evidence_for_article(rt, article["id"])
    assert article["evidence"]["sha256"] == kept.sha256 == hashlib.sha256(kept.data).hexdigest()
    assert article["evidence"]["filename"] == kept.filename
    assert kept.filename.endswith(".warc.gz")

    records = {r.rec_type: r for r in _records(kept.data)}
    response, request = records["response"], records["request"]
    page_url = f"{site.base_url}/articles/ceasefire-talks.html"
    assert response.rec_headers.get_header("WARC-Target-URI") == page_url
    assert response.http_headers.get_statuscode() == "200"
    assert "text/html" in response.http_headers.get_header("Content-Type")
    page = (site.root / "articles" / "ceasefire-talks.html").read_bytes()
    assert response.body == page.replace(b"{{base}}", site.base_url.encode())
    assert request.http_headers.protocol == "GET"
    assert request.http_headers.statusline == "/articles/ceasefire-talks.html HTTP/1.1"
    assert request.http_headers.get_header("User-Agent") == rt.settings.http_user_agent
    assert request.http_headers.get_header("Host") == site.base_url.split("//")[1]

    # Articles that raised no alert keep nothing, and say why.
    others = [a for a in range(1, 4) if a != article["id"]]
    with pytest.raises(NotFoundError, match="raised an alert"):
        evidence_for_article(rt, others[0])
    with pytest.raises(NotFoundError, match="no article"):
        evidence_for_article(rt, 999)

    # Retention: the relay tick drops files older than evidence_retention_days.
    clock.advance(days=rt.settings.evidence_retention_days - 1)
    articles.relay_stuck_articles(rt)
    assert evidence_for_article(rt, article["id"]).sha256 == kept.sha256
    clock.advance(days=2)
    articles.relay_stuck_articles(rt)
    with pytest.raises(NotFoundError):
        evidence_for_article(rt, article["id"])


class _Record:
    def __init__(self, record: object) -> None:
        self.rec_type = record.rec_type  # type: ignore[attr-defined]
        self.rec_headers = record.rec_headers  # type: ignore[attr-defined]
        self.http_headers = record.http_headers  # type: ignore[attr-defined]
        self.body = record.content_stream().read()  # type: ignore[attr-defined]


def _records(data: bytes) -> list[_Record]:
    return [_Record(record) for record in ArchiveIterator(io.BytesIO(data))]
