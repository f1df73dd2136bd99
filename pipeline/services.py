"""One function per unit of work. Celery tasks, the CLI and the demo all call these.

The flow (see README): beat tick -> refresh_due_feeds -> refresh_feed(id) -> fetch_article(id)
-> process_article(id) -> deliver_alert(id); relay_due_alerts re-sends due outbox rows.
Each function reads what it needs by id, commits its own transaction(s) and returns the ids
of follow-up work, which the caller enqueues only after the commit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from pipeline.errors import ConfigError, FetchError, HTTPStatusError, NotFoundError
from pipeline.io import store
from pipeline.io.channels import OutgoingMessage, SendResult, get_transport, validate_target
from pipeline.io.store import (
    Alert,
    Article,
    DeliveryAttempt,
    Feed,
    Notification,
    Rule,
    Story,
    StoryAlert,
    session_scope,
)
from pipeline.runtime import Runtime
from pipeline.stages import alert as alert_stage
from pipeline.stages.clean import clean_article, detect_language
from pipeline.stages.delivery import (
    DIGEST_MODES,
    alert_text,
    build_digest,
    classify_attempt,
    digest_text,
    digest_window,
)
from pipeline.stages.extract import extract
from pipeline.stages.match import (
    MatchDocument,
    QueryError,
    RuleMatcher,
    compile_query,
    match_query,
)
from pipeline.stages.parse import parse_feed
from pipeline.stages.schedule import next_poll_at
from pipeline.stages.stories import (
    STORY_THRESHOLD,
    StorySignature,
    adds_something,
    band_keys,
    similarity,
    story_changes,
    story_signature,
)

log = logging.getLogger("newswatch")


# --- polling ----------------------------------------------------------------------------


def refresh_due_feeds(rt: Runtime) -> list[int]:
    """Claim the feeds that are due (a conditional UPDATE each) and return their ids."""
    with session_scope(rt.store_url) as session:
        return store.claim_due_feeds(
            session,
            rt.now(),
            timedelta(seconds=rt.settings.claim_lease),
            rt.settings.feeds_per_tick,
        )


@dataclass
class PollReport:
    feed_id: int
    status: str  # "ok" | "not-modified" | "error"
    entries: int = 0
    new_article_ids: list[int] = field(default_factory=list)
    problem: str | None = None
    error: str | None = None


def refresh_feed(feed_id: int, rt: Runtime) -> PollReport:
    """Conditional GET, parse, upsert entries; returns the ids of articles new to the store."""
    with session_scope(rt.store_url) as session:
        feed = session.get(Feed, feed_id)
        if feed is None:
            raise NotFoundError(f"no feed with id {feed_id}")
        url, etag, last_modified = feed.url, feed.etag, feed.last_modified
        interval = timedelta(seconds=feed.interval_seconds)
        errors_so_far = feed.error_count
    headers = {
        "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        response = rt.http.get(url, headers)
        parsed = (
            None
            if response.status_code == 304
            else parse_feed(response.body, response.headers, response.url)
        )
    except (FetchError, ValueError) as exc:
        retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
        status = exc.status_code if isinstance(exc, HTTPStatusError) else None
        return _record_poll_failure(
            rt, feed_id, interval, errors_so_far, str(exc), status, retry_after
        )

    report = PollReport(feed_id=feed_id, status="not-modified" if parsed is None else "ok")
    now = rt.now()
    with session_scope(rt.store_url) as session:
        feed = session.get(Feed, feed_id)
        if feed is None:
            raise NotFoundError(f"feed {feed_id} was removed while it was being polled")
        if parsed is not None:
            report.entries = len(parsed.entries)
            report.problem = parsed.problem
            for entry in parsed.entries:
                if entry.guid and store.article_for_guid(session, feed_id, entry.guid):
                    continue
                article_id, inserted = store.upsert_article(
                    session,
                    {
                        "canonical_url": entry.canonical_url,
                        "guid": entry.guid,
                        "title": entry.title,
                        "author": entry.author,
                        "published": entry.published,
                        "summary": entry.content or entry.summary,
                        "fetch_status": "pending",
                        "created_at": now,
                    },
                )
                store.link_feed_article(session, feed_id, article_id, entry.guid)
                if inserted:
                    report.new_article_ids.append(article_id)
            feed.etag = response.headers.get("etag") or feed.etag
            feed.last_modified = response.headers.get("last-modified") or feed.last_modified
            if not feed.name and parsed.title:
                feed.name = parsed.title[:300]
        feed.error_count = 0
        feed.last_error = (
            f"malformed feed, kept {report.entries} entries: {report.problem}"
            if report.problem
            else None
        )
        feed.last_status = response.status_code
        feed.last_polled_at = now
        feed.next_poll_at = next_poll_at(now, interval)
        session.add(feed)
    log.info(
        "polled feed",
        extra={"feed_id": feed_id, "status": report.status, "new": len(report.new_article_ids)},
    )
    return report


def _record_poll_failure(
    rt: Runtime,
    feed_id: int,
    interval: timedelta,
    errors_so_far: int,
    message: str,
    status: int | None,
    retry_after: float | None,
) -> PollReport:
    now = rt.now()
    with session_scope(rt.store_url) as session:
        feed = session.get(Feed, feed_id)
        if feed is not None:
            feed.error_count = errors_so_far + 1
            feed.last_error = message[:2000]
            feed.last_status = status
            feed.last_polled_at = now
            feed.next_poll_at = next_poll_at(
                now,
                interval,
                error_count=feed.error_count,
                retry_after=retry_after,
                max_backoff=timedelta(seconds=rt.settings.max_poll_backoff),
            )
            session.add(feed)
    log.warning("feed poll failed", extra={"feed_id": feed_id, "error": message})
    return PollReport(feed_id=feed_id, status="error", error=message)


# --- articles ---------------------------------------------------------------------------


def fetch_article(article_id: int, rt: Runtime) -> str:
    """GET the article page through the HTTP seam and keep it for process_article.

    Returns "fetched" or "fallback" (the page could not be had: the feed's text is used).
    """
    with session_scope(rt.store_url) as session:
        article = session.get(Article, article_id)
        if article is None:
            raise NotFoundError(f"no article with id {article_id}")
        if article.fetch_status != "pending":
            return article.fetch_status
        url = article.canonical_url
    html: bytes | None = None
    reason: str | None = None
    if not url.startswith(("http://", "https://")):
        reason = "the feed entry has no link"
    else:
        try:
            html = rt.http.get(url, {"Accept": "text/html,application/xhtml+xml"}).body
        except FetchError as exc:
            # Not retried: the feed's own text now is worth more than the full page later.
            reason = f"page unavailable: {exc}"
        except Exception as exc:  # never leave an article stuck on an unexpected failure
            log.exception("page fetch failed", extra={"article_id": article_id})
            reason = f"page unavailable: {type(exc).__name__}: {exc}"
    with session_scope(rt.store_url) as session:
        article = session.get(Article, article_id)
        if article is None:
            raise NotFoundError(f"article {article_id} was removed while it was being fetched")
        article.page_html = html
        article.fetch_status = "fetched" if html is not None else "fallback"
        article.fetch_reason = reason
        session.add(article)
        return article.fetch_status


@dataclass
class ProcessReport:
    article_id: int
    alert_ids: list[int] = field(default_factory=list)
    notification_ids: list[int] = field(default_factory=list)
    fetch_status: str = ""


def process_article(article_id: int, rt: Runtime) -> ProcessReport:
    """Clean, extract and match one article; store it, its tags and its alerts in one go."""
    with session_scope(rt.store_url) as session:
        article = session.get(Article, article_id)
        if article is None:
            raise NotFoundError(f"no article with id {article_id}")
        if article.processed_at is not None:
            return ProcessReport(article_id=article_id, fetch_status=article.fetch_status)
        page, summary, feed_title = article.page_html, article.summary or "", article.title
        fetch_status, fetch_reason = article.fetch_status, article.fetch_reason
        url = article.canonical_url
        feeds = [(f.id, f.name, f.url) for f in store.article_feeds(session, article_id)]

    cleaned = clean_article(page, url=url) if page else None
    if cleaned is not None and cleaned.text:
        title = feed_title or cleaned.title
        text = cleaned.text
        language = cleaned.language
    else:
        if cleaned is not None:
            fetch_status, fetch_reason = "fallback", cleaned.reason
        elif fetch_status == "pending":
            fetch_status, fetch_reason = "fallback", "the page was never fetched"
        title, text = feed_title, summary
        language = detect_language(f"{title}. {text}")
    extraction = extract(title, text, language, rt.settings.topics_file).to_dict()
    matcher, rules = _matcher(rt)
    feed_labels = tuple(value for _, name, feed_url in feeds for value in (name, feed_url) if value)
    matches = matcher.match(_match_document(title, text, feed_labels, extraction))
    feed_ids = {feed_id for feed_id, _, _ in feeds}
    signature = story_signature(title, text)

    now = rt.now()
    report = ProcessReport(article_id=article_id, fetch_status=fetch_status)
    with session_scope(rt.store_url) as session:
        store.lock_story_assignment(session)
        article = session.get(Article, article_id)
        if article is None or article.processed_at is not None:
            return report
        story_id = _assign_story(session, title, signature)
        article.story_id = story_id
        article.title = title
        article.text = text
        article.language = language
        article.content_hash = hashlib.sha256(text.encode()).hexdigest()
        article.word_count = extraction["word_count"]
        article.extraction = extraction
        article.fetch_status = fetch_status
        article.fetch_reason = fetch_reason
        article.page_html = None
        article.processed_at = now
        if cleaned is not None:
            article.author = article.author or cleaned.author
            article.site_name = cleaned.site_name
            article.published = article.published or cleaned.published
        session.add(article)
        article_payload = {
            "id": article_id,
            "url": url,
            "title": title,
            "published": alert_stage.iso_or_none(article.published),
            "language": language,
            "author": article.author,
            "site_name": article.site_name,
            "fetch_status": fetch_status,
            "feeds": [{"id": i, "name": n, "url": u} for i, n, u in feeds],
        }
        for rule_id, result in sorted(matches.items()):
            rule = rules.get(rule_id)
            if rule is None or (rule["feed_id"] is not None and rule["feed_id"] not in feed_ids):
                continue
            alert_id = _alert_once_per_story(
                session, rule, story_id, article_id, article_payload, result, extraction, now
            )
            if alert_id is not None:
                report.alert_ids.append(alert_id)
        if report.alert_ids:
            report.notification_ids = [
                int(n)
                for n in session.exec(
                    select(Notification.id).where(col(Notification.alert_id).in_(report.alert_ids))
                ).all()
                if n is not None
            ]
    log.info("processed article", extra={"article_id": article_id, "alerts": report.alert_ids})
    return report


def _assign_story(session: Session, title: str, signature: StorySignature) -> int:
    """The story this article belongs to: the most similar candidate above the threshold."""
    keys = band_keys(signature)
    best: Story | None = None
    best_score = STORY_THRESHOLD
    for candidate in store.story_candidates(session, keys):
        score = similarity(signature, StorySignature.from_json(candidate.signature))
        if score >= best_score:
            best, best_score = candidate, score
    if best is None:
        return int(store.create_story(session, title, signature.to_json(), keys).id)  # type: ignore[arg-type]
    best.article_count += 1
    best.updated_at = store.utcnow()
    session.add(best)
    return int(best.id)  # type: ignore[arg-type]


def _alert_once_per_story(
    session: Session,
    rule: dict[str, Any],
    story_id: int,
    article_id: int,
    article_payload: dict[str, Any],
    result: Any,
    extraction: dict[str, Any],
    now: Any,
) -> int | None:
    """Alert on a story's first match; on later copies only when they add something."""
    terms = [hit.term for hit in result.hits]
    current = {"figures": extraction["figures"], "terms": terms}
    state = session.get(StoryAlert, (rule["id"], story_id))
    changes: dict[str, Any] | None = None
    if state is not None:
        changes = story_changes({"figures": state.figures, "terms": state.terms}, current)
        if not adds_something(changes):
            return None
    story = {"id": story_id, "kind": "update" if changes else "new", "changes": changes}
    alert_id = _create_alert(
        session, rule, article_id, article_payload, result, extraction, now, story
    )
    if alert_id is None:
        return None
    if state is None:
        state = StoryAlert(rule_id=rule["id"], story_id=story_id)
    state.figures = _remembered_figures(state.figures, extraction["figures"], changes)
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
    rule: dict[str, Any],
    article_id: int,
    article_payload: dict[str, Any],
    result: Any,
    extraction: dict[str, Any],
    now: Any,
    story: dict[str, Any],
) -> int | None:
    webhook_id = alert_stage.new_webhook_id()
    inserted = store.insert_ignore(
        session,
        Alert,
        {
            "rule_id": rule["id"],
            "article_id": article_id,
            "webhook_id": webhook_id,
            "story_id": story["id"],
            "kind": story["kind"],
            "changes": story["changes"],
            # Digest rules hold their alerts until the period closes (see send_digests).
            "status": "pending" if rule.get("mode", "immediate") == "immediate" else "held",
            "attempts": 0,
            "next_attempt_at": now,
            "payload": "{}",
            "created_at": now,
        },
    )
    if not inserted:
        return None
    alert = session.exec(select(Alert).where(Alert.webhook_id == webhook_id)).one()
    payload = alert_stage.build_alert_payload(
        alert_id=int(alert.id),  # type: ignore[arg-type]
        webhook_id=webhook_id,
        rule={"id": rule["id"], "name": rule["name"], "query": rule["query"]},
        article=article_payload,
        hits=[hit.to_dict() for hit in result.hits],
        extraction=extraction,
        created_at=now,
        story=story,
    )
    alert.payload = alert_stage.encode_payload(payload)
    session.add(alert)
    if rule.get("mode", "immediate") == "immediate":
        title, text = alert_text(payload)
        for index, target in enumerate(rule.get("channels") or []):
            session.add(
                Notification(
                    rule_id=rule["id"],
                    alert_id=alert.id,
                    channel="apprise",
                    target=target,
                    message_id=f"{webhook_id}_c{index}",
                    title=title,
                    body=text,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    return alert.id


_matcher_cache: dict[str, tuple[tuple[int, str], RuleMatcher[int], dict[int, dict[str, Any]]]] = {}
_matcher_lock = threading.Lock()


def _matcher(rt: Runtime) -> tuple[RuleMatcher[int], dict[int, dict[str, Any]]]:
    """The compiled matcher for the current rule set, rebuilt only when rules change."""
    with session_scope(rt.store_url) as session:
        version = store.rules_version(session)
        cached = _matcher_cache.get(rt.store_url)
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        rows = store.enabled_rules(session)
        rules = {
            int(r.id): {  # type: ignore[arg-type]
                "id": r.id,
                "name": r.name,
                "query": r.query,
                "feed_id": r.feed_id,
                "mode": r.mode,
                "channels": list(r.channels or []),
            }
            for r in rows
        }
    compiled = []
    for rule_id, rule in rules.items():
        try:
            compiled.append((rule_id, compile_query(str(rule["query"]))))
        except QueryError as exc:  # rules are validated when saved; never fail at match time
            log.error("skipping invalid rule", extra={"rule_id": rule_id, "error": str(exc)})
    matcher: RuleMatcher[int] = RuleMatcher(compiled)
    with _matcher_lock:
        _matcher_cache[rt.store_url] = (version, matcher, rules)
    return matcher, rules


# --- delivery ---------------------------------------------------------------------------


def deliver_alert(alert_id: int, rt: Runtime) -> str:
    """Claim, sign, POST and record one attempt. Returns the alert's status afterwards."""
    return _deliver(Alert, alert_id, rt)


def deliver_notification(notification_id: int, rt: Runtime) -> str:
    """The same for a channel message or a digest (same policy and records)."""
    return _deliver(Notification, notification_id, rt)


def _outgoing(row: Alert | Notification) -> tuple[str, str, OutgoingMessage]:
    """(channel, target placeholder, message) of an outbox row; alerts go to the webhook."""
    if isinstance(row, Alert):
        message = OutgoingMessage(webhook_id=row.webhook_id, body=row.payload, title="", text="")
        return "webhook", "", message
    message = OutgoingMessage(
        webhook_id=row.message_id, body=row.body, title=row.title, text=row.body
    )
    return row.channel, row.target, message


def _deliver(model: type[Alert] | type[Notification], row_id: int, rt: Runtime) -> str:
    """One attempt for one outbox row: claim, send through its transport, record, decide."""
    now = rt.now()
    lease = timedelta(seconds=rt.settings.claim_lease)
    with session_scope(rt.store_url) as session:
        if not store.claim_outbox(session, model, row_id, now, lease):
            found = _outbox_row(session, model, row_id)
            return found.status if found else "missing"
        row = _outbox_row(session, model, row_id)
        rule = session.get(Rule, row.rule_id) if row else None
        if row is None or rule is None:
            return "missing"
        channel, target, message = _outgoing(row)
        target = target or rule.webhook_url
        secrets = [rule.secret, *(rule.previous_secrets or [])]
        webhook = channel == "webhook"
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

    with session_scope(rt.store_url) as session:
        row = _outbox_row(session, model, row_id)
        rule = session.get(Rule, row.rule_id) if row else None
        if row is None or rule is None:
            return "missing"
        link = {"alert_id": row_id} if model is Alert else {"notification_id": row_id}
        session.add(
            DeliveryAttempt(
                **link,
                attempted_at=finished,
                status_code=result.status_code,
                error=result.error,
                duration_ms=result.duration_ms,
            )
        )
        if row.status != "sending":
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
        if outcome.status == "delivered":
            row.status, row.delivered_at, row.last_error = "delivered", finished, None
        else:
            row.last_error = (outcome.error or "")[:2000]
            if outcome.next_attempt_at is None:
                row.status = "dead"
            else:
                row.status, row.next_attempt_at = "pending", outcome.next_attempt_at
        if webhook and not disabled:
            _record_endpoint_health(rule, outcome, finished)
            session.add(rule)
        session.add(row)
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


def _outbox_row(
    session: Session, model: type[Alert] | type[Notification], row_id: int
) -> Alert | Notification | None:
    return session.get(model, row_id)  # type: ignore[return-value]


def _record_endpoint_health(rule: Rule, outcome: Any, when: Any) -> None:
    """Consecutive failures of the rule's webhook endpoint; a 410 switches it off."""
    if outcome.status == "delivered":
        rule.consecutive_failures = 0
        return
    rule.consecutive_failures += 1
    if outcome.disable_endpoint and rule.disabled_at is None:
        rule.disabled_at, rule.disabled_reason = when, outcome.error
        log.error("webhook endpoint disabled", extra={"rule_id": rule.id, "reason": outcome.error})


def send_digests(rt: Runtime) -> list[int]:
    """For every digest rule whose period has closed: one message per channel.

    The held alerts go into the digest and are marked "digested" only by the run that
    created the period's digest (unique keys make a second run or a second beat harmless);
    an alert that committed after its period's digest was built waits for the next one.
    """
    now = rt.now()
    created: list[int] = []
    with session_scope(rt.store_url) as session:
        rules = session.exec(select(Rule).where(col(Rule.mode) != "immediate")).all()
        for rule in rules:
            window = digest_window(rule.mode, now)
            if window is None:
                continue
            start, end = window
            held = session.exec(
                select(Alert)
                .where(
                    col(Alert.rule_id) == rule.id,
                    col(Alert.status) == "held",
                    col(Alert.created_at) < end,
                )
                .order_by(col(Alert.id))
            ).all()
            if held:
                created += _create_digest(session, rule, list(held), start, end, now)
    return created


def _create_digest(
    session: Session, rule: Rule, held: list[Alert], start: Any, end: Any, now: Any
) -> list[int]:
    rule_info = {"id": rule.id, "name": rule.name, "query": rule.query}
    digest = build_digest(rule_info, [json.loads(a.payload) for a in held], start, end)
    title, text = digest_text(digest)
    message_id = digest["data"]["webhook_id"]
    targets = [
        ("webhook", rule.webhook_url, alert_stage.encode_payload(digest), ""),
        *(("apprise", target, text, title) for target in (rule.channels or [])),
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
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        if not store.insert_ignore(session, Notification, values):
            if index == 0:
                return []  # this period was already sent; late alerts wait for the next
            continue
        note_id = session.exec(
            select(Notification.id).where(col(Notification.message_id) == values["message_id"])
        ).one()
        created.append(int(note_id))  # type: ignore[arg-type]
    for alert in held:
        alert.status = "digested"
        session.add(alert)
    return created


def relay_due_notifications(rt: Runtime) -> list[int]:
    with session_scope(rt.store_url) as session:
        return store.due_outbox_ids(session, Notification, rt.now(), rt.settings.alerts_per_tick)


def replay_alerts(rt: Runtime, alert_ids: list[int] | None = None) -> list[int]:
    """Send dead-lettered (or any given) alerts again, with the same webhook-id.

    The attempt count and schedule start over; the relay picks them up at its next tick.
    """
    now = rt.now()
    with session_scope(rt.store_url) as session:
        if alert_ids is None:
            rows = session.exec(select(Alert).where(Alert.status == "dead")).all()
        else:
            rows = []
            for alert_id in alert_ids:
                alert = session.get(Alert, alert_id)
                if alert is None:
                    raise NotFoundError(
                        f"no alert with id {alert_id} (see `newswatch alerts list`)"
                    )
                rows.append(alert)
        for alert in rows:
            alert.status, alert.attempts, alert.next_attempt_at = "pending", 0, now
            alert.claimed_until = None
            session.add(alert)
        return [int(a.id) for a in rows]  # type: ignore[arg-type]


def rotate_secret(rt: Runtime, ref: str, secret: str | None = None, finish: bool = False) -> Rule:
    """Start a secret rotation (new primary, old still signed) or finish it (drop old ones)."""
    with session_scope(rt.store_url) as session:
        rule = _rule(session, ref)
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
    with session_scope(rt.store_url) as session:
        rule = _rule(session, ref)
        rule.disabled_at, rule.disabled_reason, rule.consecutive_failures = None, None, 0
        session.add(rule)
        return rule


MAX_ARTICLE_RELAYS = 5


def relay_stuck_articles(rt: Runtime) -> tuple[list[int], list[int]]:
    """Articles whose task was lost or failed: (ids to fetch, ids to process) again.

    After MAX_ARTICLE_RELAYS tries an article is stored with the feed's text and the reason,
    so one poisonous page cannot loop forever, and its alerts (if any) are still created.
    """
    lease = timedelta(seconds=rt.settings.claim_lease)
    to_fetch: list[int] = []
    to_process: list[int] = []
    with session_scope(rt.store_url) as session:
        stuck = store.stuck_article_ids(session, rt.now(), lease, rt.settings.feeds_per_tick)
        for article_id, fetch_status, tries in stuck:
            if fetch_status == "pending" and tries < MAX_ARTICLE_RELAYS:
                to_fetch.append(article_id)
            elif tries < MAX_ARTICLE_RELAYS:
                to_process.append(article_id)
            else:
                article = session.get(Article, article_id)
                if article is not None:
                    article.page_html = None
                    article.fetch_status = "fallback"
                    article.fetch_reason = f"gave up on the page after {tries} tries"
                    session.add(article)
                    to_process.append(article_id)
    return to_fetch, to_process


def relay_due_alerts(rt: Runtime) -> list[int]:
    """Outbox relay: ids of alerts due for a (re)send, including ones whose task was lost."""
    with session_scope(rt.store_url) as session:
        return store.due_outbox_ids(session, Alert, rt.now(), rt.settings.alerts_per_tick)


# --- catalogue: feeds and rules ---------------------------------------------------------


def _rule(session: Session, ref: str) -> Rule:
    rule = store.find_rule(session, ref)
    if rule is None:
        raise NotFoundError(f"no rule {ref!r} (see `newswatch rules list`)")
    return rule


def _feed(session: Session, ref: str) -> Feed:
    feed = store.find_feed(session, ref)
    if feed is None:
        raise NotFoundError(
            f"no feed {ref!r} (give its id, URL or name; see `newswatch feeds list`)"
        )
    return feed


def add_feed(rt: Runtime, url: str, name: str = "", interval: int | None = None) -> Feed:
    rt.http.guard.check_url(url)
    with session_scope(rt.store_url) as session:
        return store.add_feed(session, url, name, interval or rt.settings.default_poll_interval)


def list_feeds(rt: Runtime) -> list[Feed]:
    with session_scope(rt.store_url) as session:
        return list(session.exec(select(Feed).order_by(col(Feed.id))).all())


def remove_feed(rt: Runtime, ref: str) -> Feed:
    with session_scope(rt.store_url) as session:
        feed = _feed(session, ref)
        scoped = session.exec(select(Rule).where(col(Rule.feed_id) == feed.id)).all()
        for rule in scoped:
            # A rule scoped to a removed feed must not start matching every feed.
            rule.enabled, rule.updated_at = False, store.utcnow()
            session.add(rule)
            log.warning("rule disabled: its feed was removed", extra={"rule_id": rule.id})
        session.delete(feed)
        return feed


def resolve_feed(rt: Runtime, ref: str) -> Feed:
    with session_scope(rt.store_url) as session:
        feed = _feed(session, ref)
        return feed


def add_rule(
    rt: Runtime,
    name: str,
    query: str,
    webhook_url: str,
    secret: str | None = None,
    feed: str | None = None,
    enabled: bool = True,
    mode: str = "immediate",
    channels: list[str] | None = None,
) -> Rule:
    """Validate and save a rule (insert or replace by name)."""
    if not name.strip():
        raise ConfigError("a rule needs a name")
    if mode not in DIGEST_MODES:
        raise ConfigError(f"rule {name!r}: mode must be one of {', '.join(DIGEST_MODES)}")
    targets = []
    for target in dict.fromkeys(channels or []):
        try:
            targets.append(validate_target("apprise", target))
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
    with session_scope(rt.store_url) as session:
        feed_id = None
        if feed:
            found = store.find_feed(session, feed)
            if found is None:
                raise NotFoundError(f"rule {name!r}: no feed {feed!r}")
            feed_id = found.id
        rule = session.exec(select(Rule).where(col(Rule.name) == name)).first()
        if rule is None:
            new_secret = chosen or alert_stage.generate_secret()
            rule = Rule(name=name, query=query, webhook_url=webhook_url, secret=new_secret)
        elif chosen and chosen not in (rule.secret, *(rule.previous_secrets or [])):
            rule.secret = chosen  # an explicit new secret; otherwise the stored one stays
        if rule.mode != "immediate" and mode == "immediate" and rule.id is not None:
            # Leaving digest mode: alerts held for a digest are sent one by one instead.
            for held in session.exec(
                select(Alert).where(col(Alert.rule_id) == rule.id, col(Alert.status) == "held")
            ).all():
                held.status, held.next_attempt_at = "pending", store.utcnow()
                session.add(held)
        rule.query, rule.webhook_url = query, webhook_url
        rule.feed_id, rule.enabled, rule.updated_at = feed_id, enabled, store.utcnow()
        rule.mode, rule.channels = mode, targets
        session.add(rule)
        session.flush()
        return rule


def list_rules(rt: Runtime) -> list[Rule]:
    with session_scope(rt.store_url) as session:
        return list(session.exec(select(Rule).order_by(col(Rule.id))).all())


def remove_rule(rt: Runtime, ref: str) -> Rule:
    with session_scope(rt.store_url) as session:
        rule = _rule(session, ref)
        session.delete(rule)
        return rule


def list_alerts(rt: Runtime, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    with session_scope(rt.store_url) as session:
        rows = []
        for alert in store.list_alerts(session, status, limit):
            rule = session.get(Rule, alert.rule_id)
            article = session.get(Article, alert.article_id)
            rows.append(
                {
                    "id": alert.id,
                    "status": alert.status,
                    "attempts": alert.attempts,
                    "rule": rule.name if rule else None,
                    "article": article.title if article else None,
                    "url": article.canonical_url if article else None,
                    "webhook_id": alert.webhook_id,
                    "next_attempt_at": alert.next_attempt_at.isoformat(),
                    "last_error": alert.last_error,
                }
            )
        return rows


def explain_match(query: str, document: bytes | str) -> dict[str, Any]:
    """Whether and why one document matches a query (`newswatch rules test`)."""
    try:
        compiled = compile_query(query)
    except QueryError as exc:
        raise ConfigError(str(exc)) from exc
    cleaned = clean_article(document)
    extraction = extract(cleaned.title, cleaned.text, cleaned.language).to_dict()
    result = match_query(compiled, _match_document(cleaned.title, cleaned.text, (), extraction))
    return {
        "matched": result.matched,
        "hits": [hit.to_dict() for hit in result.hits],
        "title": cleaned.title,
    }


def _match_document(
    title: str, text: str, feeds: tuple[str, ...], extraction: dict[str, Any]
) -> MatchDocument:
    return MatchDocument(
        title=title,
        text=text,
        feeds=feeds,
        language=extraction.get("language"),
        topics=tuple((t["code"], t["label"]) for t in extraction["topics"]),
        places=tuple((p["name"], p.get("country")) for p in extraction["places"]),
        figures=tuple((f["category"], float(f["value"])) for f in extraction["figures"]),
        figure_sentences=tuple(f.get("sentence", "") for f in extraction["figures"]),
    )


def backtest_rule(
    rt: Runtime, ref: str, since: timedelta, progress: Any = None
) -> list[dict[str, Any]]:
    """What a saved rule would have fired on among the articles stored in the period."""
    with session_scope(rt.store_url) as session:
        rule = _rule(session, ref)
        query = compile_query(rule.query)
        ids = list(
            session.exec(
                select(Article.id)
                .where(Article.processed_at != None, Article.created_at >= rt.now() - since)  # noqa: E711
                .order_by(Article.id)  # type: ignore[arg-type]
            ).all()
        )
    fired = []
    for article_id in ids:
        with session_scope(rt.store_url) as session:
            article = session.get(Article, article_id)
            if article is None:
                continue
            links = store.article_feeds(session, int(article_id))  # type: ignore[arg-type]
            feeds = tuple(value for f in links for value in (f.name, f.url) if value)
            extraction = article.extraction or {"figures": [], "topics": [], "places": []}
            document = _match_document(article.title, article.text or "", feeds, extraction)
            title, url = article.title, article.canonical_url
        result = match_query(query, document)
        if result.matched:
            fired.append(
                {
                    "article_id": article_id,
                    "title": title,
                    "url": url,
                    "hits": [hit.to_dict() for hit in result.hits],
                }
            )
        if progress is not None:
            progress(1)
    return fired


def list_stories(rt: Runtime, limit: int = 50) -> list[dict[str, Any]]:
    with session_scope(rt.store_url) as session:
        stories = session.exec(
            select(Story).order_by(Story.updated_at.desc()).limit(limit)  # type: ignore[attr-defined]
        ).all()
        rows = []
        for story in stories:
            articles = session.exec(
                select(Article.id, Article.canonical_url).where(Article.story_id == story.id)
            ).all()
            alerts = session.exec(select(Alert.id).where(Alert.story_id == story.id)).all()
            rows.append(
                {
                    "id": story.id,
                    "title": story.title,
                    "articles": [{"id": a, "url": u} for a, u in articles],
                    "alerts": list(alerts),
                    "updated_at": story.updated_at.isoformat(),
                }
            )
        return rows


# --- one-off extraction -----------------------------------------------------------------


def extract_document(
    document: bytes | str, url: str | None = None, topics_file: Any = None
) -> dict[str, Any]:
    """Clean + extract one document (HTML or plain text): the `newswatch extract` contract."""
    cleaned = clean_article(document, url=url)
    extraction = extract(cleaned.title, cleaned.text, cleaned.language, topics_file).to_dict()
    return {
        "title": cleaned.title,
        "text": cleaned.text,
        "language": cleaned.language,
        "published": alert_stage.iso_or_none(cleaned.published),
        "author": cleaned.author,
        "site_name": cleaned.site_name,
        "reason": cleaned.reason,
        **{k: v for k, v in extraction.items() if k != "language"},
    }
