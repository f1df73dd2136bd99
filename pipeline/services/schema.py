"""The store's schema: create it or bring it up to the latest migration."""

from __future__ import annotations

from pipeline.io.store.migrate import ensure_schema, upgrade_database
from pipeline.runtime import Runtime


def upgrade_schema(rt: Runtime) -> None:
    """Run every pending migration (`newswatch db upgrade`)."""
    upgrade_database(rt.store_url)


def prepare_schema(rt: Runtime) -> None:
    """Before any command: migrate only when the store is missing or behind."""
    ensure_schema(rt.store_url)
