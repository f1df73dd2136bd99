"""Who is asking: an API key (``Authorization: Bearer nwk_…``) or the dashboard's session.

Every route except /healthz, /readyz and /metrics needs a principal; a change needs the
``admin`` scope. ``current_principal(request)`` checks the bearer key first, then asks
the session resolver the dashboard registered with :func:`set_session_resolver` (its
signed session cookie). A cookie is sent by the browser on its own, so a request that
changes something is taken on a session only when it carries a header a cross-site form
cannot set (``HX-Request`` from htmx, or ``X-Requested-With``); the dashboard's own form
posts keep their CSRF token check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from pipeline.model import KeyScope
from pipeline.runtime import Runtime

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SCRIPT_HEADERS = ("hx-request", "x-requested-with")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: an API key, or a user logged in to the dashboard."""

    name: str
    scope: KeyScope
    via: str  # "key" or "session"
    key_id: int | None = None

    def allows(self, needed: KeyScope) -> bool:
        return self.scope == KeyScope.ADMIN or needed == KeyScope.READ


SessionResolver = Callable[[Request], Principal | None]

# Documents the scheme in the OpenAPI; the header is read by current_principal itself.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key from `newswatch keys create --scope read|admin`.",
)


def set_session_resolver(app: FastAPI, resolver: SessionResolver) -> None:
    """The dashboard's hook: ``resolver(request)`` returns the principal of a valid
    signed session cookie, or None."""
    app.state.session_resolver = resolver


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def current_principal(request: Request) -> Principal | None:
    """The caller, or None. A bearer key, when given, decides alone: a wrong key is never
    rescued by a cookie."""
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    principal = _from_bearer(request)
    if principal is None and not _bearer_given(request):
        principal = _from_session(request)
    request.state.principal = principal
    return principal


def _bearer_given(request: Request) -> bool:
    return bool(request.headers.get("authorization"))


def _from_bearer(request: Request) -> Principal | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    from pipeline.services.keys import verify_key

    key = verify_key(runtime_of(request), token.strip())
    if key is None:
        return None
    return Principal(name=key.name, scope=key.scope, via="key", key_id=key.id)


def _from_session(request: Request) -> Principal | None:
    resolver: SessionResolver | None = getattr(request.app.state, "session_resolver", None)
    if resolver is None:
        return None
    principal = resolver(request)
    if principal is None:
        return None
    if request.method not in _SAFE_METHODS and not any(
        request.headers.get(name) for name in _SCRIPT_HEADERS
    ):
        return None
    return principal


def _require(needed: KeyScope) -> Callable[..., Principal]:
    def dependency(
        request: Request,
        _credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
    ) -> Principal:
        principal = current_principal(request)
        if principal is None:
            raise HTTPException(
                status_code=401,
                detail="give an API key: Authorization: Bearer nwk_… "
                "(create one with `newswatch keys create`)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not principal.allows(needed):
            raise HTTPException(
                status_code=403, detail=f"this needs an API key with the {needed} scope"
            )
        return principal

    return dependency


require_read = _require(KeyScope.READ)
require_admin = _require(KeyScope.ADMIN)
