"""The catalog: watched feeds and alert rules (add, list, remove) and the sync of the
config files (config/feeds.yaml, config/rules.yaml) into the store."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pipeline.errors import ConfigError, NotFoundError
from pipeline.io import store
from pipeline.io.store import Feed, Rule
from pipeline.model import Channel, OutboxStatus, RuleMode
from pipeline.runtime import Runtime

log = logging.getLogger("newswatch")


# --- feeds ---------------------------------------------------------------------------------


def add_feed(rt: Runtime, url: str, name: str = "", interval: int | None = None) -> Feed:
    rt.http.guard.check_url(url)
    with store.session_scope(rt.store_url) as session:
        return store.add_feed(session, url, name, interval or rt.settings.default_poll_interval)


def list_feeds(rt: Runtime) -> list[Feed]:
    with store.session_scope(rt.store_url) as session:
        return store.list_feeds(session)


def resolve_feed(rt: Runtime, ref: str) -> Feed:
    with store.session_scope(rt.store_url) as session:
        return store.require_feed(session, ref)


def remove_feed(rt: Runtime, ref: str) -> Feed:
    with store.session_scope(rt.store_url) as session:
        feed = store.require_feed(session, ref)
        for rule in store.rules_scoped_to_feed(session, int(feed.id)):  # type: ignore[arg-type]
            # A rule scoped to a removed feed must not start matching every feed.
            rule.enabled, rule.updated_at = False, store.utcnow()
            session.add(rule)
            log.warning("rule disabled: its feed was removed", extra={"rule_id": rule.id})
        store.delete_feed(session, feed)
        return feed


# --- rules ---------------------------------------------------------------------------------


def add_rule(
    rt: Runtime,
    name: str,
    query: str,
    webhook_url: str,
    secret: str | None = None,
    feed: str | None = None,
    enabled: bool = True,
    mode: str = RuleMode.IMMEDIATE,
    channels: list[str] | None = None,
) -> Rule:
    """Validate and save a rule (insert or replace by name)."""
    # The query compiler and the transports are imported here, not at the top, so that
    # listing feeds or rules does not pay for them.
    from pipeline.io.channels import validate_target
    from pipeline.stages import alert as alert_stage
    from pipeline.stages.match import QueryError, compile_query

    if not name.strip():
        raise ConfigError("a rule needs a name")
    if mode not in tuple(RuleMode):
        raise ConfigError(f"rule {name!r}: mode must be one of {', '.join(RuleMode)}")
    targets = []
    for target in dict.fromkeys(channels or []):
        try:
            targets.append(validate_target(Channel.APPRISE, target))
        except ValueError as exc:
            raise ConfigError(f"rule {name!r}: {exc}") from exc
    try:
        compile_query(query)
    except QueryError as exc:
        raise ConfigError(f"rule {name!r}: {exc}") from exc
    rt.http.guard.check_url(webhook_url)
    default_secret = rt.settings.webhook_secret
    chosen = secret or (default_secret.get_secret_value() if default_secret else None)
    try:
        chosen = alert_stage.validate_secret(chosen) if chosen else None
    except ValueError as exc:
        raise ConfigError(f"rule {name!r}: {exc}") from exc
    with store.session_scope(rt.store_url) as session:
        feed_id = None
        if feed:
            found = store.find_feed(session, feed)
            if found is None:
                raise NotFoundError(f"rule {name!r}: no feed {feed!r}")
            feed_id = found.id
        rule = store.rule_by_name(session, name)
        if rule is None:
            new_secret = chosen or alert_stage.generate_secret()
            rule = Rule(name=name, query=query, webhook_url=webhook_url, secret=new_secret)
        elif chosen and chosen not in (rule.secret, *(rule.previous_secrets or [])):
            rule.secret = chosen  # an explicit new secret; otherwise the stored one stays
        if rule.mode != RuleMode.IMMEDIATE and mode == RuleMode.IMMEDIATE and rule.id is not None:
            # Leaving digest mode: alerts held for a digest are sent one by one instead.
            for held in store.held_alerts(session, rule.id):
                held.status, held.next_attempt_at = OutboxStatus.PENDING, store.utcnow()
                session.add(held)
        rule.query, rule.webhook_url = query, webhook_url
        rule.feed_id, rule.enabled, rule.updated_at = feed_id, enabled, store.utcnow()
        rule.mode, rule.channels = RuleMode(mode), targets
        session.add(rule)
        session.flush()
        return rule


def list_rules(rt: Runtime) -> list[Rule]:
    with store.session_scope(rt.store_url) as session:
        return store.list_rules(session)


def remove_rule(rt: Runtime, ref: str) -> Rule:
    with store.session_scope(rt.store_url) as session:
        rule = store.require_rule(session, ref)
        store.delete_rule(session, rule)
        return rule


# --- the config files ----------------------------------------------------------------------


@dataclass(frozen=True)
class SyncReport:
    feeds: int
    rules: int


def sync_config_files(rt: Runtime) -> SyncReport:
    """Add or update the feeds and rules the config files declare (never deletes).

    Both files are read and validated before anything is written, so a mistake in either
    changes nothing.
    """
    from pipeline.io.config_files import load_feeds_file, load_rules_file

    feeds = load_feeds_file(rt.settings.feeds_file)
    rules = load_rules_file(rt.settings.rules_file)
    for feed in feeds:
        add_feed(rt, feed.url, feed.name, feed.interval)
    for rule in rules:
        add_rule(
            rt,
            rule.name,
            rule.query,
            rule.webhook,
            rule.secret,
            rule.feed,
            rule.enabled,
            rule.mode,
            rule.notify,
        )
    return SyncReport(feeds=len(feeds), rules=len(rules))
