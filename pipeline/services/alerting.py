"""Alerting: which saved rules match an article, which story it belongs to, and one alert
per (rule, story), written inside the article's own transaction (the outbox).

A story's first match alerts; a later copy of the same story alerts again only when it adds
figures or terms (``kind: update`` with the changes).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from pipeline.io import store
from pipeline.io.store import Session
from pipeline.model import (
    ActiveRule,
    AlertKind,
    ArticleRef,
    Channel,
    MatchResult,
    OutboxStatus,
    RuleMode,
    StoryRef,
)
from pipeline.runtime import Runtime
from pipeline.stages import alert as alert_stage
from pipeline.stages.delivery import alert_text
from pipeline.stages.match import QueryError, RuleMatcher, compile_query
from pipeline.stages.stories import (
    StorySignature,
    adds_something,
    band_keys,
    best_story,
    story_changes,
)

log = logging.getLogger("newswatch")

_matcher_cache: dict[str, tuple[tuple[int, str], RuleMatcher[int], dict[int, ActiveRule]]] = {}
_matcher_lock = threading.Lock()


def active_matcher(
    rt: Runtime, version: tuple[int, str] | None = None
) -> tuple[RuleMatcher[int], dict[int, ActiveRule]]:
    """The compiled matcher for the current rule set, rebuilt only when rules change.

    ``version`` is ``store.rules_version`` when the caller has just read it in its own
    transaction (one round trip fewer per article); the rules are then read only when
    they changed. Compiling happens outside any transaction: on SQLite one holds the
    database."""
    if version is not None:
        cached = _matcher_cache.get(rt.store_url)
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
    with store.session_scope(rt.store_url) as session:
        version = store.rules_version(session)
        cached = _matcher_cache.get(rt.store_url)
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        rules = {
            int(r.id): ActiveRule(  # type: ignore[arg-type]
                id=int(r.id),  # type: ignore[arg-type]
                name=r.name,
                query=r.query,
                feed_id=r.feed_id,
                mode=RuleMode(r.mode),
                channels=list(r.channels or []),
            )
            for r in store.enabled_rules(session)
        }
    compiled = []
    for rule_id, rule in rules.items():
        try:
            compiled.append((rule_id, compile_query(rule.query, rt.settings.topics_file)))
        except QueryError as exc:  # rules are validated when saved; never fail at match time
            log.error("skipping invalid rule", extra={"rule_id": rule_id, "error": str(exc)})
    matcher: RuleMatcher[int] = RuleMatcher(compiled)
    with _matcher_lock:
        _matcher_cache[rt.store_url] = (version, matcher, rules)
    return matcher, rules


def assign_story(session: Session, title: str, signature: StorySignature) -> int:
    """The story this article belongs to: the most similar candidate above the threshold,
    or a new story."""
    keys = band_keys(signature)
    store.lock_story_keys(session, keys)
    candidates = {int(s.id): s for s in store.story_candidates(session, keys)}  # type: ignore[arg-type]
    best = best_story(
        signature,
        ((story_id, StorySignature.from_json(s.signature)) for story_id, s in candidates.items()),
    )
    if best is None:
        return int(store.create_story(session, title, signature.to_json(), keys).id)  # type: ignore[arg-type]
    store.lock_story(session, best)
    store.add_story_article(session, candidates[best])
    return best


def alert_once_per_story(
    session: Session,
    rule: ActiveRule,
    story_id: int,
    article: ArticleRef,
    result: MatchResult,
    stored: dict[str, Any],
    now: datetime,
    state: store.StoryAlert | None,
) -> int | None:
    """Alert on a story's first match; on later copies only when they add something.

    ``stored`` is the article's extraction in its JSON form (``Extraction.to_dict``), built
    once per article for the article, each alert's state and its payload. ``state`` is what
    the rule last alerted about the story (``store.story_alert_states``), None if nothing."""
    terms = [hit.term for hit in result.hits]
    figures = stored["figures"]
    current = {"figures": figures, "terms": terms}
    changes: dict[str, Any] | None = None
    if state is not None:
        changes = story_changes({"figures": state.figures, "terms": state.terms}, current)
        if not adds_something(changes):
            return None
    story = StoryRef(
        id=story_id, kind=AlertKind.UPDATE if changes else AlertKind.NEW, changes=changes
    )
    alert_id = _create_alert(session, rule, article, result, stored, now, story)
    if alert_id is None:
        return None
    if state is None:
        state = store.StoryAlert(rule_id=rule.id, story_id=story_id)
    state.figures = _remembered_figures(state.figures, figures, changes)
    state.terms = sorted(set(state.terms) | set(terms))
    state.last_alert_id = alert_id
    state.updated_at = now
    session.add(state)
    return alert_id


def _remembered_figures(
    previous: list[dict[str, Any]], current: list[dict[str, Any]], changes: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Figures alerted so far: the current copy's, plus earlier ones it did not revise."""
    revised = {
        (r["category"], float(r["from"])) for r in (changes or {}).get("revised_figures", [])
    }
    seen = {(f["category"], float(f["value"])) for f in current}
    kept = [f for f in previous if (f["category"], float(f["value"])) not in seen | revised]
    return [*current, *kept]


def _create_alert(
    session: Session,
    rule: ActiveRule,
    article: ArticleRef,
    result: MatchResult,
    extraction: dict[str, Any],
    now: datetime,
    story: StoryRef,
) -> int | None:
    webhook_id = alert_stage.new_webhook_id()
    immediate = rule.mode == RuleMode.IMMEDIATE
    alert = store.insert_alert(
        session,
        {
            "rule_id": rule.id,
            "article_id": article.id,
            "webhook_id": webhook_id,
            "story_id": story.id,
            "kind": story.kind,
            "changes": story.changes,
            # Digest rules hold their alerts until the period closes (see digests).
            "status": OutboxStatus.PENDING if immediate else OutboxStatus.HELD,
            "attempts": 0,
            "next_attempt_at": now,
            "payload": "{}",
            "created_at": now,
        },
    )
    if alert is None:
        return None
    payload = alert_stage.build_alert_payload(
        alert_id=int(alert.id),  # type: ignore[arg-type]
        webhook_id=webhook_id,
        rule=rule.ref,
        article=article,
        hits=[hit.to_dict() for hit in result.hits],
        extraction=extraction,
        created_at=now,
        story=story,
    )
    alert.payload = alert_stage.encode_payload(payload)
    session.add(alert)
    if immediate:
        title, text = alert_text(payload)
        for index, target in enumerate(rule.channels):
            store.add_notification(
                session,
                store.Notification(
                    rule_id=rule.id,
                    alert_id=alert.id,
                    channel=Channel.APPRISE,
                    target=target,
                    message_id=f"{webhook_id}_c{index}",
                    title=title,
                    body=text,
                    next_attempt_at=now,
                    created_at=now,
                ),
            )
    return alert.id
