"""Queries on alert rules: find, list, the enabled set and its version."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from pipeline.errors import NotFoundError
from pipeline.io.store.tables import Rule
from pipeline.model import Origin, RuleMode


def find_rule(session: Session, ref: str) -> Rule | None:
    """A rule by id or exact name."""
    if ref.isdigit():
        return session.get(Rule, int(ref))
    return session.exec(select(Rule).where(Rule.name == ref)).first()


def require_rule(session: Session, ref: str) -> Rule:
    rule = find_rule(session, ref)
    if rule is None:
        raise NotFoundError(f"no rule {ref!r} (see `newswatch rules list`)")
    return rule


def rule_by_name(session: Session, name: str) -> Rule | None:
    return session.exec(select(Rule).where(col(Rule.name) == name)).first()


def get_rule(session: Session, rule_id: int) -> Rule | None:
    return session.get(Rule, rule_id)


def list_rules(session: Session) -> list[Rule]:
    return list(session.exec(select(Rule).order_by(col(Rule.id))).all())


def enabled_rules(session: Session) -> list[Rule]:
    query = select(Rule).where(col(Rule.enabled).is_(True)).order_by(col(Rule.id))
    return list(session.exec(query).all())


def rules_scoped_to_feed(session: Session, feed_id: int) -> list[Rule]:
    return list(session.exec(select(Rule).where(col(Rule.feed_id) == feed_id)).all())


def digest_rules(session: Session) -> list[Rule]:
    """Rules that send one digest per period instead of immediate alerts."""
    query = select(Rule).where(col(Rule.mode) != RuleMode.IMMEDIATE).order_by(col(Rule.id))
    return list(session.exec(query).all())


def rules_version(session: Session) -> tuple[int, str]:
    """Changes whenever a rule is added, removed or edited (the matcher cache key)."""
    count, latest = session.exec(select(func.count(col(Rule.id)), func.max(Rule.updated_at))).one()
    return int(count), str(latest)


def rules_of_origin(session: Session, origin: Origin) -> list[Rule]:
    return list(
        session.exec(select(Rule).where(col(Rule.origin) == origin).order_by(col(Rule.id))).all()
    )


def delete_rule(session: Session, rule: Rule) -> None:
    session.delete(rule)
