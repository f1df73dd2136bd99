"""The REST API on a real store (SQLite and PostgreSQL): auth, feeds, rules, articles,
stories, alerts, counts, metrics and problem+json errors.

Articles get into the store the way the worker puts them there: the same service
functions poll the loopback site; the API is the only way in for everything else.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.runtime import Runtime
from pipeline.services import delivery, keys
from tests.integration.services.support import poll_all
from worker.loopback import SiteServer, WebhookReceiver

PROBLEM = "application/problem+json"


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["title"]
    assert "Traceback" not in response.text
    return body  # type: ignore[no-any-return]


def test_every_api_route_needs_a_key_and_changes_need_admin(
    client: TestClient, rt: Runtime, reader: dict[str, str], admin: dict[str, str]
) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    missing = client.get("/api/v1/feeds")
    _problem(missing, 401)
    assert missing.headers["www-authenticate"] == "Bearer"
    _problem(client.get("/api/v1/feeds", headers={"Authorization": "Bearer nwk_wrong"}), 401)
    _problem(client.get("/api/v1/feeds", headers={"Authorization": "Basic b3BzOm9wcw=="}), 401)

    assert client.get("/api/v1/feeds", headers=reader).json() == []
    assert client.get("/api/v1/me", headers=reader).json() == {
        "name": "analyst",
        "scope": "read",
        "via": "key",
    }
    refused = client.post("/api/v1/feeds", headers=reader, json={"url": "https://a.invalid/"})
    assert "admin scope" in _problem(refused, 403)["detail"]

    key_id = next(k.id for k in keys.list_keys(rt) if k.name == "analyst")
    keys.revoke_key(rt, key_id)
    _problem(client.get("/api/v1/feeds", headers=reader), 401)
    assert client.get("/api/v1/feeds", headers=admin).status_code == 200


def test_keys_are_stored_hashed(rt: Runtime) -> None:
    key_id, token = keys.create_key(rt, "ci", "read")
    from pipeline.io import store

    with store.session_scope(rt.store_url) as session:
        row = store.get_api_key(session, key_id)
        assert row is not None and token not in (row.token_hash, row.prefix)
        assert row.token_hash == keys.hash_token(token) and token.startswith(row.prefix)
    assert keys.verify_key(rt, token) is not None
    assert keys.verify_key(rt, token + "x") is None


def test_feeds_add_with_discovery_edit_pause_resume_remove(
    client: TestClient, admin: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "index.html").write_text(
        '<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml">'
        "</head><body>news</body></html>"
    )
    (tmp_path / "feed.xml").write_bytes(
        (Path(__file__).parents[2] / "fixtures/feeds/alpha.rss").read_bytes()
    )
    site = SiteServer(tmp_path).start()
    try:
        added = client.post(
            "/api/v1/feeds", headers=admin, json={"url": f"{site.base_url}/news/index.html"}
        )
        assert added.status_code == 201, added.text
        body = added.json()
        assert body["discovered_from"] == f"{site.base_url}/news/index.html"
        feed = body["feed"]
        assert feed["url"] == f"{site.base_url}/feed.xml" and feed["health"] == "ok"

        again = client.post("/api/v1/feeds", headers=admin, json={"url": feed["url"]})
        assert "already watches" in _problem(again, 409)["detail"]
        missing = client.post(
            "/api/v1/feeds", headers=admin, json={"url": f"{site.base_url}/nothing.xml"}
        )
        assert "404" in _problem(missing, 422)["detail"]
    finally:
        site.stop()

    feed_id = feed["id"]
    edited = client.patch(
        f"/api/v1/feeds/{feed_id}", headers=admin, json={"name": "Alpha", "interval": 300}
    )
    assert (edited.json()["name"], edited.json()["interval_seconds"]) == ("Alpha", 300)
    _problem(client.patch(f"/api/v1/feeds/{feed_id}", headers=admin, json={"interval": 5}), 422)
    paused = client.post(f"/api/v1/feeds/{feed_id}/pause", headers=admin).json()
    assert paused["health"] == "paused" and paused["enabled"] is False
    assert client.post(f"/api/v1/feeds/{feed_id}/resume", headers=admin).json()["enabled"]
    assert [f["id"] for f in client.get("/api/v1/feeds", headers=admin).json()] == [feed_id]
    assert client.delete(f"/api/v1/feeds/{feed_id}", headers=admin).status_code == 204
    _problem(client.get(f"/api/v1/feeds/{feed_id}", headers=admin), 404)


def test_rules_crud_test_backtest_rotate(
    client: TestClient, rt: Runtime, site: SiteServer, admin: dict[str, str]
) -> None:
    webhook = "https://hooks.example.invalid/newswatch"
    invalid = client.post(
        "/api/v1/rules",
        headers=admin,
        json={"name": "ceasefire", "query": "ceasefire AND", "webhook_url": webhook},
    )
    assert "position" in _problem(invalid, 422)["detail"]
    created = client.post(
        "/api/v1/rules",
        headers=admin,
        json={"name": "ceasefire", "query": "ceasefire", "webhook_url": webhook},
    )
    assert created.status_code == 201, created.text
    saved = created.json()
    secret, rule = saved["secret"], saved["rule"]
    assert secret.startswith("whsec_") and "secret" not in rule
    assert secret not in client.get("/api/v1/rules", headers=admin).text
    duplicate = client.post(
        "/api/v1/rules",
        headers=admin,
        json={"name": "ceasefire", "query": "truce", "webhook_url": webhook},
    )
    _problem(duplicate, 409)

    # Plain text: figures are extracted first, so a threshold matches.
    tried = client.post(
        "/api/v1/rules/test",
        headers=admin,
        json={
            "query": "evacuation AND killed:>=10",
            "title": "Floods",
            "text": "At least 12 people were killed. The evacuation of 3,000 residents began.",
        },
    ).json()
    assert tried["matched"] is True
    assert {hit["field"] for hit in tried["hits"]} >= {"killed"}

    feed = client.post(
        "/api/v1/feeds",
        headers=admin,
        json={"url": f"{site.base_url}/feeds/alpha.rss", "backfill": True},
    ).json()["feed"]
    poll_all(rt, feed["id"])
    live = client.post(
        "/api/v1/rules/test-articles", headers=admin, json={"query": "ceasefire", "last": 50}
    ).json()
    assert live["checked"] >= 1 and live["matched"] >= 1
    assert all("ceasefire" in h["term"] for a in live["articles"] for h in a["hits"][:1])

    rule_id = rule["id"]
    backtest = client.get(f"/api/v1/rules/{rule_id}/backtest?since=7d", headers=admin).json()
    assert backtest["matched"] == live["matched"] and backtest["checked"] == live["checked"]
    assert backtest["samples"][0]["hits"]
    _problem(client.get(f"/api/v1/rules/{rule_id}/backtest?since=7x", headers=admin), 422)

    patched = client.patch(
        f"/api/v1/rules/{rule_id}", headers=admin, json={"query": "ceasefire OR truce"}
    ).json()
    assert patched["rule"]["query"] == "ceasefire OR truce" and patched["secret"] is None
    rotated = client.post(f"/api/v1/rules/{rule_id}/rotate-secret", headers=admin, json={})
    assert rotated.json()["secret"] != secret and rotated.json()["rule"]["rotating_secret"]
    finished = client.post(
        f"/api/v1/rules/{rule_id}/rotate-secret", headers=admin, json={"finish": True}
    ).json()
    assert finished["secret"] is None and not finished["rule"]["rotating_secret"]
    assert client.post(f"/api/v1/rules/{rule_id}/disable", headers=admin).json()["enabled"] is False
    assert client.post(f"/api/v1/rules/{rule_id}/enable", headers=admin).json()["enabled"] is True
    assert client.delete(f"/api/v1/rules/{rule_id}", headers=admin).status_code == 204
    _problem(client.get(f"/api/v1/rules/{rule_id}", headers=admin), 404)


def test_articles_stories_alerts_counts_and_metrics(
    client: TestClient, rt: Runtime, site: SiteServer, admin: dict[str, str]
) -> None:
    from pipeline.stages.alert import generate_secret

    secret = generate_secret()
    receiver = WebhookReceiver(secret).start()
    try:
        client.post(
            "/api/v1/rules",
            headers=admin,
            json={
                "name": "landslide",
                "query": "landslide",
                "webhook_url": receiver.url,
                "secret": secret,
            },
        ).raise_for_status()
        alert_ids = []
        for name in ("courier.rss", "tribune.rss", "ledger.rss", "courier-update.rss"):
            feed = client.post(
                "/api/v1/feeds",
                headers=admin,
                json={"url": f"{site.base_url}/stories/{name}", "backfill": True},
            ).json()["feed"]
            alert_ids += poll_all(rt, feed["id"])
        assert len(alert_ids) == 2
        assert delivery.deliver_alert(alert_ids[0], rt) == "delivered"
    finally:
        receiver.stop()

    # Cursor pagination: pages of 2 cover every article once, newest first.
    seen: list[int] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/articles", headers=admin, params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)
    _problem(client.get("/api/v1/articles?cursor=bm9wZQ", headers=admin), 422)

    alert = client.get(f"/api/v1/alerts/{alert_ids[0]}", headers=admin).json()
    assert alert["status"] == "delivered" and alert["deliveries"][0]["status_code"] in (200, 204)
    assert alert["payload"]["data"]["rule"]["name"] == "landslide"
    article = client.get(f"/api/v1/articles/{alert['article']['id']}", headers=admin).json()
    assert article["text"] and article["extraction"]["figures"]
    assert alert_ids[0] in article["alert_ids"] and article["feeds"]

    story = client.get(f"/api/v1/stories/{article['story_id']}", headers=admin).json()
    assert len(story["versions"]) == 4 and story["versions"][0]["changes"] is None
    revised = [
        (r["category"], r["from"], r["to"])
        for version in story["versions"][1:]
        for r in version["changes"]["revised_figures"]
    ]
    assert ("killed", 23, 31) in revised
    assert client.get("/api/v1/stories", headers=admin).json()[0]["id"] == story["id"]

    listed = client.get("/api/v1/alerts?rule=landslide&status=pending", headers=admin).json()
    assert [a["id"] for a in listed["items"]] == [alert_ids[1]]
    replayed = client.post(f"/api/v1/alerts/{alert_ids[0]}/replay", headers=admin).json()
    assert replayed["status"] == "pending"
    assert client.get(f"/api/v1/alerts/{alert_ids[0]}", headers=admin).json()["status"] == (
        "pending"
    )
    _problem(client.post("/api/v1/alerts/999999/replay", headers=admin), 404)

    kept = client.get(f"/api/v1/articles/{alert['article']['id']}/evidence", headers=admin)
    assert kept.status_code == 200 and kept.headers["content-type"] == "application/warc"
    assert hashlib.sha256(kept.content).hexdigest() == kept.headers["x-evidence-sha256"]
    quiet = [
        i
        for i in seen
        if not client.get(f"/api/v1/articles/{i}", headers=admin).json()["alert_ids"]
    ]
    assert quiet, "the unrelated article raised no alert"
    _problem(client.get(f"/api/v1/articles/{quiet[0]}/evidence", headers=admin), 404)

    found = client.get(
        "/api/v1/articles/search", headers=admin, params={"q": "landslide", "limit": 2}
    ).json()
    assert len(found["items"]) == 2 and found["next_cursor"]
    assert all(item["hits"] for item in found["items"])
    more = client.get(
        "/api/v1/articles/search",
        headers=admin,
        params={"q": "landslide", "cursor": found["next_cursor"]},
    ).json()
    ids = [i["id"] for i in found["items"] + more["items"]]
    assert len(ids) == len(set(ids)) == 4
    _problem(client.get("/api/v1/articles/search?q=landslide%20AND", headers=admin), 422)

    exported = client.get("/api/v1/feeds/opml", headers=admin)
    assert exported.headers["content-type"].startswith("text/x-opml")
    assert f"{site.base_url}/stories/courier.rss".encode() in exported.content
    imported = client.post(
        "/api/v1/feeds/opml?check=false",
        headers={**admin, "Content-Type": "text/x-opml"},
        content=exported.content.replace(b"courier.rss", b"other.rss"),
    ).json()
    assert [f["url"] for f in imported["added"]] == [f"{site.base_url}/stories/other.rss"]
    assert len(imported["known"]) == 3 and imported["refused"] == []
    _problem(client.post("/api/v1/feeds/opml", headers=admin, content=b"<html/>"), 422)

    counts = client.get("/api/v1/counts", headers=admin).json()
    assert counts["feeds"]["ok"] == 5 and counts["alerts"] == {"pending": 2}
    assert counts["articles"]["processed"] == 5 and counts["delivery_attempts"]["ok"] == 1
    assert client.get("/api/v1/feed-events", headers=admin).json() == []

    scrape = client.get("/metrics")
    assert scrape.status_code == 200 and "text/plain" in scrape.headers["content-type"]
    text = scrape.text
    assert 'newswatch_feeds{health="ok"} 5.0' in text
    assert 'newswatch_alerts{status="pending"} 2.0' in text
    assert "newswatch_articles_processed_total 5.0" in text
    assert 'newswatch_queue_depth{queue="extract"}' in text


def test_errors_are_problem_details_never_tracebacks(
    client: TestClient, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    invalid = _problem(client.get("/api/v1/articles?limit=0", headers=admin), 422)
    assert invalid["errors"][0]["location"] == "query.limit"
    _problem(client.get("/api/v1/articles/0", headers=admin), 422)
    _problem(client.get("/api/v1/articles/2147483648", headers=admin), 422)
    _problem(client.get("/api/v1/articles/77", headers=admin), 404)
    _problem(client.get("/api/v1/nowhere", headers=admin), 404)
    nul = client.post("/api/v1/rules/test", headers=admin, json={"query": "a\x00", "text": "a"})
    _problem(nul, 422)
    broken = client.post("/api/v1/rules", headers=admin, content=b"{not json")
    _problem(broken, 422)

    from pipeline.services import browse

    def explode(*_: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(browse, "counts", explode)
    failed = _problem(client.get("/api/v1/counts", headers=admin), 500)
    assert "secret internals" not in failed["detail"]


def test_readyz_reports_the_store_and_the_broker(client: TestClient) -> None:
    answer = client.get("/readyz")
    body = answer.json()
    assert body["store"] == "ok"
    assert answer.status_code == (200 if body["ready"] else 503)


def test_a_key_needs_a_name_and_a_known_scope(rt: Runtime) -> None:
    from pipeline.errors import ConfigError, NotFoundError

    with pytest.raises(ConfigError, match="scope"):
        keys.create_key(rt, "ops", "root")
    with pytest.raises(ConfigError, match="name"):
        keys.create_key(rt, "  ", "read")
    with pytest.raises(NotFoundError, match="keys list"):
        keys.revoke_key(rt, 99)
    assert keys.list_keys(rt) == []
