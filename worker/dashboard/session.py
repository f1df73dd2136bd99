"""The dashboard's login: a signed session cookie, and a CSRF token checked on every POST.

A person logs in with an API key (its scope carries over) or as the configured user
(``NEWSWATCH_DASHBOARD_USER``/``_PASSWORD``, admin). The cookie holds who, the scope and a
random CSRF token, signed with itsdangerous and timed (``session_max_age``); nothing is
kept server-side, so any API process with the same key accepts it. Every form carries the
token as ``csrf_token`` and htmx sends it as ``X-CSRF-Token``; a POST without it is refused.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from pipeline.io.files import ensure_writable_dir
from pipeline.model import KeyScope
from pipeline.runtime import Runtime
from pipeline.settings import Settings

COOKIE = "newswatch_session"
_SALT = "newswatch-dashboard-session"


@dataclass(frozen=True)
class Session:
    who: str | None  # None: not logged in (the token still protects the login form)
    scope: str | None  # a KeyScope value, as kept in the signed cookie
    csrf: str

    @property
    def logged_in(self) -> bool:
        return self.who is not None

    @property
    def admin(self) -> bool:
        return self.scope == KeyScope.ADMIN


class CsrfError(Exception):
    """A POST without the session's CSRF token."""


def _secret(settings: Settings) -> str:
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value()
    path = ensure_writable_dir(settings.data_dir, "data directory") / "session.key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(32)
    # O_EXCL: two processes starting at once agree on the first key written.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret(settings), salt=_SALT)


def read_session(request: Request, settings: Settings) -> Session:
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            data: dict[str, Any] = _serializer(settings).loads(
                raw, max_age=settings.session_max_age
            )
            return Session(data.get("who"), data.get("scope"), str(data["csrf"]))
        except (BadSignature, KeyError, TypeError):
            pass
    return Session(None, None, secrets.token_urlsafe(24))


def write_session(response: Response, session: Session, settings: Settings, secure: bool) -> None:
    value = _serializer(settings).dumps(
        {"who": session.who, "scope": session.scope, "csrf": session.csrf}
    )
    response.set_cookie(
        COOKIE,
        value,
        max_age=settings.session_max_age,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


def check_csrf(session: Session, sent: str | None) -> None:
    if not sent or not hmac.compare_digest(sent, session.csrf):
        raise CsrfError("the form expired or did not come from this dashboard: reload the page")


def authenticate(rt: Runtime, user: str, secret: str) -> tuple[str, str] | None:
    """(who, scope) for a configured user and password or an API key, else None."""
    settings = rt.settings
    user = user.strip()
    if user and settings.dashboard_user and settings.dashboard_password is not None:
        same_user = hmac.compare_digest(user, settings.dashboard_user)
        same_password = hmac.compare_digest(
            secret.encode(), settings.dashboard_password.get_secret_value().encode()
        )
        if same_user and same_password:
            return user, "admin"
        return None
    if not user and secret:
        from pipeline.services.keys import verify_key

        key = verify_key(rt, secret.strip())
        if key is not None:
            return f"key {key.name}", str(key.scope)
    return None


def resolve_session(request: Request) -> Any:
    """The API's principal for a logged-in dashboard session, else None (for
    ``worker.api.auth.set_session_resolver``)."""
    from pipeline.model import KeyScope
    from worker.api.auth import Principal, runtime_of

    session = read_session(request, runtime_of(request).settings)
    if not session.logged_in or session.scope not in tuple(KeyScope):
        return None
    return Principal(name=str(session.who), scope=KeyScope(session.scope), via="session")
