"""The store on real SQLite and PostgreSQL: migrations, unique keys, claims."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlmodel import select

from pipeline.errors import ConflictError
from pipeline.io import store
from pipeline.io.store import Alert, Article, Feed, FeedArticle, Rule, session_scope, utcnow
from pipeline.io.store.engine import SQLITE_BUSY_TIMEOUT_MS

RELAY_LEASE = timedelta(seconds=60)


def _article(url: str) -> dict[str, object]:
    return {"canonical_url": url, "title": "t", "fetch_status": "pending", "created_at": utcnow()}


def _new_article(s: store.Session, url: str) -> int:
    article = Article(**_article(url))  # type: ignore[arg-type]
    s.add(article)
    s.flush()
    return int(article.id)  # type: ignore[arg-type]


def test_migration_creates_every_table(store_url: str) -> None:
    tables = set(inspect(store.get_engine(store_url)).get_table_names())
    assert {
        "feeds",
        "articles",
        "feed_articles",
        "rules",
        "alerts",
        "delivery_attempts",
        "alembic_version",
    } <= tables


def test_one_article_per_canonical_url_linked_to_both_feeds(store_url: str) -> None:
    url = "http://x.example/story"
    with session_scope(store_url) as s:
        a = store.add_feed(s, "http://a.example/rss", "a", 60)
        b = store.add_feed(s, "http://b.example/rss", "b", 60)
        first = store.store_feed_entries(s, int(a.id), [("g1", _article(url))])  # type: ignore[arg-type]
        second = store.store_feed_entries(s, int(b.id), [("g2", _article(url))])  # type: ignore[arg-type]
        again = store.store_feed_entries(s, int(b.id), [("g2", _article(url))])  # type: ignore[arg-type]
    assert len(first.new_article_ids) == 1 and first.new_links == 1
    assert second.new_article_ids == [] and second.new_links == 1  # known, newly listed by b
    assert again.new_article_ids == [] and again.new_links == 0
    with session_scope(store_url) as s:
        assert len(s.exec(select(Article)).all()) == 1
        assert {f.name for f in store.article_feeds(s, first.new_article_ids[0])} == {"a", "b"}


def test_an_entry_listed_before_is_not_new_even_at_a_new_address(store_url: str) -> None:
    with session_scope(store_url) as s:
        f = store.add_feed(s, "http://a.example/rss", "a", 60)
        feed_id = int(f.id)  # type: ignore[arg-type]
        entries = [(f"g{n}", _article(f"http://x.example/{n}")) for n in range(3)]
        repeated = (None, _article("http://x.example/0"))  # the same page listed twice
        first = store.store_feed_entries(s, feed_id, [*entries, repeated])
    assert len(first.new_article_ids) == 3 and first.new_links == 3
    with session_scope(store_url) as s:
        moved = ("g1", _article("http://x.example/1-moved"))
        fresh = (None, _article("http://x.example/3"))
        later = store.store_feed_entries(s, feed_id, [entries[0], moved, fresh])
    assert len(later.new_article_ids) == 1 and later.new_links == 1
    with session_scope(store_url) as s:
        assert len(s.exec(select(Article)).all()) == 4
        assert len(s.exec(select(FeedArticle)).all()) == 4


def test_one_alert_per_rule_and_article(store_url: str) -> None:
    with session_scope(store_url) as s:
        article_id = _new_article(s, "http://x.example/1")
        rule = Rule(name="r", query="q", webhook_url="http://h/", secret="whsec_x")
        s.add(rule)
        s.flush()
        values = {
            "rule_id": rule.id,
            "article_id": article_id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": utcnow(),
            "payload": "{}",
            "created_at": utcnow(),
        }
        assert store.insert_ignore(s, Alert, {**values, "webhook_id": "msg_a"})
        assert not store.insert_ignore(s, Alert, {**values, "webhook_id": "msg_b"})
    with pytest.raises(ConflictError), session_scope(store_url) as s:
        s.add(Alert(rule_id=rule.id, article_id=article_id, webhook_id="msg_c", payload="{}"))  # type: ignore[arg-type]


def test_due_feeds_are_claimed_once_even_by_concurrent_ticks(store_url: str) -> None:
    with session_scope(store_url) as s:
        for n in range(20):
            f = store.add_feed(s, f"http://f{n}.example/rss", "", 60)
            f.next_poll_at = utcnow() - timedelta(seconds=5)
    claimed: list[int] = []
    lock = threading.Lock()

    def tick() -> None:
        with session_scope(store_url) as s:
            ids = store.claim_due_feeds(s, utcnow(), timedelta(minutes=10), 50)
        with lock:
            claimed.extend(ids)

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 20
    with session_scope(store_url) as s:
        assert store.claim_due_feeds(s, utcnow(), timedelta(minutes=10), 50) == []
        assert all(f.next_poll_at > utcnow() for f in s.exec(select(Feed)).all())


def test_alert_claim_and_lease_expiry(store_url: str) -> None:
    now = utcnow()
    with session_scope(store_url) as s:
        article_id = _new_article(s, "http://x.example/2")
        rule = Rule(name="r2", query="q", webhook_url="http://h/", secret="whsec_x")
        s.add(rule)
        s.flush()
        alert = Alert(
            rule_id=rule.id,
            article_id=article_id,
            webhook_id="msg_z",
            payload="{}",  # type: ignore[arg-type]
            next_attempt_at=now,
        )
        s.add(alert)
        s.flush()
        alert_id = alert.id
    with session_scope(store_url) as s:
        assert store.claim_outbox(s, Alert, alert_id, now, timedelta(seconds=30))  # type: ignore[arg-type]
    with session_scope(store_url) as s:
        assert not store.claim_outbox(s, Alert, alert_id, now, timedelta(seconds=30))  # type: ignore[arg-type]
        assert store.due_outbox_ids(s, Alert, now, 10, RELAY_LEASE) == []
    with session_scope(store_url) as s:  # the worker died: after the lease the relay reopens it
        assert store.due_outbox_ids(s, Alert, now + timedelta(seconds=31), 10, RELAY_LEASE) == [
            alert_id
        ]


def test_feed_guid_is_unique_per_feed(store_url: str) -> None:
    with session_scope(store_url) as s:
        f = store.add_feed(s, "http://g.example/rss", "", 60)
        entries = [
            ("same", _article("http://x.example/a1")),
            ("same", _article("http://x.example/a2")),
        ]
        stored = store.store_feed_entries(s, int(f.id), entries)  # type: ignore[arg-type]
    assert len(stored.new_article_ids) == 1  # the feed's second entry with that guid is skipped
    with session_scope(store_url) as s:
        links = s.exec(select(FeedArticle)).all()
        assert len(links) == 1 and links[0].guid == "same"


def test_sqlite_uses_wal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'wal.db'}"
    with store.get_engine(url).connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_TIMEOUT_MS
    store.dispose_all()


def test_migrations_match_the_models(store_url: str) -> None:
    from alembic import command

    from pipeline.io.store.migrate import alembic_config

    command.check(alembic_config(store_url))  # raises if a model change lacks a migration


def test_downgrade_to_the_first_schema_and_back(store_url: str) -> None:
    from alembic import command

    from pipeline.io.store.migrate import alembic_config, upgrade_database

    command.downgrade(alembic_config(store_url), "0001")
    upgrade_database(store_url)
    assert "notifications" in set(inspect(store.get_engine(store_url)).get_table_names())


def test_head_revision_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    from pipeline.io.store.migrate import HEAD_REVISION, alembic_config

    assert ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() == (
        HEAD_REVISION
    )


def test_schema_check_sees_missing_current_and_behind_stores(tmp_path: Path) -> None:
    from alembic import command

    from pipeline.io.store.migrate import alembic_config, ensure_schema, schema_is_current

    url = f"sqlite:///{tmp_path / 'nested' / 'fresh.db'}"
    assert not schema_is_current(url)  # no file yet: nothing is created by the check
    assert not (tmp_path / "nested").exists()
    ensure_schema(url)
    assert schema_is_current(url)
    command.downgrade(alembic_config(url), "0004")
    assert not schema_is_current(url)
    ensure_schema(url)
    assert schema_is_current(url)
    store.dispose_all()
