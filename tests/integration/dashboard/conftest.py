"""Fixtures of the dashboard tests: the HTTP app (API + dashboard) on each store, served in
process, with a configured user, an admin key and a read key made as a user makes them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pipeline.runtime import Runtime, http_client_for
from pipeline.services import keys
from pipeline.settings import Settings
from tests.conftest import FIXTURES
from tests.integration.services.support import Clock
from worker.api import create_app
from worker.loopback import SiteServer

USER, PASSWORD = "desk", "s3cret-words"


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(FIXTURES).start()
    yield server
    server.stop()


@pytest.fixture
def rt(store_url: str, tmp_path: Path) -> Runtime:
    settings = Settings(
        data_dir=tmp_path,
        database_url=store_url,
        http_allow_hosts=["127.0.0.1"],
        topics_file=Settings().topics_file,
        dashboard_user=USER,
        dashboard_password=SecretStr(PASSWORD),
    )
    return Runtime(settings=settings, http_client=http_client_for(settings), clock=Clock())


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt.settings, runtime=rt), raise_server_exceptions=False) as c:
        yield c


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def log_in(client: TestClient, user: str, secret: str) -> str:
    """Log in through the form; returns the session's CSRF token."""
    token = csrf_of(client.get("/dashboard/login").text)
    answer = client.post(
        "/dashboard/login",
        data={"csrf_token": token, "user": user, "secret": secret, "next": "/dashboard/rules"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/rules", answer.headers["location"]
    return csrf_of(client.get("/dashboard/rules").text)


@pytest.fixture
def admin(client: TestClient) -> str:
    return log_in(client, USER, PASSWORD)


@pytest.fixture
def read_key(rt: Runtime) -> str:
    return keys.create_key(rt, "analyst", "read")[1]
