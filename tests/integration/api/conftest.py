"""Fixtures of the API tests: the app on each store (SQLite and PostgreSQL), served in
process by Starlette's TestClient, with an admin and a read key made as a user makes them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.runtime import Runtime, http_client_for
from pipeline.services import keys
from pipeline.settings import Settings
from tests.conftest import FIXTURES
from tests.integration.services.support import Clock
from worker.api import create_app
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


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt.settings, runtime=rt), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def admin_key(rt: Runtime) -> str:
    return keys.create_key(rt, "ops", "admin")[1]


@pytest.fixture
def read_key(rt: Runtime) -> str:
    return keys.create_key(rt, "analyst", "read")[1]


@pytest.fixture
def admin(admin_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_key}"}


@pytest.fixture
def reader(read_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {read_key}"}
