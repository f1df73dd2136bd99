"""The store's schema: create it or bring it up to the latest migration."""

from __future__ import annotations

from pathlib import Path

from pipeline.io.files import ensure_writable_dir
from pipeline.io.store.migrate import ensure_schema, upgrade_database
from pipeline.runtime import Runtime


def upgrade_schema(rt: Runtime) -> list[str]:
    """Run every pending migration (`newswatch db upgrade`); the revisions applied."""
    _prepare_sqlite_dir(rt)
    return upgrade_database(rt.store_url)


def prepare_schema(rt: Runtime) -> None:
    """Before any command: migrate only when the store is missing or behind."""
    _prepare_sqlite_dir(rt)
    ensure_schema(rt.store_url)


def _prepare_sqlite_dir(rt: Runtime) -> None:
    # The embedded store lives in the data directory: create it, or say why it can't be.
    url = rt.store_url
    if url.startswith("sqlite:///"):
        ensure_writable_dir(Path(url.removeprefix("sqlite:///")).parent, "data directory")
