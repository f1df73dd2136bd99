"""The stuck-article relay reads through the partial index on unprocessed articles, so its
cost follows the backlog, not the number of stored articles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event, text

from pipeline.clock import utcnow
from pipeline.io import store


def _relay_select(store_url: str) -> tuple[str, Any]:
    """The SELECT that stuck_article_ids runs, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    engine = store.get_engine(store_url)
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with store.session_scope(store_url) as session:
            store.stuck_article_ids(session, utcnow(), timedelta(minutes=5), 100)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert seen, "stuck_article_ids ran no SELECT"
    return seen[0]


def test_relay_query_uses_the_unprocessed_index(store_url: str) -> None:
    statement, params = _relay_select(store_url)
    engine = store.get_engine(store_url)
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            # An empty table is cheapest to scan: forbid that to see the index is usable.
            cursor.execute("SET enable_seqscan = off")
            cursor.execute(f"EXPLAIN {statement}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {statement}", params)
        plan = " ".join(str(row) for row in cursor.fetchall())
        cursor.close()
        conn.execute(text("SELECT 1"))
    assert "ix_articles_unprocessed" in plan, plan
