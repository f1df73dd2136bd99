"""The operator: feed-health events, recorded and delivered through the same signed outbox
as alerts, to the operator's webhook and channels from the settings."""

from __future__ import annotations

from datetime import datetime

from pipeline.io import store
from pipeline.io.store import Feed, Notification, Session
from pipeline.model import Channel, FeedEventKind, FeedHealth, FeedRef, OutboxStatus
from pipeline.runtime import Runtime
from pipeline.stages import alert as alert_stage


def announce_feed_event(
    rt: Runtime,
    session: Session,
    feed: Feed,
    kind: FeedEventKind,
    previous: FeedHealth,
    now: datetime,
) -> list[int]:
    """Record a feed's change of health and queue one message per operator destination,
    in the caller's transaction; returns the notification ids to deliver after commit."""
    health = FeedHealth(feed.health)
    feed_id = int(feed.id)  # type: ignore[arg-type]
    event = store.record_feed_event(
        session, feed_id, kind, health, previous, feed.health_reason, now
    )
    settings = rt.settings
    targets: list[tuple[Channel, str]] = []
    if settings.operator_webhook_url:
        targets.append((Channel.WEBHOOK, settings.operator_webhook_url))
    targets += [(Channel.APPRISE, target) for target in settings.operator_channels]
    if not targets:
        return []
    event_id = alert_stage.new_event_id()
    payload = alert_stage.build_feed_event_payload(
        event_id=event_id,
        kind=kind,
        feed=FeedRef(feed_id, feed.name, feed.url),
        health=health,
        previous=previous,
        reason=feed.health_reason,
        since=now,
        consecutive_failures=feed.error_count,
        last_new_entry_at=feed.last_new_entry_at,
    )
    title, text = alert_stage.feed_event_text(payload)
    rows = []
    for index, (channel, target) in enumerate(targets):
        webhook = channel == Channel.WEBHOOK
        row = Notification(
            rule_id=None,
            feed_event_id=event.id,
            channel=channel,
            target=target,
            message_id=event_id if index == 0 else f"{event_id}_c{index}",
            title=title,
            body=alert_stage.encode_payload(payload) if webhook else text,
            status=OutboxStatus.PENDING,
            next_attempt_at=now,
            created_at=now,
        )
        store.add_notification(session, row)
        rows.append(row)
    session.flush()
    return [int(row.id) for row in rows]  # type: ignore[arg-type]


def operator_secrets(rt: Runtime) -> list[str]:
    """The secret that signs operator webhooks (settings refuse a URL without one)."""
    secret = rt.settings.operator_webhook_secret
    return [secret.get_secret_value()] if secret else []
