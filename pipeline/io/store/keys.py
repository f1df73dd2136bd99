"""Queries on API keys: add, find by hash, list, revoke, note their use."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from pipeline.io.store.tables import ApiKey


def add_api_key(session: Session, name: str, scope: str, token_hash: str, prefix: str) -> ApiKey:
    key = ApiKey(name=name, scope=scope, token_hash=token_hash, prefix=prefix)
    session.add(key)
    session.flush()
    return key


def api_key_by_hash(session: Session, token_hash: str) -> ApiKey | None:
    return session.exec(select(ApiKey).where(col(ApiKey.token_hash) == token_hash)).first()


def get_api_key(session: Session, key_id: int) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).order_by(col(ApiKey.id))).all())


def touch_api_key(session: Session, key_id: int, when: datetime) -> None:
    session.execute(update(ApiKey).where(col(ApiKey.id) == key_id).values(last_used_at=when))
