from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.io.store import dispose_all
from pipeline.io.store.migrate import upgrade_database
from tests.e2e.harness import postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty store on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
        upgrade_database(url)
        yield url
        dispose_all()
        return
    with postgres_database() as url:
        upgrade_database(url)
        yield url
