from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from pipeline.model import AttemptVerdict
from pipeline.stages.delivery import (
    MAX_ATTEMPTS,
    alert_text,
    build_digest,
    classify_attempt,
    digest_text,
    digest_webhook_id,
    digest_window,
    next_digest_at,
)
from pipeline.stages.schedule import DELIVERY_RETRY_DELAYS, RETRY_JITTER

NOW = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)


# --- attempt policy ------------------------------------------------------------------------


@pytest.mark.parametrize("code", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(code: int) -> None:
    outcome = classify_attempt(NOW, 1, code, None, None)
    assert outcome.status == AttemptVerdict.DELIVERED
    assert outcome.next_attempt_at is None
    assert outcome.error is None
    assert not outcome.disable_endpoint


def test_no_status_and_no_error_is_delivered() -> None:
    # Apprise reports success without an HTTP status.
    assert classify_attempt(NOW, 1, None, None, None).status == AttemptVerdict.DELIVERED


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_3xx_is_a_failure_that_retries(code: int) -> None:
    outcome = classify_attempt(NOW, 1, code, None, None, random.Random(1))
    assert outcome.status == AttemptVerdict.RETRY
    assert outcome.error is not None
    assert "redirect" in outcome.error
    assert outcome.next_attempt_at is not None


@pytest.mark.parametrize("code", [400, 401, 403, 404, 408, 500, 502, 504])
def test_other_failures_retry_on_the_first_step(code: int) -> None:
    outcome = classify_attempt(NOW, 1, code, f"receiver answered HTTP {code}", None)
    assert outcome.status == AttemptVerdict.RETRY
    assert outcome.error == f"receiver answered HTTP {code}"
    delay = outcome.next_attempt_at - NOW  # type: ignore[operator]
    assert timedelta(seconds=4.5) <= delay <= timedelta(seconds=5.5)


def test_410_disables_the_endpoint_and_dead_letters() -> None:
    outcome = classify_attempt(NOW, 1, 410, None, None)
    assert outcome.status == AttemptVerdict.ENDPOINT_DISABLED
    assert outcome.disable_endpoint
    assert outcome.next_attempt_at is None
    assert outcome.error is not None
    assert "410" in outcome.error


@pytest.mark.parametrize("code", [429, 503])
def test_429_and_503_honour_retry_after(code: int) -> None:
    outcome = classify_attempt(NOW, 1, code, None, 120.0, random.Random(3))
    assert outcome.status == AttemptVerdict.RETRY
    assert outcome.next_attempt_at == NOW + timedelta(seconds=120)


def test_retry_after_shorter_than_the_schedule_does_not_shorten_it() -> None:
    outcome = classify_attempt(NOW, 3, 429, None, 1.0, random.Random(3))
    delay = outcome.next_attempt_at - NOW  # type: ignore[operator]
    assert delay >= timedelta(minutes=27)


def test_retry_after_is_capped_at_a_day() -> None:
    outcome = classify_attempt(NOW, 1, 503, None, 10 * 86_400.0)
    assert outcome.next_attempt_at == NOW + timedelta(days=1)


def test_retry_after_is_ignored_for_other_statuses() -> None:
    outcome = classify_attempt(NOW, 1, 500, None, 3600.0)
    delay = outcome.next_attempt_at - NOW  # type: ignore[operator]
    assert delay < timedelta(seconds=6)


def test_a_hung_receiver_cut_at_the_timeout_retries() -> None:
    outcome = classify_attempt(NOW, 2, None, "https://r.example/: timed out (ReadTimeout)", None)
    assert outcome.status == AttemptVerdict.RETRY
    assert outcome.error == "https://r.example/: timed out (ReadTimeout)"
    delay = outcome.next_attempt_at - NOW  # type: ignore[operator]
    assert timedelta(minutes=4.5) <= delay <= timedelta(minutes=5.5)


def test_permanent_errors_dead_letter_at_once() -> None:
    outcome = classify_attempt(NOW, 1, None, "refused 10.0.0.1: non-public", None, permanent=True)
    assert outcome.status == AttemptVerdict.DEAD
    assert outcome.next_attempt_at is None
    assert outcome.error == "refused 10.0.0.1: non-public"


def test_schedule_exhaustion_dead_letters() -> None:
    last_retry = classify_attempt(NOW, MAX_ATTEMPTS - 1, 500, None, None)
    assert last_retry.status == AttemptVerdict.RETRY
    outcome = classify_attempt(NOW, MAX_ATTEMPTS, 500, None, None)
    assert outcome.status == AttemptVerdict.DEAD
    assert outcome.next_attempt_at is None
    assert outcome.error is not None
    assert f"gave up after {MAX_ATTEMPTS} attempts" in outcome.error
    assert "HTTP 500" in outcome.error


def test_schedule_follows_the_documented_delays_within_jitter() -> None:
    rng = random.Random(42)
    for attempts, base in enumerate(DELIVERY_RETRY_DELAYS, start=1):
        for _ in range(200):
            outcome = classify_attempt(NOW, attempts, 502, None, None, rng)
            delay = outcome.next_attempt_at - NOW  # type: ignore[operator]
            assert base * (1 - RETRY_JITTER) <= delay <= base * (1 + RETRY_JITTER)


def test_jitter_spreads_retries() -> None:
    rng = random.Random(7)
    times = {classify_attempt(NOW, 4, 500, None, None, rng).next_attempt_at for _ in range(20)}
    assert len(times) > 10


def test_seeded_rng_is_deterministic() -> None:
    first = classify_attempt(NOW, 2, 500, None, None, random.Random(5))
    second = classify_attempt(NOW, 2, 500, None, None, random.Random(5))
    assert first == second


def test_attempts_must_count_this_attempt() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        classify_attempt(NOW, 0, 500, None, None)


# --- digest windows ------------------------------------------------------------------------


def _at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        (_at(4, 10, 59, 59), _at(4, 9), _at(4, 10)),
        (_at(4, 10), _at(4, 9), _at(4, 10)),
        (_at(4, 10, 0, 1), _at(4, 9), _at(4, 10)),
        (_at(4, 0, 5), _at(3, 23), _at(4, 0)),
    ],
)
def test_hourly_window_is_the_hour_that_just_closed(
    now: datetime, start: datetime, end: datetime
) -> None:
    assert digest_window("hourly", now) == (start, end)


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        (_at(4, 0), _at(3, 0), _at(4, 0)),
        (_at(4, 23, 59, 59), _at(3, 0), _at(4, 0)),
        (datetime(2026, 3, 1, 0, 0, 1, tzinfo=UTC), _at(28, 0).replace(month=2), _at(1, 0)),
    ],
)
def test_daily_window_closes_at_midnight_utc(now: datetime, start: datetime, end: datetime) -> None:
    assert digest_window("daily", now) == (start, end)


def test_windows_are_computed_in_utc() -> None:
    # 01:30 in UTC+2 is 23:30 UTC on the previous day.
    local = datetime(2026, 3, 5, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert digest_window("daily", local) == (_at(3, 0), _at(4, 0))
    naive = datetime(2026, 3, 4, 10, 15)
    assert digest_window("hourly", naive) == (_at(4, 9), _at(4, 10))


def test_immediate_mode_has_no_window() -> None:
    assert digest_window("immediate", NOW) is None
    assert next_digest_at("immediate", NOW) is None


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown digest mode"):
        digest_window("weekly", NOW)
    with pytest.raises(ValueError, match="unknown digest mode"):
        next_digest_at("weekly", NOW)


def test_next_digest_at_is_the_next_boundary() -> None:
    assert next_digest_at("hourly", _at(4, 10, 30)) == _at(4, 11)
    assert next_digest_at("hourly", _at(4, 10)) == _at(4, 11)
    assert next_digest_at("daily", _at(4, 10, 30)) == _at(5, 0)
    assert next_digest_at("daily", _at(4, 0)) == _at(5, 0)


def test_window_ends_where_the_previous_next_digest_pointed() -> None:
    before = _at(4, 9, 42)
    due = next_digest_at("hourly", before)
    assert due is not None
    assert digest_window("hourly", due) == (_at(4, 9), _at(4, 10))


# --- payloads and texts --------------------------------------------------------------------

SENTENCE = "A fire broke out at the harbour."
RULE = {"id": 9, "name": "Harbour fires", "query": "fire AND harbour"}


def _alert(alert_id: int, minute: int, title: str = "Fire at the harbour") -> dict[str, Any]:
    return {
        "type": "alert.matched",
        "timestamp": f"2026-03-04T09:{minute:02d}:00Z",
        "data": {
            "alert_id": alert_id,
            "webhook_id": f"msg_{alert_id}",
            "rule": RULE,
            "article": {
                "id": 100 + alert_id,
                "title": title,
                "url": f"https://news.example/story-{alert_id}",
                "published": None,
                "site_name": "Example Times",
                "feeds": [],
            },
            "matches": [
                {"term": "fire", "field": "text", "sentence": "A fire broke out at the harbour."},
                {
                    "term": "harbour",
                    "field": "text",
                    "sentence": "A fire broke out at the harbour.",
                },
                {"term": "fire", "field": "title", "sentence": title},
            ],
            "extraction": {
                "figures": [
                    _figure("money", 2_500_000, "2.5 million euros", 80, currency="EUR"),
                    _figure("injured", 14, "14 people were hurt", 40, noun="people"),
                    _figure("killed", 3, "three dockers died", 10, noun="dockers"),
                    _figure("percent", 40, "40 per cent", 120),
                ]
            },
            "changes": {
                "new_figures": [],
                "revised_figures": [
                    {"category": "injured", "noun": "wounded", "from": 301, "to": 412}
                ],
                "new_terms": ["harbour"],
            },
        },
    }


def _figure(
    category: str, value: float, text: str, start: int, noun: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "value": value,
        "category": category,
        "qualifier": None,
        "noun": noun,
        "part_of": None,
        "text": text,
        "start": start,
        "end": start + len(text),
        "sentence": text,
        **extra,
    }


def test_build_digest_lists_each_alert_in_time_order() -> None:
    alerts = [_alert(2, 40), _alert(1, 5), _alert(3, 40)]
    digest = build_digest(RULE, alerts, _at(4, 9), _at(4, 10))
    assert digest["type"] == "alert.digest"
    assert digest["timestamp"] == "2026-03-04T10:00:00Z"
    data = digest["data"]
    assert data["rule"] == RULE
    assert data["period"] == {"start": "2026-03-04T09:00:00Z", "end": "2026-03-04T10:00:00Z"}
    assert data["count"] == 3
    assert [item["alert_id"] for item in data["alerts"]] == [1, 2, 3]
    first = data["alerts"][0]
    assert first["article"]["title"] == "Fire at the harbour"
    assert first["article"]["url"] == "https://news.example/story-1"
    assert first["matches"][0]["term"] == "fire"
    assert first["changes"]["revised_figures"][0]["to"] == 412
    json.dumps(digest)  # the payload must be JSON as it stands


def test_build_digest_accepts_bare_alert_data() -> None:
    digest = build_digest(RULE, [_alert(1, 5)["data"]], _at(4, 9), _at(4, 10))
    assert digest["data"]["alerts"][0]["article"]["id"] == 101


def test_digest_webhook_id_is_stable_per_rule_and_period() -> None:
    one = build_digest(RULE, [_alert(1, 5)], _at(4, 9), _at(4, 10))
    again = build_digest(RULE, [_alert(1, 5), _alert(2, 6)], _at(4, 9), _at(4, 10))
    assert one["data"]["webhook_id"] == again["data"]["webhook_id"]
    assert digest_webhook_id(9, _at(4, 9)) != digest_webhook_id(9, _at(4, 10))
    assert digest_webhook_id(9, _at(4, 9)) != digest_webhook_id(8, _at(4, 9))


def test_digest_text_for_people() -> None:
    digest = build_digest(RULE, [_alert(1, 5), _alert(2, 6)], _at(4, 9), _at(4, 10))
    title, body = digest_text(digest)
    assert title == "[Harbour fires] 2 alerts from 2026-03-04 09:00 to 10:00 UTC"
    assert "[Fire at the harbour](<https://news.example/story-1>)" in body
    assert "> A fire broke out at the harbour. (fire, harbour)" in body
    assert "revised: wounded 301 → 412" in body
    assert "newly matched: harbour" in body


def test_daily_digest_title_names_the_day() -> None:
    digest = build_digest(RULE, [_alert(1, 5)], _at(3, 0), _at(4, 0))
    title, _ = digest_text(digest)
    assert title == "[Harbour fires] 1 alert on 2026-03-03 (UTC)"


def test_empty_digest_says_so() -> None:
    title, body = digest_text(build_digest(RULE, [], _at(4, 9), _at(4, 10)))
    assert title.startswith("[Harbour fires] 0 alerts")
    assert body.startswith("No alerts for **Harbour fires**")


def test_long_digest_is_cut_with_a_count() -> None:
    alerts = [_alert(i, i - 1) for i in range(1, 61)]
    _, body = digest_text(build_digest(RULE, alerts, _at(4, 9), _at(4, 10)))
    assert "… and 10 more" in body
    assert sum(line.startswith("- [") for line in body.splitlines()) == 50
    assert "story-50>" in body
    assert "story-51>" not in body


def test_alert_text_has_rule_article_sentences_and_top_figures() -> None:
    title, body = alert_text(_alert(1, 5))
    assert title == "[Harbour fires] Fire at the harbour"
    assert "**Rule:** Harbour fires" in body
    assert "[Fire at the harbour](<https://news.example/story-1>)" in body
    assert "> A fire broke out at the harbour. (fire, harbour)" in body
    figures = body.split("**Figures**")[1].split("**What changed**")[0]
    lines = [line for line in figures.splitlines() if line.startswith("- ")]
    # Casualties before money; percentages are cut at three figures.
    assert lines == [
        "- killed (dockers): 3 — “three dockers died”",
        "- injured (people): 14 — “14 people were hurt”",
        "- money: 2,500,000 EUR — “2.5 million euros”",
    ]
    assert "- revised: wounded 301 → 412" in body


def test_alert_text_escapes_markup_in_titles() -> None:
    title, body = alert_text(_alert(1, 5, title="Fire [update] *live*"))
    assert title == "[Harbour fires] Fire [update] *live*"
    assert r"[Fire \[update\] \*live\*](<https://news.example/story-1>)" in body


def test_alert_text_without_matches_or_figures() -> None:
    payload = {"data": {"rule": {"name": "r"}, "article": {"url": "https://x.example/a"}}}
    title, body = alert_text(payload)
    assert title == "[r] https://x.example/a"
    assert "**Figures**" not in body
    assert "**Why it matched**" not in body
