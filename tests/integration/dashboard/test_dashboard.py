"""The dashboard over HTTP, in process: who may see and change what, CSRF on every form,
the live rule test and the article view on stored articles, assets served offline."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from pipeline.runtime import Runtime
from pipeline.services import catalog, keys
from tests.integration.dashboard.conftest import csrf_of, log_in
from tests.integration.services.support import poll_all
from worker.dashboard.routes import STATIC
from worker.loopback import SiteServer

PAGES = [
    "/dashboard/feeds",
    "/dashboard/rules",
    "/dashboard/alerts",
    "/dashboard/places",
    "/dashboard/status",
    "/dashboard/articles/1",
    "/dashboard/alerts/1",
]


def test_every_page_needs_a_login(client: TestClient) -> None:
    for path in PAGES:
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/dashboard/login?next="), path


def test_wrong_password_is_one_line_and_no_session(client: TestClient) -> None:
    token = csrf_of(client.get("/dashboard/login").text)
    answer = client.post(
        "/dashboard/login", data={"csrf_token": token, "user": "desk", "secret": "nope"}
    )
    assert "wrong user, password or API key" in answer.text
    assert client.get("/dashboard/feeds", follow_redirects=False).status_code == 303


def test_login_form_needs_its_csrf_token(client: TestClient) -> None:
    answer = client.post(
        "/dashboard/login", data={"csrf_token": "forged", "user": "desk", "secret": "s3cret-words"}
    )
    assert "did not come from this dashboard" in answer.text
    assert client.get("/dashboard/feeds", follow_redirects=False).status_code == 303


def test_every_page_renders_for_a_logged_in_user(client: TestClient, admin: str) -> None:
    for path in PAGES[:5]:
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.text[-500:])
        assert "desk · admin" in answer.text
    assert client.get("/dashboard/articles/99").status_code == 404
    assert "no alert with id 1" in client.get("/dashboard/alerts/1").text


def test_a_post_without_the_csrf_token_changes_nothing(
    client: TestClient, admin: str, rt: Runtime
) -> None:
    form = {"name": "ceasefire", "query": "ceasefire", "webhook": "http://127.0.0.1:9/hook"}
    answer = client.post("/dashboard/rules", data=form)
    assert "did not come from this dashboard" in answer.text
    assert catalog.list_rules(rt) == []
    answer = client.post("/dashboard/rules", data={**form, "csrf_token": admin})
    assert "rule &#39;ceasefire&#39; saved" in answer.text
    assert [rule.name for rule in catalog.list_rules(rt)] == ["ceasefire"]


def test_an_invalid_rule_is_refused_with_its_position(client: TestClient, admin: str) -> None:
    form = {"name": "x", "query": "ceasefire AND (", "webhook": "http://127.0.0.1:9/h"}
    answer = client.post("/dashboard/rules", data={**form, "csrf_token": admin})
    assert re.search(r"invalid query at position \d+", answer.text)


def test_a_read_key_sees_but_cannot_change(client: TestClient, rt: Runtime, read_key: str) -> None:
    token = log_in(client, "", read_key)
    page = client.get("/dashboard/feeds").text
    assert "key analyst · read" in page
    answer = client.post(
        "/dashboard/feeds", data={"csrf_token": token, "url": "http://127.0.0.1:9/f.xml"}
    )
    assert "changes need an admin key" in answer.text
    assert catalog.list_feeds(rt) == []


def test_an_admin_key_logs_in_and_a_revoked_one_does_not(client: TestClient, rt: Runtime) -> None:
    key_id, token = keys.create_key(rt, "ops", "admin")
    log_in(client, "", token)
    assert "key ops · admin" in client.get("/dashboard/feeds").text
    client.cookies.clear()
    keys.revoke_key(rt, key_id)
    form_token = csrf_of(client.get("/dashboard/login").text)
    answer = client.post("/dashboard/login", data={"csrf_token": form_token, "secret": token})
    assert "wrong user, password or API key" in answer.text


def test_the_dashboard_session_also_reads_the_api(client: TestClient, admin: str) -> None:
    assert client.get("/api/v1/feeds").status_code == 200
    client.cookies.clear()
    assert client.get("/api/v1/feeds").status_code == 401


def test_add_a_feed_by_url_with_the_check(
    client: TestClient, admin: str, site: SiteServer, rt: Runtime
) -> None:
    form = {"csrf_token": admin, "url": f"{site.base_url}/feeds/alpha.rss"}
    answer = client.post("/dashboard/feeds", data=form)
    assert "watching feed 1: The Harbour Ledger: Top stories, 3 entries" in answer.text
    missing = client.post(
        "/dashboard/feeds", data={**form, "url": f"{site.base_url}/feeds/missing.rss"}
    )
    assert "404" in missing.text and len(catalog.list_feeds(rt)) == 1


def test_live_test_and_article_view_on_stored_articles(
    client: TestClient, admin: str, site: SiteServer, rt: Runtime
) -> None:
    feed = catalog.add_feed(rt, f"{site.base_url}/feeds/alpha.rss", "Ledger")
    poll_all(rt, int(feed.id))  # type: ignore[arg-type]
    answer = client.post(
        "/dashboard/rules/test",
        data={"query": "ceasefire AND killed:>=10"},
        headers={"X-CSRF-Token": admin},
    )
    assert "1</strong> of 3 stored articles match" in answer.text
    assert "Ceasefire talks resume after weekend of clashes in Sudan" in answer.text
    assert '<mark class="term">' in answer.text
    refused = client.post("/dashboard/rules/test", data={"query": "ceasefire"})
    assert refused.status_code == 403
    article_id = re.search(r"/dashboard/articles/(\d+)", answer.text).group(1)  # type: ignore[union-attr]
    page = client.get(f"/dashboard/articles/{article_id}?q=ceasefire").text
    assert re.search(r'class="hl [^"]*figure[^"]*" title="killed 42', page), page[-3000:]
    assert re.search(r'class="hl [^"]*term[^"]*"[^>]*>Ceasefire<', page, re.I)
    assert 'class="hl place"' in page


def test_assets_are_vendored_and_served_offline(client: TestClient, admin: str) -> None:
    vendored = (STATIC / "VENDORED.md").read_text()
    for name in (
        "htmx.min.js",
        "d3-geo.min.js",
        "d3-array.min.js",
        "topojson-client.min.js",
        "countries-110m.json",
    ):
        assert name in vendored
        assert client.get(f"/dashboard/static/vendor/{name}").status_code == 200
    assert client.get("/dashboard/static/../session.py").status_code == 404
    for path in PAGES[:5]:
        page = client.get(path).text
        assert not re.search(r'(src|href)="(https?:)?//', page), path


def test_templates_and_assets_ship_in_the_package() -> None:
    pyproject = (Path(__file__).parents[3] / "pyproject.toml").read_text()
    assert "dashboard/templates/*.html" in pyproject
    assert "dashboard/static/vendor/*" in pyproject


def test_opml_import_and_export(client: TestClient, admin: str, rt: Runtime) -> None:
    opml = (
        b'<?xml version="1.0" encoding="UTF-8"?><opml version="2.0"><head><title>r</title></head>'
        b'<body><outline text="World"><outline type="rss" text="Desk" '
        b'xmlUrl="http://127.0.0.1:9/desk.rss"/></outline>'
        b'<outline type="rss" text="No URL"/></body></opml>'
    )
    answer = client.post(
        "/dashboard/feeds/opml",
        data={"csrf_token": admin, "no_check": "1"},
        files={"file": ("feeds.opml", opml, "text/x-opml")},
    )
    assert "OPML imported: 1 feeds added, 0 already watched, 1 refused" in answer.text
    assert [feed.url for feed in catalog.list_feeds(rt)] == ["http://127.0.0.1:9/desk.rss"]
    exported = client.get("/dashboard/feeds/opml")
    assert exported.headers["content-disposition"].startswith("attachment")
    assert b'xmlUrl="http://127.0.0.1:9/desk.rss"' in exported.content
    not_opml = client.post(
        "/dashboard/feeds/opml",
        data={"csrf_token": admin},
        files={"file": ("feeds.opml", b"hello", "text/plain")},
    )
    assert 'class="flash error"' in not_opml.text and len(catalog.list_feeds(rt)) == 1


def test_editing_a_rule_changes_its_fields_and_keeps_it_disabled(
    client: TestClient, admin: str, rt: Runtime
) -> None:
    catalog.add_rule(rt, "evacuation", "evacuation", "http://127.0.0.1:9/hook")
    catalog.disable_rule(rt, "evacuation")
    assert "Edit rule evacuation" in client.get("/dashboard/rules?edit=evacuation").text
    form = {
        "csrf_token": admin,
        "edit": "1",
        "name": "evacuation",
        "query": "evacuat* AND place:SY",
        "webhook": "http://127.0.0.1:9/other",
        "mode": "daily",
    }
    answer = client.post("/dashboard/rules", data=form)
    assert "rule &#39;evacuation&#39; saved" in answer.text
    (rule,) = catalog.list_rules(rt)
    assert (rule.query, rule.webhook_url, rule.mode, rule.enabled) == (
        "evacuat* AND place:SY",
        "http://127.0.0.1:9/other",
        "daily",
        False,
    )


def test_logout_needs_the_token_and_ends_the_session(client: TestClient, admin: str) -> None:
    assert "did not come from this dashboard" in client.post("/dashboard/logout").text
    assert client.get("/dashboard/feeds", follow_redirects=False).status_code == 200
    client.post("/dashboard/logout", data={"csrf_token": admin})
    assert client.get("/dashboard/feeds", follow_redirects=False).status_code == 303
