"""API keys: create (the token is shown once), verify, list and revoke.

A token is ``nwk_`` followed by 32 random bytes (base64url). Only its SHA-256 is stored:
a token this random needs no slow password hash, and a leaked table gives no usable key.
A key's scope is ``read`` (every GET) or ``admin`` (also changes).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pipeline.errors import ConfigError, NotFoundError
from pipeline.io import store
from pipeline.io.store import ApiKey
from pipeline.model import KeyScope
from pipeline.runtime import Runtime

TOKEN_PREFIX = "nwk_"
_SHOWN_PREFIX = 12  # "nwk_" and 8 characters of the token: enough to recognise a key
# last_used_at is written at most this often per key, so reads don't all become writes.
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class KeyInfo:
    """A key as the rest of newswatch sees it: never the token, never its hash."""

    id: int
    name: str
    scope: KeyScope
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, needed: KeyScope) -> bool:
        return self.scope == KeyScope.ADMIN or needed == KeyScope.READ


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_key(rt: Runtime, name: str, scope: str = KeyScope.READ) -> tuple[int, str]:
    """A new key; returns (id, token). The token is not stored and cannot be shown again."""
    name = name.strip()
    if not name:
        raise ConfigError("an API key needs a name (who or what uses it)")
    if len(name) > 200:
        raise ConfigError("an API key's name is at most 200 characters")
    if scope not in tuple(KeyScope):
        raise ConfigError(f"unknown scope {scope!r}: use {' or '.join(KeyScope)}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.session_scope(rt.store_url) as session:
        key = store.add_api_key(
            session, name, KeyScope(scope), hash_token(token), token[:_SHOWN_PREFIX]
        )
        return int(key.id), token  # type: ignore[arg-type]


def verify_key(rt: Runtime, token: str) -> KeyInfo | None:
    """The active key this token belongs to, or None (unknown, malformed or revoked)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = hash_token(token)
    now = rt.now()
    with store.session_scope(rt.store_url) as session:
        key = store.api_key_by_hash(session, digest)
        # The lookup is by hash; compare again in constant time for good measure.
        if key is None or not hmac.compare_digest(key.token_hash, digest):
            return None
        if key.revoked_at is not None:
            return None
        if key.last_used_at is None or now - _aware(key.last_used_at) > _TOUCH_EVERY:
            store.touch_api_key(session, int(key.id), now)  # type: ignore[arg-type]
            key.last_used_at = now
        return _info(key)


def list_keys(rt: Runtime) -> list[KeyInfo]:
    with store.session_scope(rt.store_url) as session:
        return [_info(key) for key in store.list_api_keys(session)]


def revoke_key(rt: Runtime, key_id: int) -> KeyInfo:
    """Revoke a key at once; revoking it again changes nothing."""
    with store.session_scope(rt.store_url) as session:
        key = store.get_api_key(session, key_id)
        if key is None:
            raise NotFoundError(f"no API key with id {key_id} (see `newswatch keys list`)")
        if key.revoked_at is None:
            key.revoked_at = rt.now()
            session.add(key)
        return _info(key)


def _info(key: ApiKey) -> KeyInfo:
    return KeyInfo(
        id=int(key.id),  # type: ignore[arg-type]
        name=key.name,
        scope=KeyScope(key.scope),
        prefix=key.prefix,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


def _aware(when: datetime) -> datetime:
    # In case a backend hands back a naive datetime: the store writes UTC.
    return when if when.tzinfo else when.replace(tzinfo=UTC)
