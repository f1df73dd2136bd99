"""Alert payloads and their Standard Webhooks signatures.

The payload is built once, when the alert is created, and stored as the exact bytes that
will be sent on every attempt; only the timestamp and signature change between retries,
while ``webhook-id`` stays the same so receivers can drop duplicates.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

from pipeline.model import ArticleRef, FeedEventKind, FeedHealth, FeedRef, RuleRef, StoryRef

SECRET_PREFIX = "whsec_"
EVENT_TYPE = "alert.matched"


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def validate_secret(secret: str) -> str:
    """Return the secret if it is a usable whsec_ key, else raise ValueError."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("webhook secret must start with 'whsec_' followed by base64")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except ValueError as exc:
        raise ValueError("webhook secret is not valid base64 after 'whsec_'") from exc
    if len(key) < 16:
        raise ValueError("webhook secret must decode to at least 16 bytes")
    return secret


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def build_alert_payload(
    *,
    alert_id: int,
    webhook_id: str,
    rule: RuleRef,
    article: ArticleRef,
    hits: Sequence[dict[str, str]],
    extraction: dict[str, Any] | None,
    created_at: datetime,
    story: StoryRef | None = None,
) -> dict[str, Any]:
    """The alert body. ``story`` says whether this is the story's first alert for the rule
    ("new") or a later copy that added figures or terms ("update", with ``changes``)."""
    return {
        "type": EVENT_TYPE,
        "timestamp": _iso(created_at),
        "data": {
            "alert_id": alert_id,
            "webhook_id": webhook_id,
            "rule": rule.to_dict(),
            "article": article.to_dict(),
            "matches": list(hits),
            "story": (story or StoryRef(id=None)).to_dict(),
            "extraction": extraction or {},
        },
    }


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def build_feed_event_payload(
    *,
    event_id: str,
    kind: FeedEventKind,
    feed: FeedRef,
    health: FeedHealth,
    previous: FeedHealth,
    reason: str | None,
    since: datetime,
    consecutive_failures: int,
    last_new_entry_at: datetime | None,
) -> dict[str, Any]:
    """A feed-health event for the operator (``feed.failing``, ``feed.silent``,
    ``feed.recovered``), signed and retried like an alert."""
    return {
        "type": str(kind),
        "timestamp": _iso(since),
        "data": {
            "event_id": event_id,
            "webhook_id": event_id,
            "feed": feed.to_dict(),
            "health": str(health),
            "previous": str(previous),
            "reason": reason,
            "since": _iso(since),
            "consecutive_failures": consecutive_failures,
            "last_new_entry_at": iso_or_none(last_new_entry_at),
        },
    }


def feed_event_text(payload: dict[str, Any]) -> tuple[str, str]:
    """(title, body) of a feed-health event for people's channels."""
    data = payload["data"]
    feed = data["feed"]
    label = feed.get("name") or feed.get("url")
    verdict = {
        "feed.failing": "is failing",
        "feed.silent": "has gone silent",
        "feed.recovered": "has recovered",
    }.get(payload["type"], payload["type"])
    title = f"newswatch: feed {label} {verdict}"
    lines = [f"{feed.get('url')}: {data['previous']} -> {data['health']} since {data['since']}"]
    if data.get("reason"):
        lines.append(f"Reason: {data['reason']}")
    return title, "\n".join(lines)


def encode_payload(payload: dict[str, Any]) -> str:
    """Compact, key-sorted JSON: the exact text that is signed and sent."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def sign_headers(
    secrets_: Sequence[str], webhook_id: str, body: str, now: datetime | None = None
) -> dict[str, str]:
    """Standard Webhooks headers; one signature per secret (several during a rotation)."""
    when = (now or datetime.now(UTC)).astimezone(UTC)
    signatures = [Webhook(secret).sign(webhook_id, when, body) for secret in secrets_]
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
    }


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def iso_or_none(value: datetime | None) -> str | None:
    return _iso(value) if value else None
