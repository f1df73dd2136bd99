"""The HTTP interface (FastAPI): ``create_app(settings)``; served by `newswatch serve`."""

from worker.api.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
