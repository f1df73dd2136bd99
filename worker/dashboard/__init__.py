"""The web dashboard: server-rendered pages over the same service functions as the CLI.

``router`` is mounted by the API app (``worker.api``); ``resolve_session`` turns the
dashboard's signed session cookie into the API's principal, so the dashboard's own htmx
calls to /api/v1 need no key in the page.
"""

from worker.dashboard.routes import router
from worker.dashboard.session import resolve_session

__all__ = ["resolve_session", "router"]
