"""Digests: for hourly/daily rules, one message per channel when a period closes."""

from __future__ import annotations

import json
from datetime import datetime

from pipeline.io import store
from pipeline.io.store import Alert, Rule, Session
from pipeline.model import Channel, OutboxStatus
from pipeline.runtime import Runtime
from pipeline.stages import alert as alert_stage
from pipeline.stages.delivery import build_digest, digest_text, digest_window


def send_digests(rt: Runtime) -> list[int]:
    """For every digest rule whose period has closed: one message per channel.

    The held alerts go into the digest and are marked digested only by the run that
    created the period's digest (unique keys make a second run or a second beat harmless);
    an alert that committed after its period's digest was built waits for the next one.
    """
    now = rt.now()
    created: list[int] = []
    with store.session_scope(rt.store_url) as session:
        for rule in store.digest_rules(session):
            window = digest_window(rule.mode, now)
            if window is None:
                continue
            start, end = window
            held = store.held_alerts(session, int(rule.id), before=end)  # type: ignore[arg-type]
            if held:
                created += _create_digest(session, rule, held, start, end, now)
    return created


def _create_digest(
    session: Session,
    rule: Rule,
    held: list[Alert],
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[int]:
    rule_info = {"id": rule.id, "name": rule.name, "query": rule.query}
    digest = build_digest(rule_info, [json.loads(a.payload) for a in held], start, end)
    title, text = digest_text(digest)
    message_id = digest["data"]["webhook_id"]
    targets = [
        (Channel.WEBHOOK, rule.webhook_url, alert_stage.encode_payload(digest), ""),
        *((Channel.APPRISE, target, text, title) for target in (rule.channels or [])),
    ]
    created: list[int] = []
    for index, (channel, target, content, subject) in enumerate(targets):
        values = {
            "rule_id": rule.id,
            "period_start": start,
            "period_end": end,
            "channel": channel,
            "target": target,
            "message_id": message_id if index == 0 else f"{message_id}_c{index}",
            "title": subject,
            "body": content,
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        note_id = store.insert_notification(session, values)
        if note_id is None:
            if index == 0:
                return []  # this period was already sent; late alerts wait for the next
            continue
        created.append(note_id)
    for alert in held:
        alert.status = OutboxStatus.DIGESTED
        session.add(alert)
    return created
