"""Delivery: send one outbox row (an alert, a channel message or a digest) and record the
attempt; the relay that re-sends due rows; replay; the webhook endpoint's health and the
rule's signing secrets.

Every attempt is recorded. The retry schedule lives in the row (``next_attempt_at``), never
in a long Celery countdown, and the relay picks up whatever is due, so a lost task message
delays a delivery but never drops it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from pipeline import observe
from pipeline.errors import ConfigError, NotFoundError
from pipeline.io import store
from pipeline.io.channels import OutgoingMessage, SendResult, get_transport
from pipeline.io.store import Alert, Notification, Rule
from pipeline.model import AttemptVerdict, Channel, OutboxStatus
from pipeline.runtime import Runtime
from pipeline.services.operator import operator_secrets
from pipeline.stages import alert as alert_stage
from pipeline.stages.delivery import AttemptOutcome, classify_attempt

log = logging.getLogger("newswatch")

# What deliver_* return for a row that no longer exists (its rule or feed was removed).
MISSING = "missing"


def deliver_alert(alert_id: int, rt: Runtime) -> str:
    """Claim, sign, POST and record one attempt. Returns the alert's status afterwards."""
    return _deliver(Alert, alert_id, rt)


def deliver_notification(notification_id: int, rt: Runtime) -> str:
    """The same for a channel message or a digest (same policy and records)."""
    return _deliver(Notification, notification_id, rt)


def _outgoing(row: Alert | Notification) -> tuple[Channel, str, OutgoingMessage]:
    """(channel, target placeholder, message) of an outbox row; alerts go to the webhook."""
    if isinstance(row, Alert):
        message = OutgoingMessage(webhook_id=row.webhook_id, body=row.payload, title="", text="")
        return Channel.WEBHOOK, "", message
    message = OutgoingMessage(
        webhook_id=row.message_id, body=row.body, title=row.title, text=row.body
    )
    return Channel(row.channel), row.target, message


def _deliver(model: type[Alert] | type[Notification], row_id: int, rt: Runtime) -> str:
    """One attempt for one outbox row: claim, send through its transport, record, decide."""
    now = rt.now()
    lease = timedelta(seconds=rt.settings.claim_lease)
    with store.session_scope(rt.store_url) as session:
        if not store.claim_outbox(session, model, row_id, now, lease):
            found = store.get_outbox_row(session, model, row_id)
            return found.status if found else MISSING
        row = store.get_outbox_row(session, model, row_id)
        if row is None:
            return MISSING
        rule = store.get_rule(session, row.rule_id) if row.rule_id is not None else None
        if row.rule_id is not None and rule is None:
            return MISSING
        channel, target, message = _outgoing(row)
        webhook = channel == Channel.WEBHOOK
        if rule is None:  # an operator message (feed health): signed with the operator's key
            secrets = operator_secrets(rt)
            disabled = False
        else:
            target = target or rule.webhook_url
            secrets = [rule.secret, *(rule.previous_secrets or [])]
            disabled = webhook and rule.disabled_at is not None

    if disabled:
        result = SendResult(
            None, "the rule's webhook endpoint is disabled", None, 0, permanent=True
        )
    else:
        result = get_transport(channel).send(
            target, secrets, message, rt.http, rt.settings.webhook_timeout
        )
    finished = rt.now()

    with store.session_scope(rt.store_url) as session:
        row = store.get_outbox_row(session, model, row_id)
        if row is None:
            return MISSING
        rule = store.get_rule(session, row.rule_id) if row.rule_id is not None else None
        store.record_attempt(
            session, model, row_id, finished, result.status_code, result.error, result.duration_ms
        )
        if row.status != OutboxStatus.SENDING:
            # Replayed or reopened while this attempt ran: keep the record, not the verdict.
            return row.status
        row.attempts += 1
        row.claimed_until = None
        outcome = classify_attempt(
            finished,
            row.attempts,
            result.status_code,
            result.error,
            result.retry_after,
            permanent=result.permanent,
        )
        if outcome.status == AttemptVerdict.DELIVERED:
            row.status, row.delivered_at, row.last_error = OutboxStatus.DELIVERED, finished, None
            if isinstance(row, Alert):
                latency = (finished - row.created_at).total_seconds()
                observe.observe("delivery_latency_seconds", max(latency, 0.0))
        else:
            row.last_error = (outcome.error or "")[:2000]
            if outcome.next_attempt_at is None:
                row.status = OutboxStatus.DEAD
            else:
                row.status, row.next_attempt_at = OutboxStatus.PENDING, outcome.next_attempt_at
        if webhook and not disabled and rule is not None:
            _record_endpoint_health(rule, outcome, finished)
            session.add(rule)
        session.add(row)
        observe.count("deliveries", outbox=model.__tablename__, status=str(row.status))
        log.info(
            "delivery attempt",
            extra={
                "outbox": model.__tablename__,
                "row_id": row_id,
                "status_code": result.status_code,
                "outcome": row.status,
            },
        )
        return row.status


def _record_endpoint_health(rule: Rule, outcome: AttemptOutcome, when: datetime) -> None:
    """Consecutive failures of the rule's webhook endpoint; a 410 switches it off."""
    if outcome.status == AttemptVerdict.DELIVERED:
        rule.consecutive_failures = 0
        return
    rule.consecutive_failures += 1
    if outcome.disable_endpoint and rule.disabled_at is None:
        rule.disabled_at, rule.disabled_reason = when, outcome.error
        log.error("webhook endpoint disabled", extra={"rule_id": rule.id, "reason": outcome.error})


def relay_due_alerts(rt: Runtime) -> list[int]:
    """Outbox relay: ids of alerts due for a (re)send, including ones whose task was lost."""
    return _due(rt, Alert)


def relay_due_notifications(rt: Runtime) -> list[int]:
    return _due(rt, Notification)


def _due(rt: Runtime, model: type[Alert] | type[Notification]) -> list[int]:
    lease = timedelta(seconds=rt.settings.relay_lease)
    with store.session_scope(rt.store_url) as session:
        return store.due_outbox_ids(session, model, rt.now(), rt.settings.alerts_per_tick, lease)


def replay_alerts(rt: Runtime, alert_ids: list[int] | None = None) -> list[int]:
    """Send dead-lettered (or any given) alerts again, with the same webhook-id.

    The attempt count and schedule start over; the relay picks them up at its next tick.
    """
    now = rt.now()
    with store.session_scope(rt.store_url) as session:
        if alert_ids is None:
            rows = store.alerts_with_status(session, OutboxStatus.DEAD)
        else:
            rows = []
            for alert_id in alert_ids:
                alert = store.get_alert(session, alert_id)
                if alert is None:
                    raise NotFoundError(
                        f"no alert with id {alert_id} (see `newswatch alerts list`)"
                    )
                rows.append(alert)
        for alert in rows:
            alert.status, alert.attempts, alert.next_attempt_at = OutboxStatus.PENDING, 0, now
            alert.claimed_until = None
            session.add(alert)
        return [int(a.id) for a in rows]  # type: ignore[arg-type]


def rotate_secret(rt: Runtime, ref: str, secret: str | None = None, finish: bool = False) -> Rule:
    """Start a secret rotation (new primary, old still signed) or finish it (drop old ones)."""
    with store.session_scope(rt.store_url) as session:
        rule = store.require_rule(session, ref)
        if finish:
            rule.previous_secrets = []
        else:
            try:
                new = (
                    alert_stage.validate_secret(secret) if secret else alert_stage.generate_secret()
                )
            except ValueError as exc:
                raise ConfigError(f"rule {ref!r}: {exc}") from exc
            rule.previous_secrets = [rule.secret, *(rule.previous_secrets or [])][:3]
            rule.secret = new
        rule.updated_at = store.utcnow()
        session.add(rule)
        return rule


def enable_endpoint(rt: Runtime, ref: str) -> Rule:
    """Switch a disabled webhook endpoint back on (after a 410, once the receiver is fixed)."""
    with store.session_scope(rt.store_url) as session:
        rule = store.require_rule(session, ref)
        rule.disabled_at, rule.disabled_reason, rule.consecutive_failures = None, None, 0
        session.add(rule)
        return rule
