"""The API fuzzed from its own /openapi.json (schemathesis): no 5xx, every status code,
content type and body as documented. Bounded: a few examples per operation, no deadline.

Runs on the embedded store with a few stored articles, an alert and a rule, so the
routes that read them find something; generated writes land in that same store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from pipeline.io.store import dispose_all
from pipeline.io.store.migrate import upgrade_database
from pipeline.runtime import Runtime, http_client_for
from pipeline.services import catalog, keys
from pipeline.settings import Settings
from tests.conftest import FIXTURES
from tests.integration.services.support import poll_all
from worker.api import create_app
from worker.loopback import SiteServer

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]

_state: dict[str, Any] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{folder / 'store.db'}"
    upgrade_database(url)
    settings_ = Settings(data_dir=folder, database_url=url, http_allow_hosts=["127.0.0.1"])
    rt = Runtime(settings=settings_, http_client=http_client_for(settings_))
    site = SiteServer(FIXTURES).start()
    try:
        feed = catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "alpha", backfill=True)
        # place: and topic: load their vocabularies on first use; warm them here, so a
        # busy machine does not turn the first generated rule into a client timeout.
        catalog.add_rule(
            rt, "ceasefire", "ceasefire AND place:SY AND topic:16000000", "https://x.invalid/"
        )
        poll_all(rt, int(feed.id))  # type: ignore[arg-type]
        _state["token"] = keys.create_key(rt, "fuzzer", "admin")[1]
        yield schemathesis.openapi.from_asgi("/openapi.json", create_app(settings_, runtime=rt))
    finally:
        site.stop()
        dispose_all()


schema = schemathesis.pytest.from_fixture("api_schema")
pytestmark = pytest.mark.slow


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_matches_its_openapi(case: Any) -> None:
    # /readyz answers a documented 503 here: no broker runs beside this test.
    chosen = CHECKS[1:] if case.path == "/readyz" else CHECKS
    case.call_and_validate(
        headers={"Authorization": f"Bearer {_state['token']}"}, checks=chosen, timeout=60
    )
