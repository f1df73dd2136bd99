"""Queries on evidence: the WARC file kept of an alerting article's page."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from pipeline.io.store.engine import insert_ignore
from pipeline.io.store.tables import Evidence


def add_evidence(
    session: Session,
    article_id: int,
    warc: bytes,
    sha256: str,
    captured_at: datetime,
    now: datetime,
) -> bool:
    """Keep an article's page; an article keeps its first evidence (True when stored)."""
    return insert_ignore(
        session,
        Evidence,
        {
            "article_id": article_id,
            "sha256": sha256,
            "size": len(warc),
            "warc": warc,
            "captured_at": captured_at,
            "created_at": now,
        },
    )


def get_evidence(session: Session, article_id: int) -> Evidence | None:
    return session.exec(select(Evidence).where(col(Evidence.article_id) == article_id)).first()


def delete_evidence_before(session: Session, cutoff: datetime, limit: int) -> int:
    """Drop up to ``limit`` evidence files stored before ``cutoff``, oldest first."""
    ids = session.exec(
        select(Evidence.id)
        .where(col(Evidence.created_at) < cutoff)
        .order_by(col(Evidence.created_at))
        .limit(limit)
    ).all()
    if ids:
        session.execute(delete(Evidence).where(col(Evidence.id).in_(list(ids))))
    return len(ids)
