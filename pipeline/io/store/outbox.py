"""Queries on the two outboxes (alerts; notifications and digests) and delivery attempts.

A row is claimed with a conditional UPDATE (pending and due -> sending), so two workers
never send the same row at once; a claim whose lease ran out is reopened by the relay.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from pipeline.io.store.engine import insert_ignore, insert_ignore_row
from pipeline.io.store.tables import Alert, DeliveryAttempt, Notification
from pipeline.model import OutboxStatus

Outbox = type[Alert] | type[Notification]


def get_outbox_row(session: Session, model: Outbox, row_id: int) -> Alert | Notification | None:
    return session.get(model, row_id)  # type: ignore[return-value]


def claim_outbox(
    session: Session, model: Outbox, row_id: int, now: datetime, lease: timedelta
) -> bool:
    """pending and due -> sending, for one worker only (alerts and notifications alike)."""
    result = session.execute(
        update(model)
        .where(
            col(model.id) == row_id,
            col(model.status) == OutboxStatus.PENDING,
            col(model.next_attempt_at) <= now,
        )
        .values(status=OutboxStatus.SENDING, claimed_until=now + lease)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def due_outbox_ids(
    session: Session, model: Outbox, now: datetime, limit: int, relay_lease: timedelta
) -> list[int]:
    """Rows the relay should (re)enqueue; sending claims whose lease ran out are reopened.

    Each returned row is leased for ``relay_lease``, so a row the relay enqueued a moment
    ago is not enqueued again until its task had time to run.
    """
    session.execute(
        update(model)
        .where(col(model.status) == OutboxStatus.SENDING, col(model.claimed_until) < now)
        .values(status=OutboxStatus.PENDING, claimed_until=None)
    )
    rows = session.exec(
        select(model.id)
        .where(
            col(model.status) == OutboxStatus.PENDING,
            col(model.next_attempt_at) <= now,
            (col(model.claimed_until).is_(None)) | (col(model.claimed_until) < now),
        )
        .order_by(col(model.next_attempt_at))
        .limit(limit)
    ).all()
    ids = [int(r) for r in rows if r is not None]
    if ids:
        session.execute(
            update(model).where(col(model.id).in_(ids)).values(claimed_until=now + relay_lease)
        )
    return ids


def record_attempt(
    session: Session,
    model: Outbox,
    row_id: int,
    attempted_at: datetime,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
) -> None:
    link = {"alert_id": row_id} if model is Alert else {"notification_id": row_id}
    session.add(
        DeliveryAttempt(
            **link,
            attempted_at=attempted_at,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
        )
    )


# --- alerts --------------------------------------------------------------------------------


def insert_alert(session: Session, values: dict[str, Any]) -> Alert | None:
    """The new alert row, or None when (rule, article) already has one."""
    return insert_ignore_row(session, Alert, values)


def get_alert(session: Session, alert_id: int) -> Alert | None:
    return session.get(Alert, alert_id)


def list_alerts(session: Session, status: str | None, limit: int) -> Sequence[Alert]:
    query = select(Alert).order_by(col(Alert.id).desc()).limit(limit)
    if status:
        query = query.where(Alert.status == status)
    return session.exec(query).all()


def count_alerts(session: Session, status: str | None) -> int:
    query = select(func.count(col(Alert.id)))
    if status:
        query = query.where(col(Alert.status) == status)
    return int(session.exec(query).one())


def delivery_attempts(session: Session, alert_id: int) -> list[DeliveryAttempt]:
    """Every attempt to deliver an alert and its channel messages, oldest first."""
    notification_ids = select(Notification.id).where(col(Notification.alert_id) == alert_id)
    query = (
        select(DeliveryAttempt)
        .where(
            (col(DeliveryAttempt.alert_id) == alert_id)
            | col(DeliveryAttempt.notification_id).in_(notification_ids)
        )
        .order_by(col(DeliveryAttempt.attempted_at), col(DeliveryAttempt.id))
    )
    return list(session.exec(query).all())


def alerts_with_status(session: Session, status: OutboxStatus) -> list[Alert]:
    query = select(Alert).where(col(Alert.status) == status).order_by(col(Alert.id))
    return list(session.exec(query).all())


def held_alerts(session: Session, rule_id: int, before: datetime | None = None) -> list[Alert]:
    """Alerts a digest rule holds for its next digest (created before ``before``, if given)."""
    query = select(Alert).where(
        col(Alert.rule_id) == rule_id, col(Alert.status) == OutboxStatus.HELD
    )
    if before is not None:
        query = query.where(col(Alert.created_at) < before)
    return list(session.exec(query.order_by(col(Alert.id))).all())


def story_alert_ids(session: Session, story_id: int) -> list[int]:
    rows = session.exec(
        select(Alert.id).where(col(Alert.story_id) == story_id).order_by(col(Alert.id))
    ).all()
    return [int(i) for i in rows if i is not None]


# --- notifications -------------------------------------------------------------------------


def add_notification(session: Session, notification: Notification) -> None:
    session.add(notification)


def insert_notification(session: Session, values: dict[str, Any]) -> int | None:
    """Insert unless its unique keys exist; the new row's id, or None when it existed."""
    if not insert_ignore(session, Notification, values):
        return None
    found = session.exec(
        select(Notification.id).where(col(Notification.message_id) == values["message_id"])
    ).one()
    return int(found)  # type: ignore[arg-type]


def notification_ids_for_alerts(session: Session, alert_ids: Sequence[int]) -> list[int]:
    if not alert_ids:
        return []
    rows = session.exec(
        select(Notification.id)
        .where(col(Notification.alert_id).in_(list(alert_ids)))
        .order_by(col(Notification.id))
    ).all()
    return [int(n) for n in rows if n is not None]
