"""The store: the only place that builds queries.

``tables`` declares the tables, ``engine`` opens engines and transactions, ``migrate`` runs
the schema migrations, and one module per table group holds the named queries that the
services call (``feeds``, ``articles``, ``stories``, ``rules``, ``outbox``). Everything a
service needs is re-exported here, so a service writes ``store.claim_due_feeds(...)`` and
never imports sqlmodel itself (``Session`` is re-exported for type hints).
"""

from __future__ import annotations

from sqlmodel import Session

from pipeline.io.store.articles import (
    article_feeds,
    article_for_guid,
    count_processed_articles,
    get_article,
    link_feed_article,
    processed_article_ids,
    story_articles,
    stuck_article_ids,
    upsert_article,
)
from pipeline.io.store.engine import dispose_all, get_engine, insert_ignore, session_scope
from pipeline.io.store.feeds import (
    add_feed,
    claim_due_feeds,
    delete_feed,
    find_feed,
    get_feed,
    list_feeds,
    require_feed,
)
from pipeline.io.store.outbox import (
    add_notification,
    alerts_with_status,
    claim_outbox,
    due_outbox_ids,
    get_alert,
    get_outbox_row,
    held_alerts,
    insert_alert,
    insert_notification,
    list_alerts,
    notification_ids_for_alerts,
    record_attempt,
    story_alert_ids,
)
from pipeline.io.store.rules import (
    delete_rule,
    digest_rules,
    enabled_rules,
    find_rule,
    get_rule,
    list_rules,
    require_rule,
    rule_by_name,
    rules_scoped_to_feed,
    rules_version,
)
from pipeline.io.store.stories import (
    add_story_article,
    create_story,
    lock_story_assignment,
    recent_stories,
    story_alert_state,
    story_candidates,
)
from pipeline.io.store.tables import (
    Alert,
    Article,
    DeliveryAttempt,
    Feed,
    FeedArticle,
    Notification,
    Rule,
    Story,
    StoryAlert,
    StoryBand,
    utcnow,
)

__all__ = [
    "Alert",
    "Article",
    "DeliveryAttempt",
    "Feed",
    "FeedArticle",
    "Notification",
    "Rule",
    "Session",
    "Story",
    "StoryAlert",
    "StoryBand",
    "add_feed",
    "add_notification",
    "add_story_article",
    "alerts_with_status",
    "article_feeds",
    "article_for_guid",
    "claim_due_feeds",
    "claim_outbox",
    "count_processed_articles",
    "create_story",
    "delete_feed",
    "delete_rule",
    "digest_rules",
    "dispose_all",
    "due_outbox_ids",
    "enabled_rules",
    "find_feed",
    "find_rule",
    "get_alert",
    "get_article",
    "get_engine",
    "get_feed",
    "get_outbox_row",
    "get_rule",
    "held_alerts",
    "insert_alert",
    "insert_ignore",
    "insert_notification",
    "link_feed_article",
    "list_alerts",
    "list_feeds",
    "list_rules",
    "lock_story_assignment",
    "notification_ids_for_alerts",
    "processed_article_ids",
    "recent_stories",
    "record_attempt",
    "require_feed",
    "require_rule",
    "rule_by_name",
    "rules_scoped_to_feed",
    "rules_version",
    "session_scope",
    "story_alert_ids",
    "story_alert_state",
    "story_articles",
    "story_candidates",
    "stuck_article_ids",
    "upsert_article",
    "utcnow",
]
