"""Fixtures of the service tests: a loopback site, an injected clock, a runtime on each store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.runtime import Runtime, http_client_for
from pipeline.settings import Settings
from tests.conftest import FIXTURES
from tests.integration.services.support import Clock
from worker.loopback import SiteServer


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(FIXTURES).start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rt(store_url: str, tmp_path: Path, clock: Clock) -> Runtime:
    settings = Settings(
        data_dir=tmp_path,
        database_url=store_url,
        http_allow_hosts=["127.0.0.1"],
        topics_file=Settings().topics_file,
    )
    return Runtime(settings=settings, http_client=http_client_for(settings), clock=clock)
