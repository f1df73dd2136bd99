"""The catalog: watched feeds and alert rules (add, list, remove) and the sync of the
config files (config/feeds.yaml, config/rules.yaml) into the store."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import ConfigError, ConflictError, FetchError, NotFoundError
from pipeline.io import store
from pipeline.io.store import Feed, Rule
from pipeline.model import Channel, FeedEventKind, FeedHealth, Origin, OutboxStatus, RuleMode
from pipeline.runtime import Runtime

if TYPE_CHECKING:
    from pipeline.io.config_files import FeedSpec, RuleSpec
    from pipeline.io.http import FetchResult

log = logging.getLogger("newswatch")


# --- feeds ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedCheck:
    """What one GET of a URL a user wants to watch found."""

    url: str  # the feed's URL: the one given, or the feed a web page links to
    title: str
    entries: int
    discovered_from: str | None = None  # the page the feed link was found on
    alternatives: tuple[str, ...] = ()  # other feeds that page links to


def check_feed(rt: Runtime, url: str) -> FeedCheck:
    """GET ``url`` once: a feed is accepted; a web page is searched for the feeds it links
    to; a 404, an unreachable host or a page with no feed link is a ConfigError."""
    from pipeline.stages.discover import feed_links
    from pipeline.stages.parse import parse_feed

    response = _get_for_check(rt, url)
    try:
        parsed = parse_feed(response.body, response.headers, response.url)
    except ValueError:
        parsed = None
    if parsed is not None and (parsed.entries or not parsed.problem):
        return FeedCheck(url=url, title=parsed.title, entries=len(parsed.entries))
    links = feed_links(response.body, response.url)
    if not links:
        raise ConfigError(
            f"{url} is not a feed (RSS, Atom or JSON Feed) and links to none; "
            "give the feed's own URL (or add it anyway with --no-check)"
        )
    for link in links:
        found = _get_for_check(rt, link.url)
        try:
            parsed = parse_feed(found.body, found.headers, found.url)
        except ValueError:
            continue
        others = tuple(other.url for other in links if other.url != link.url)
        return FeedCheck(link.url, parsed.title, len(parsed.entries), url, others)
    raise ConfigError(f"{url} links to feeds, but none of them answered with a feed")


def _get_for_check(rt: Runtime, url: str) -> FetchResult:
    accept = "application/rss+xml, application/atom+xml, application/feed+json, text/html;q=0.8"
    try:
        return rt.http.get(url, {"Accept": accept})
    except FetchError as exc:
        raise ConfigError(f"cannot watch {url}: {exc} (add it anyway with --no-check)") from exc


def add_feed(
    rt: Runtime,
    url: str,
    name: str = "",
    interval: int | None = None,
    *,
    update: bool = False,
    backfill: bool = False,
) -> Feed:
    """Watch a feed by hand. A URL already watched is refused unless ``update``."""
    rt.http.guard.check_url(url)
    with store.session_scope(rt.store_url) as session:
        existing = store.find_feed_by_url(session, url)
        if existing is not None:
            if not update:
                raise ConflictError(
                    f"feed {existing.id} already watches {url} "
                    "(use --update to change its name or interval)"
                )
            _refuse_config_owned(existing, "feed", url, rt.settings.feeds_file)
        return store.add_feed(
            session,
            url,
            name,
            interval or rt.settings.default_poll_interval,
            origin=Origin.USER,
            backfill=backfill,
        )


def edit_feed(rt: Runtime, ref: str, name: str | None = None, interval: int | None = None) -> Feed:
    with store.session_scope(rt.store_url) as session:
        feed = store.require_feed(session, ref)
        _refuse_config_owned(feed, "feed", ref, rt.settings.feeds_file)
        if name is not None:
            feed.name = name
        if interval is not None:
            if interval < 30:
                raise ConfigError("a feed's interval is at least 30 seconds")
            feed.interval_seconds = interval
        session.add(feed)
        return feed


def pause_feed(rt: Runtime, ref: str) -> Feed:
    """Stop polling a feed (its articles and alerts stay); no health events while paused."""
    return _set_feed_enabled(rt, ref, False)


def resume_feed(rt: Runtime, ref: str) -> Feed:
    """Poll a paused feed again, at once."""
    return _set_feed_enabled(rt, ref, True)


def _set_feed_enabled(rt: Runtime, ref: str, enabled: bool) -> Feed:
    with store.session_scope(rt.store_url) as session:
        feed = store.require_feed(session, ref)
        feed.enabled = enabled
        if enabled:
            feed.next_poll_at = rt.now()
        session.add(feed)
        return feed


def list_feeds(rt: Runtime) -> list[Feed]:
    with store.session_scope(rt.store_url) as session:
        return store.list_feeds(session)


def resolve_feed(rt: Runtime, ref: str) -> Feed:
    with store.session_scope(rt.store_url) as session:
        return store.require_feed(session, ref)


def remove_feed(rt: Runtime, ref: str, force: bool = False) -> Feed:
    """Stop watching a feed. Rules scoped to it are named and need ``force``; they are then
    disabled, so they never start matching every feed."""
    with store.session_scope(rt.store_url) as session:
        feed = store.require_feed(session, ref)
        _refuse_config_owned(feed, "feed", ref, rt.settings.feeds_file)
        scoped = store.rules_scoped_to_feed(session, int(feed.id))  # type: ignore[arg-type]
        if scoped and not force:
            names = ", ".join(repr(rule.name) for rule in scoped)
            raise ConflictError(
                f"feed {feed.id} has rules scoped to it ({names}); "
                "remove them first or use --force to disable them"
            )
        for rule in scoped:
            rule.enabled, rule.updated_at = False, store.utcnow()
            session.add(rule)
            log.warning(
                "rule %s disabled: its feed %s was removed",
                rule.id,
                feed.id,
                extra={"rule_id": rule.id, "feed_id": feed.id},
            )
        store.delete_feed(session, feed)
        return feed


def list_feed_events(rt: Runtime, limit: int = 50) -> list[FeedEventRow]:
    with store.session_scope(rt.store_url) as session:
        return [
            FeedEventRow(
                id=int(event.id),  # type: ignore[arg-type]
                feed_id=event.feed_id,
                feed=feed.name or feed.url if feed else str(event.feed_id),
                kind=FeedEventKind(event.kind),
                health=FeedHealth(event.health),
                previous=FeedHealth(event.previous),
                reason=event.reason,
                created_at=event.created_at,
            )
            for event, feed in store.recent_feed_events(session, limit)
        ]


@dataclass(frozen=True)
class FeedEventRow:
    id: int
    feed_id: int
    feed: str
    kind: FeedEventKind
    health: FeedHealth
    previous: FeedHealth
    reason: str | None
    created_at: datetime


def _refuse_config_owned(row: Feed | Rule, noun: str, ref: str, source: Path | None) -> None:
    """Rows the config files own are changed in the files, or a sync would undo the change."""
    if row.origin == Origin.CONFIG:
        where = str(source) if source else "the config files"
        raise ConflictError(f"{noun} {ref!r} comes from {where}: change it there")


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
    *,
    origin: Origin = Origin.USER,
) -> Rule:
    """Validate and save a rule (insert, or replace the rule of that name). A rule the
    config files own is changed only by a sync (``origin`` config)."""
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
        compile_query(query, rt.settings.topics_file)
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
            rule = Rule(
                name=name, query=query, webhook_url=webhook_url, secret=new_secret, origin=origin
            )
        else:
            if rule.origin != origin:
                raise ConflictError(_clash(rule, name, rt.settings.rules_file))
            if chosen and chosen not in (rule.secret, *(rule.previous_secrets or [])):
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


def _clash(rule: Rule, name: str, rules_file: Path | None) -> str:
    source = str(rules_file) if rules_file else "the rules file"
    if rule.origin == Origin.CONFIG:
        return f"rule {name!r} comes from {source}: change it there or choose another name"
    return (
        f"rule {name!r} in {source} clashes with the rule of that name made by hand "
        "(`newswatch rules add`); the hand-made rule is kept: rename one of them"
    )


def create_rule(rt: Runtime, name: str, query: str, webhook_url: str, **options: Any) -> Rule:
    """Like add_rule, but a name already taken is a ConflictError (the API's POST, where
    replacing a rule is PATCH)."""
    with store.session_scope(rt.store_url) as session:
        if store.rule_by_name(session, name) is not None:
            raise ConflictError(f"a rule named {name!r} exists already (change it with PATCH)")
    return add_rule(rt, name, query, webhook_url, **options)


def edit_rule(
    rt: Runtime,
    ref: str,
    *,
    query: str | None = None,
    webhook_url: str | None = None,
    feed: str | None = None,
    mode: str | None = None,
    channels: list[str] | None = None,
) -> Rule:
    """Change some fields of a hand-made rule; the others stay (validated like add_rule)."""
    with store.session_scope(rt.store_url) as session:
        rule = store.require_rule(session, ref)
        _refuse_config_owned(rule, "rule", ref, rt.settings.rules_file)
        scope = store.get_feed(session, rule.feed_id) if rule.feed_id else None
        current = (rule.name, rule.query, rule.webhook_url, rule.enabled, rule.mode)
        current_channels = list(rule.channels or [])
        scope_ref = str(scope.id) if scope else None
    name, old_query, old_webhook, enabled, old_mode = current
    return add_rule(
        rt,
        name,
        query if query is not None else old_query,
        webhook_url if webhook_url is not None else old_webhook,
        None,
        (feed or None) if feed is not None else scope_ref,
        enabled,
        mode if mode is not None else old_mode,
        channels if channels is not None else current_channels,
    )


def enable_rule(rt: Runtime, ref: str) -> Rule:
    return _set_rule_enabled(rt, ref, True)


def disable_rule(rt: Runtime, ref: str) -> Rule:
    """Stop matching a rule; its alerts and deliveries in flight stay as they are."""
    return _set_rule_enabled(rt, ref, False)


def _set_rule_enabled(rt: Runtime, ref: str, enabled: bool) -> Rule:
    with store.session_scope(rt.store_url) as session:
        rule = store.require_rule(session, ref)
        _refuse_config_owned(rule, "rule", ref, rt.settings.rules_file)
        rule.enabled, rule.updated_at = enabled, store.utcnow()
        session.add(rule)
        return rule


def list_rules(rt: Runtime) -> list[Rule]:
    with store.session_scope(rt.store_url) as session:
        return store.list_rules(session)


def remove_rule(rt: Runtime, ref: str) -> Rule:
    with store.session_scope(rt.store_url) as session:
        rule = store.require_rule(session, ref)
        _refuse_config_owned(rule, "rule", ref, rt.settings.rules_file)
        store.delete_rule(session, rule)
        return rule


# --- the config files ----------------------------------------------------------------------


@dataclass
class SyncReport:
    feeds: int = 0
    rules: int = 0
    released: list[str] = field(default_factory=list)  # no longer declared: now hand-made
    clashes: list[str] = field(default_factory=list)  # one line each, naming both sources
    refused: list[str] = field(default_factory=list)  # a rule's notify target, one line each


def sync_config_files(rt: Runtime) -> SyncReport:
    """Keep the store in step with the config files named in the settings.

    Adds and updates only what the files declare and own. A feed or rule of the same URL or
    name made by hand is never changed: that is a clash, reported and skipped. What the
    files owned and no longer declare is disabled and handed over to the user (so it can
    be removed by hand). Both files are read and validated before anything is written, so a
    mistake in either changes nothing; only a notify target Apprise cannot use is refused
    alone (a line in the report), and its rule synced without it. With no file configured,
    nothing happens.
    """
    from pipeline.io.config_files import load_feeds_file, load_rules_file

    settings = rt.settings
    feeds = load_feeds_file(settings.feeds_file) if settings.feeds_file else None
    rules = load_rules_file(settings.rules_file) if settings.rules_file else None
    report = SyncReport()
    if feeds is not None:
        _sync_feeds(rt, feeds, report)
    if rules is not None:
        _sync_rules(rt, rules, report)
    return report


def _sync_feeds(rt: Runtime, feeds: list[FeedSpec], report: SyncReport) -> None:
    declared = {feed.url for feed in feeds}
    source = rt.settings.feeds_file
    with store.session_scope(rt.store_url) as session:
        for spec in feeds:
            rt.http.guard.check_url(spec.url)
            existing = store.find_feed_by_url(session, spec.url)
            if existing is not None and existing.origin != Origin.CONFIG:
                report.clashes.append(
                    f"feed {spec.url} in {source} is also watched by hand (feed {existing.id}); "
                    "the hand-made feed is kept as it is"
                )
                continue
            store.add_feed(
                session,
                spec.url,
                spec.name,
                spec.interval or rt.settings.default_poll_interval,
                origin=Origin.CONFIG,
                backfill=False,
            )
            report.feeds += 1
        for feed in store.feeds_of_origin(session, Origin.CONFIG):
            if feed.url not in declared:
                feed.origin, feed.enabled = Origin.USER, False
                session.add(feed)
                report.released.append(f"feed {feed.id} ({feed.url}) paused: no longer in {source}")


def _sync_rules(rt: Runtime, rules: list[RuleSpec], report: SyncReport) -> None:
    declared = {rule.name for rule in rules}
    for spec in rules:
        try:
            add_rule(
                rt,
                spec.name,
                spec.query,
                spec.webhook,
                spec.secret,
                spec.feed,
                spec.enabled,
                spec.mode,
                _usable_targets(rt, spec, report),
                origin=Origin.CONFIG,
            )
        except ConflictError as exc:
            report.clashes.append(str(exc))
            continue
        report.rules += 1
    source = rt.settings.rules_file
    with store.session_scope(rt.store_url) as session:
        for rule in store.rules_of_origin(session, Origin.CONFIG):
            if rule.name not in declared:
                rule.origin, rule.enabled, rule.updated_at = Origin.USER, False, store.utcnow()
                session.add(rule)
                report.released.append(f"rule {rule.name!r} disabled: no longer in {source}")


def _usable_targets(rt: Runtime, spec: RuleSpec, report: SyncReport) -> list[str]:
    """The rule's notify targets that Apprise can send to; each other one is refused with
    its reason. Whether Apprise knows a URL depends on its version and plugins, not only on
    the file, and one such target must not keep every other rule, or this rule's webhook,
    out of the store."""
    from pipeline.io.channels import validate_target

    usable = []
    for target in spec.notify:
        try:
            validate_target(Channel.APPRISE, target)
        except ValueError as exc:
            report.refused.append(
                f"rule {spec.name!r} in {rt.settings.rules_file}: notify target refused "
                f"(the rule is kept without it): {exc}"
            )
            continue
        usable.append(target)
    return usable


def add_sample_rules(rt: Runtime, webhook_url: str, secret: str | None = None) -> list[Rule]:
    """`newswatch init`: the sample rules of config/rules.yaml (ceasefire, evacuation), armed
    explicitly with the user's own webhook. Names already taken are left alone."""
    from pipeline.io.config_files import sample_rules
    from pipeline.stages.alert import generate_secret

    secret = secret or generate_secret()  # one receiver, one secret for both rules
    added = []
    for spec in sample_rules():
        with store.session_scope(rt.store_url) as session:
            if store.rule_by_name(session, spec.name) is not None:
                continue
        added.append(add_rule(rt, spec.name, spec.query, webhook_url, secret, mode=spec.mode))
    return added
