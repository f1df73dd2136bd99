"""Delivery policy and digests: pure decisions about what one send attempt means.

``classify_attempt`` turns the result of one attempt (HTTP status or transport error) into
an outcome: delivered, retry at a jittered time from ``DELIVERY_RETRY_DELAYS`` (5 s … 10 h,
about 28 h in all), dead-lettered, or dead-lettered with the endpoint disabled (HTTP 410).
Redirects are failures because webhooks are never followed to another address; 429 and
503 honour Retry-After; a receiver that hangs is cut at the timeout by the transport and
arrives here as an error string with no status.

Digests group a rule's alerts over a closed period (hourly, or daily closing at 00:00 UTC)
into one "alert.digest" payload; ``alert_text``/``digest_text`` render Markdown for people.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.model import FIGURE_CATEGORIES, AttemptVerdict, RuleMode
from pipeline.stages.schedule import DELIVERY_RETRY_DELAYS, next_delivery_at

DIGEST_EVENT_TYPE = "alert.digest"
_PERIODS = {RuleMode.HOURLY: timedelta(hours=1), RuleMode.DAILY: timedelta(days=1)}

_RETRY_AFTER_CODES = frozenset({429, 503})
MAX_ATTEMPTS = len(DELIVERY_RETRY_DELAYS) + 1

# Limits that keep a message readable in chat apps, which truncate long bodies anyway.
_SENTENCES_PER_ALERT = 3
_SENTENCES_PER_DIGEST_ITEM = 1
_FIGURES_PER_ALERT = 3
_DIGEST_ITEMS = 50
_SENTENCE_CHARS = 300

# Casualty-like figures matter most to a reader, then counts, then money and percentages
# (the category order of the extraction contract is that order).
_FIGURE_PRIORITY = FIGURE_CATEGORIES


@dataclass(frozen=True)
class AttemptOutcome:
    """What to do with an alert after one attempt.

    ``status`` is delivered, retry (at ``next_attempt_at``), dead (dead-letter the alert)
    or endpoint-disabled (dead-letter it and disable the endpoint: HTTP 410).
    """

    status: AttemptVerdict
    next_attempt_at: datetime | None
    error: str | None
    disable_endpoint: bool


def classify_attempt(
    now: datetime,
    attempts_so_far: int,
    status_code: int | None,
    error: str | None,
    retry_after: float | None,
    rng: random.Random | None = None,
    *,
    permanent: bool = False,
) -> AttemptOutcome:
    """Outcome of one attempt.

    ``attempts_so_far`` counts attempts made, including this one (1 after the first try).
    ``status_code`` None with ``error`` None is a success from a transport that has no
    status (Apprise). ``permanent`` marks an error no retry can fix (a refused destination,
    an invalid target): the alert is dead-lettered at once.
    """
    if attempts_so_far < 1:
        raise ValueError("attempts_so_far counts this attempt too, so it is at least 1")
    if error is None and (status_code is None or 200 <= status_code < 300):
        return AttemptOutcome(AttemptVerdict.DELIVERED, None, None, False)
    reason = error or _status_error(status_code)
    if status_code == 410:
        return AttemptOutcome(
            AttemptVerdict.ENDPOINT_DISABLED, None, f"{reason} (410 Gone: endpoint disabled)", True
        )
    if permanent:
        return AttemptOutcome(AttemptVerdict.DEAD, None, reason, False)
    honoured = None
    if status_code in _RETRY_AFTER_CODES and retry_after is not None and retry_after > 0:
        honoured = retry_after
    retry_at = next_delivery_at(now, attempts_so_far, honoured, rng)
    if retry_at is None:
        return AttemptOutcome(
            AttemptVerdict.DEAD,
            None,
            f"gave up after {attempts_so_far} attempts; last error: {reason}",
            False,
        )
    return AttemptOutcome(AttemptVerdict.RETRY, retry_at, reason, False)


def _status_error(status_code: int | None) -> str:
    if status_code is None:
        return "no response from the receiver"
    if 300 <= status_code < 400:
        return f"receiver answered HTTP {status_code} (redirects are not followed)"
    return f"receiver answered HTTP {status_code}"


# --- digest periods ------------------------------------------------------------------------


def digest_window(mode: str, now: datetime) -> tuple[datetime, datetime] | None:
    """The period that has just closed at or before ``now``; None for immediate."""
    period = _period(mode)
    if period is None:
        return None
    end = _floor(_utc(now), mode)
    return end - period, end


def next_digest_at(mode: str, now: datetime) -> datetime | None:
    """When the current period closes (strictly after ``now``); None for immediate."""
    period = _period(mode)
    if period is None:
        return None
    return _floor(_utc(now), mode) + period


def _period(mode: str) -> timedelta | None:
    if mode not in tuple(RuleMode):
        raise ValueError(f"unknown digest mode {mode!r}; use one of {', '.join(RuleMode)}")
    return _PERIODS.get(RuleMode(mode))


def _floor(when: datetime, mode: str) -> datetime:
    when = when.replace(minute=0, second=0, microsecond=0)
    return when.replace(hour=0) if mode == RuleMode.DAILY else when


def _utc(when: datetime) -> datetime:
    # Naive datetimes are UTC throughout the project (see pipeline.stages.alert._iso).
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _iso(when: datetime) -> str:
    return _utc(when).isoformat().replace("+00:00", "Z")


# --- digest payload ------------------------------------------------------------------------


def digest_webhook_id(rule_id: int, period_start: datetime) -> str:
    """A webhook-id that is the same every time this rule's digest for this period is built."""
    return f"msg_digest_{rule_id}_{int(_utc(period_start).timestamp())}"


def build_digest(
    rule: dict[str, Any],
    alerts: list[dict[str, Any]],
    period_start: datetime,
    period_end: datetime,
) -> dict[str, Any]:
    """An "alert.digest" payload listing each alert's article, matches and changes.

    ``alerts`` are stored alert payloads ("alert.matched", or just their "data" part).
    """
    items = [_digest_item(_data(alert), alert) for alert in alerts]
    items.sort(key=lambda item: (item["created_at"] or "", item["alert_id"] or 0))
    rule_part = {key: rule.get(key) for key in ("id", "name", "query")}
    return {
        "type": DIGEST_EVENT_TYPE,
        "timestamp": _iso(period_end),
        "data": {
            "webhook_id": digest_webhook_id(int(rule.get("id") or 0), period_start),
            "rule": rule_part,
            "period": {"start": _iso(period_start), "end": _iso(period_end)},
            "count": len(items),
            "alerts": items,
        },
    }


def _data(alert: dict[str, Any]) -> dict[str, Any]:
    data = alert.get("data")
    return data if isinstance(data, dict) else alert


def _digest_item(data: dict[str, Any], alert: dict[str, Any]) -> dict[str, Any]:
    article = data.get("article") or {}
    return {
        "alert_id": data.get("alert_id"),
        "created_at": alert.get("timestamp") or data.get("created_at"),
        "article": {
            key: article.get(key) for key in ("id", "title", "url", "published", "site_name")
        },
        "matches": list(data.get("matches") or []),
        "changes": data.get("changes") or (data.get("story") or {}).get("changes") or {},
    }


# --- text for people -----------------------------------------------------------------------


def alert_text(payload: dict[str, Any]) -> tuple[str, str]:
    """Title and Markdown body for one alert: rule, article, matched sentences, top figures."""
    data = _data(payload)
    rule_name = str((data.get("rule") or {}).get("name") or "rule")
    article = data.get("article") or {}
    headline = _clean(str(article.get("title") or article.get("url") or "untitled article"))
    lines = [f"**Rule:** {_escape(rule_name)}", "", _link(article)]
    source = article.get("site_name") or ""
    if source:
        lines.append(f"_{_escape(_clean(str(source)))}_")
    sentences = _matched_sentences(data.get("matches") or [], _SENTENCES_PER_ALERT)
    if sentences:
        lines += ["", "**Why it matched**"]
        for sentence in sentences:  # a blank line keeps each quote its own paragraph
            lines += [sentence, ""]
        lines.pop()
    figures = _top_figures((data.get("extraction") or {}).get("figures") or [])
    if figures:
        lines += ["", "**Figures**", *figures]
    changes = _change_lines(data.get("changes") or {})
    if changes:
        lines += ["", "**What changed**", *(f"- {change}" for change in changes)]
    return f"[{rule_name}] {headline}", "\n".join(lines)


def digest_text(digest: dict[str, Any]) -> tuple[str, str]:
    """Title and Markdown body for a digest built by ``build_digest``."""
    data = _data(digest)
    rule_name = str((data.get("rule") or {}).get("name") or "rule")
    items = data.get("alerts") or []
    period = data.get("period") or {}
    span = _span(period.get("start"), period.get("end"))
    noun = "alert" if len(items) == 1 else "alerts"
    title = f"[{rule_name}] {len(items)} {noun} {span}".rstrip()
    if not items:
        return title, f"No alerts for **{_escape(rule_name)}** {span}.".replace("  ", " ")
    lines = [f"**{len(items)} {noun}** for **{_escape(rule_name)}** {span}".rstrip(), ""]
    for item in items[:_DIGEST_ITEMS]:
        lines.append(f"- {_link(item.get('article') or {})}")
        for sentence in _matched_sentences(item.get("matches") or [], _SENTENCES_PER_DIGEST_ITEM):
            lines.append(f"  {sentence}")
        lines.extend(f"  - {change}" for change in _change_lines(item.get("changes") or {}))
    if len(items) > _DIGEST_ITEMS:
        lines.append(f"- … and {len(items) - _DIGEST_ITEMS} more")
    return title, "\n".join(lines)


def _span(start: str | None, end: str | None) -> str:
    if not start or not end:
        return ""
    start_dt = datetime.fromisoformat(start.replace("Z", "+00:00"))
    end_dt = datetime.fromisoformat(end.replace("Z", "+00:00"))
    if end_dt - start_dt == timedelta(days=1) and start_dt.hour == 0 and start_dt.minute == 0:
        return f"on {start_dt:%Y-%m-%d} (UTC)"
    return f"from {start_dt:%Y-%m-%d %H:%M} to {end_dt:%H:%M} UTC"


def _link(article: dict[str, Any]) -> str:
    url = str(article.get("url") or "")
    title = _escape(_clean(str(article.get("title") or url or "untitled article")))
    if not url:
        return f"**{title}**"
    # Angle brackets keep parentheses inside the URL from ending the link early.
    return f"[{title}](<{url.replace('>', '%3E')}>)"


def _matched_sentences(hits: list[dict[str, Any]], limit: int) -> list[str]:
    terms_by_sentence: dict[str, list[str]] = {}
    for hit in hits:
        sentence = _clean(str(hit.get("sentence") or ""))
        if not sentence:
            continue
        terms = terms_by_sentence.setdefault(sentence, [])
        term = str(hit.get("term") or "")
        if term and term not in terms:
            terms.append(term)
    lines = []
    for sentence, terms in list(terms_by_sentence.items())[:limit]:
        quoted = _escape(_shorten(sentence, _SENTENCE_CHARS))
        suffix = f" ({', '.join(_escape(t) for t in terms)})" if terms else ""
        lines.append(f"> {quoted}{suffix}")
    return lines


def _top_figures(figures: list[dict[str, Any]]) -> list[str]:
    def rank(figure: dict[str, Any]) -> tuple[int, int, int]:
        category = str(figure.get("category") or "")
        order = (
            _FIGURE_PRIORITY.index(category)
            if category in _FIGURE_PRIORITY
            else len(_FIGURE_PRIORITY)
        )
        # Totals before their subgroups ("12 killed, including 3 children").
        return (order, 0 if figure.get("part_of") is None else 1, int(figure.get("start") or 0))

    return [f"- {_figure_phrase(f)}" for f in sorted(figures, key=rank)[:_FIGURES_PER_ALERT]]


def _figure_phrase(figure: dict[str, Any]) -> str:
    category = str(figure.get("category") or "figure")
    value = _number(figure.get("value"))
    if category == "money" and figure.get("currency"):
        value = f"{value} {figure['currency']}"
    elif category == "percent":
        value = f"{value}%"
    qualifier = figure.get("qualifier")
    noun = figure.get("noun")
    label = f"{category} ({noun})" if noun and noun != category else category
    phrase = f"{label}: {f'{qualifier} ' if qualifier else ''}{value}"
    text = _clean(str(figure.get("text") or ""))
    return _escape(f"{phrase} — “{text}”" if text else phrase)


def _change_lines(changes: dict[str, Any]) -> list[str]:
    lines = []
    for revised in changes.get("revised_figures") or []:
        label = revised.get("noun") or revised.get("category") or "figure"
        old, new = _number(revised.get("from")), _number(revised.get("to"))
        lines.append(_escape(f"revised: {label} {old} → {new}"))
    for figure in changes.get("new_figures") or []:
        lines.append(f"new figure: {_figure_phrase(figure)}")
    terms = [str(term) for term in changes.get("new_terms") or []]
    if terms:
        lines.append(_escape(f"newly matched: {', '.join(terms)}"))
    return lines


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.6g}" if abs(value) >= 1000 else f"{value:.6g}"


def _clean(text: str) -> str:
    return " ".join(text.split())


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


_MARKDOWN_SPECIALS = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>"})


def _escape(text: str) -> str:
    """Escape characters that would turn user text (titles, sentences) into markup."""
    return text.translate(_MARKDOWN_SPECIALS)
