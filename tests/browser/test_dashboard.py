"""The analyst's path in a real browser: log in, add a feed by its web page, write a rule
and watch the live test match as it is typed, see the alert with its delivery attempts and
replay it, open the article with its highlights; then the map and the status page.

Each step saves a screenshot under test-artifacts/browser/ and checks what the page says
(text and elements), never pixels.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, SECRET, USER, Dashboard, artifacts_dir

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def page(browser: Any, dashboard: Dashboard) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(artifacts_dir() / f"{name}.png"), full_page=True)


def reload_until(page: Any, ready: Callable[[], bool], timeout: float) -> bool:
    """Reload the page until ``ready()`` holds (bounded in time and count)."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout) + 1):
        if ready():
            return True
        if time.monotonic() > deadline:
            break
        time.sleep(1)
        page.reload()
    return ready()


def test_a_login_is_required_then_the_user_logs_in(page: Any, dashboard: Dashboard) -> None:
    page.goto(f"{dashboard.url}/feeds")
    assert "/dashboard/login" in page.url
    page.fill("input[name=user]", USER)
    page.fill("input[name=secret]", "wrong")
    page.click("button[type=submit]")
    assert "wrong user, password or API key" in page.inner_text(".flash.error")
    page.fill("input[name=user]", USER)
    page.fill("input[name=secret]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/dashboard/feeds"))
    assert "No feeds yet" in page.inner_text("#feeds")
    assert f"{USER} · admin" in page.inner_text("header")


def test_b_add_a_feed_by_its_web_page(page: Any, dashboard: Dashboard) -> None:
    page.goto(f"{dashboard.url}/feeds")
    page.fill("#add-feed input[name=url]", f"{dashboard.site.base_url}/desk.html")
    page.click("#add-feed button[type=submit]")
    flash = page.inner_text(".flash.ok")
    assert "watching feed 1: Night desk" in flash
    assert "found on" in flash and "desk.html" in flash
    table = page.inner_text("#feeds")
    assert "Night desk" in table and "/feeds/desk.rss" in table
    # The worker polls it at once: wait for the poll to show on the page.
    assert reload_until(page, lambda: "—" not in _cell(page, "#feeds tbody tr", 3), 60), (
        dashboard.log.read_text()[-3000:]
    )
    assert page.inner_text("#feeds tbody tr .pill") == "ok"
    shot(page, "1-feeds")


def _cell(page: Any, row: str, index: int) -> str:
    return str(page.locator(row).first.locator("td").nth(index).inner_text())


def test_c_write_a_rule_and_see_the_live_test_match(page: Any, dashboard: Dashboard) -> None:
    page.goto(f"{dashboard.url}/rules")
    # The article of the first feed must be stored before the live test can find it.
    query = page.locator("#query")
    deadline = time.monotonic() + 90
    matched = False
    while time.monotonic() < deadline and not matched:
        query.fill("")
        query.press_sequentially("ceasefire AND killed:>=10", delay=20)
        page.wait_for_selector("#live-summary", timeout=15_000)
        matched = page.inner_text("#live-summary").startswith("1 of")
        if not matched:
            time.sleep(2)
    assert matched, dashboard.log.read_text()[-3000:]
    live = page.inner_text("#live-test")
    assert "Guns fall silent in the north" in live  # the feed's title
    assert "ceasefire" in page.inner_text("#live-test mark.term")
    assert "killed at least 23 people" in live  # the sentence the figure term matched in
    # A broken query says where, as you type.
    query.press_sequentially(" AND (", delay=20)
    page.wait_for_selector(".query-error")
    assert "position" in page.inner_text(".query-error")
    query.fill("ceasefire AND killed:>=10")
    page.fill("input[name=name]", "ceasefire")
    page.fill("input[name=webhook]", dashboard.receiver.url)
    page.fill("input[name=secret]", SECRET)
    page.wait_for_selector("#live-summary")
    shot(page, "2-rule-live-test")
    page.click("#rule-form button[type=submit]")
    assert "rule 'ceasefire' saved" in page.inner_text(".flash.ok")
    assert "ceasefire AND killed:>=10" in page.inner_text("#rules")
    # The backtest over the stored articles finds the same article.
    page.click("#rules button:has-text('backtest')")
    page.wait_for_selector("#backtest-result")
    assert "1 of 1 articles" in page.inner_text("#backtest-result")


def test_d_an_alert_shows_its_attempts_and_is_replayed(page: Any, dashboard: Dashboard) -> None:
    page.goto(f"{dashboard.url}/feeds")
    page.fill("#add-feed input[name=url]", f"{dashboard.site.base_url}/feeds/wire.rss")
    page.fill("#add-feed input[name=name]", "Wire")
    page.click("#add-feed button[type=submit]")
    assert "watching feed 2: Wire" in page.inner_text(".flash.ok")
    # First delivery answers 500, the retry (5 s later) is delivered.
    page.goto(f"{dashboard.url}/alerts?status=delivered")
    assert reload_until(page, lambda: "alert 1" in page.inner_text("#alerts"), 90), (
        dashboard.log.read_text()[-3000:]
    )
    timeline = page.inner_text("#alerts")
    assert "[ceasefire]" in timeline and "Ceasefire frays in Idlib" in timeline
    assert "2 attempts" in timeline
    shot(page, "3-alerts")
    page.click("#alerts a:has-text('alert 1')")
    attempts = page.inner_text("#attempts")
    assert "HTTP 500" in attempts and "HTTP 204" in attempts
    page.click("#replay")
    assert "queued for replay" in page.inner_text(".flash.ok")
    assert reload_until(page, lambda: page.locator("#attempts tbody tr").count() == 3, 60)
    assert page.inner_text("#attempts").count("HTTP 204") == 2
    assert dashboard.receiver.wait_for(2, timeout=10)
    first, replayed = dashboard.receiver.verified[:2]
    assert first.webhook_id == replayed.webhook_id  # a replay keeps the webhook-id
    shot(page, "4-alert-attempts")


def test_e_the_article_shows_its_highlights(page: Any, dashboard: Dashboard) -> None:
    page.goto(f"{dashboard.url}/alerts/1")
    page.click("dl.facts a[href*='/articles/']")
    page.wait_for_selector("#article-text")
    assert "Ceasefire frays" in page.inner_text("h1")
    terms = page.locator("#article-text .hl.term").all_inner_texts()
    assert any(t.lower() == "ceasefire" for t in terms), terms
    figures = page.locator("#article-text .hl.figure").all_inner_texts()
    assert "at least 14" in figures and "five" in figures, figures
    assert "killed" in (page.locator("#article-text .hl.figure").first.get_attribute("title") or "")
    places = page.locator("#article-text .hl.place").all_inner_texts()
    assert "Idlib" in places, places
    sentences = "".join(page.locator("#article-text .hl.sentence").all_inner_texts())
    assert "killing at least 14 civilians" in sentences
    side = page.inner_text("#figures")
    assert "killed" in side and "at least" in side and "subgroup of at least 14" in side
    shot(page, "5-article")
    # The README's picture (docs/dashboard.png is copied from it): one small window.
    page.set_viewport_size({"width": 1100, "height": 720})
    page.screenshot(path=str(artifacts_dir() / "dashboard.png"))
    page.set_viewport_size({"width": 1280, "height": 900})


def test_f_map_and_status(page: Any, dashboard: Dashboard) -> None:
    page.goto(f"{dashboard.url}/places")
    page.wait_for_selector("#world-map[data-drawn]")
    assert int(page.get_attribute("#world-map", "data-drawn") or 0) > 100
    assert page.locator("#world-map path.has-articles").count() >= 1
    assert "Syria" in page.inner_text("#countries")
    shot(page, "6-places")
    page.goto(f"{dashboard.url}/status")
    tiles = page.inner_text(".tiles")
    assert "waiting in queue" in tiles and "articles / min" in tiles
    assert "None: every feed answers." in page.inner_text("#failing")
    shot(page, "7-status")
