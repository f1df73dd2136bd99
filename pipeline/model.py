"""The types that flow between stages and services, and the states rows move through.

States are ``StrEnum`` members stored as their string values, so the database keeps the
same text it always had and a typo becomes an AttributeError instead of a silent no-op.
The contract types are the values one stage hands the next (a figure, an extraction, a
match result, the pieces of an alert payload); their ``to_dict`` forms are what the store
keeps as JSON and what webhooks carry, and ``from_dict`` reads that JSON back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# --- states --------------------------------------------------------------------------------


class FetchStatus(StrEnum):
    """An article's page: waiting, fetched, or replaced by the feed's own text (fallback)."""

    PENDING = "pending"
    FETCHED = "fetched"
    FALLBACK = "fallback"


class ArticleState(StrEnum):
    """Where an article's processing stands: pending until processed; failed (terminal)
    after ``article_max_attempts`` attempts that did not finish, with the reason kept."""

    PENDING = "pending"
    PROCESSED = "processed"
    FAILED = "failed"


class OutboxStatus(StrEnum):
    """An alert or notification row: pending (due at next_attempt_at) -> sending (claimed)
    -> delivered | dead; digest rules hold alerts until their period closes (held ->
    digested)."""

    PENDING = "pending"
    HELD = "held"
    SENDING = "sending"
    DELIVERED = "delivered"
    DEAD = "dead"
    DIGESTED = "digested"


class RuleMode(StrEnum):
    """Immediate webhooks, or one digest message per closed hour or day."""

    IMMEDIATE = "immediate"
    HOURLY = "hourly"
    DAILY = "daily"


class AlertKind(StrEnum):
    """A rule's first alert for a story, or a later copy that added figures or terms."""

    NEW = "new"
    UPDATE = "update"


class Channel(StrEnum):
    """Notification transports (see ``pipeline.io.channels``)."""

    WEBHOOK = "webhook"
    APPRISE = "apprise"


class Origin(StrEnum):
    """Where a feed or rule came from: the config files own what they declare; what a user
    made by hand (CLI or API) is never changed by a sync."""

    CONFIG = "config"
    USER = "user"


class FeedHealth(StrEnum):
    """ok; failing after several failed polls in a row; silent when no new entry arrived
    for several of the feed's usual gaps; paused by the operator."""

    OK = "ok"
    FAILING = "failing"
    SILENT = "silent"
    PAUSED = "paused"


class FeedEventKind(StrEnum):
    """Feed-health events, delivered to the operator's webhook and channels."""

    FAILING = "feed.failing"
    SILENT = "feed.silent"
    RECOVERED = "feed.recovered"


class KeyScope(StrEnum):
    """What an API key may do: read everything, or also change feeds, rules and alerts."""

    READ = "read"
    ADMIN = "admin"


class PollStatus(StrEnum):
    OK = "ok"
    NOT_MODIFIED = "not-modified"
    ERROR = "error"
    # The feed's host was busy (per-host politeness): re-scheduled, nothing was sent.
    DEFERRED = "deferred"


class AttemptVerdict(StrEnum):
    """What one delivery attempt means for its outbox row."""

    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"
    ENDPOINT_DISABLED = "endpoint-disabled"


# --- figures, topics, places ---------------------------------------------------------------

# Casualty-like categories first, then counts, money and percentages: the query language
# accepts each as a field, and alert texts show figures in this order of importance.
FIGURE_CATEGORIES: tuple[str, ...] = (
    "killed",
    "injured",
    "missing",
    "kidnapped",
    "arrested",
    "evacuated",
    "displaced",
    "affected",
    "people",
    "count",
    "money",
    "percent",
)


def _json_number(value: float) -> float | int:
    return int(value) if value == int(value) else value


@dataclass(frozen=True)
class Figure:
    """A number that counts something: "killed 1,207 civilians" -> 1207, killed, civilians."""

    value: float
    category: str
    qualifier: str | None
    noun: str | None
    part_of: int | None
    text: str
    start: int
    end: int
    sentence: str
    currency: str | None = None
    value_max: float | None = None  # upper bound of a range ("18,000-25,000"); value is the lower

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form; integral values become ints; "currency" only for money and
        "value_max" only for ranges."""
        data: dict[str, object] = {
            "value": _json_number(self.value),
            "category": self.category,
            "qualifier": self.qualifier,
            "noun": self.noun,
            "part_of": self.part_of,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "sentence": self.sentence,
        }
        if self.category == "money":
            data["currency"] = self.currency
        if self.value_max is not None:
            data["value_max"] = _json_number(self.value_max)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Figure:
        value_max = data.get("value_max")
        return cls(
            value=float(data["value"]),
            category=str(data["category"]),
            qualifier=data.get("qualifier"),
            noun=data.get("noun"),
            part_of=data.get("part_of"),
            text=str(data.get("text", "")),
            start=int(data.get("start", 0)),
            end=int(data.get("end", 0)),
            sentence=str(data.get("sentence", "")),
            currency=data.get("currency"),
            value_max=None if value_max is None else float(value_max),
        )


@dataclass(frozen=True)
class TopicScore:
    """An IPTC Media Topic and how strongly the article is about it."""

    code: str
    label: str
    score: float

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "label": self.label, "score": round(self.score, 4)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TopicScore:
        return cls(code=str(data["code"]), label=str(data["label"]), score=float(data["score"]))


@dataclass(frozen=True)
class Place:
    name: str
    country: str | None
    geonameid: int | None
    lat: float | None
    lon: float | None
    mentions: int
    kind: str  # "country" | "city" | "region"

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "country": self.country,
            "geonameid": self.geonameid,
            "lat": self.lat,
            "lon": self.lon,
            "mentions": self.mentions,
            "kind": self.kind,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Place:
        return cls(
            name=str(data["name"]),
            country=data.get("country"),
            geonameid=data.get("geonameid"),
            lat=data.get("lat"),
            lon=data.get("lon"),
            mentions=int(data.get("mentions", 1)),
            kind=str(data.get("kind", "city")),
        )


@dataclass(frozen=True)
class Extraction:
    """Everything extraction found in one article (stored as JSON on the article)."""

    language: str | None
    word_count: int
    figures: tuple[Figure, ...] = ()
    topics: tuple[TopicScore, ...] = ()
    places: tuple[Place, ...] = ()
    country: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "word_count": self.word_count,
            "figures": [figure.to_dict() for figure in self.figures],
            "topics": [topic.to_dict() for topic in self.topics],
            "places": [place.to_dict() for place in self.places],
            "country": self.country,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Extraction:
        """Read a stored extraction back; an article stored without one reads as empty."""
        data = data or {}
        return cls(
            language=data.get("language"),
            word_count=int(data.get("word_count") or 0),
            figures=tuple(Figure.from_dict(f) for f in data.get("figures") or ()),
            topics=tuple(TopicScore.from_dict(t) for t in data.get("topics") or ()),
            places=tuple(Place.from_dict(p) for p in data.get("places") or ()),
            country=data.get("country"),
        )


# --- matching ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchDocument:
    """An article as the matcher sees it (extraction output included)."""

    title: str
    text: str
    feeds: tuple[str, ...] = ()
    language: str | None = None
    topics: tuple[tuple[str, str], ...] = ()  # (code, label)
    places: tuple[tuple[str, str | None], ...] = ()  # (name, country alpha-2)
    figures: tuple[tuple[str, float], ...] = ()  # (category, value)
    figure_sentences: tuple[str, ...] = ()  # parallel to figures when known

    @classmethod
    def from_extraction(
        cls, title: str, text: str, feeds: tuple[str, ...], extraction: Extraction
    ) -> MatchDocument:
        return cls(
            title=title,
            text=text,
            feeds=feeds,
            language=extraction.language,
            topics=tuple((t.code, t.label) for t in extraction.topics),
            places=tuple((p.name, p.country) for p in extraction.places),
            figures=tuple((f.category, float(f.value)) for f in extraction.figures),
            figure_sentences=tuple(f.sentence for f in extraction.figures),
        )


@dataclass(frozen=True)
class Hit:
    """One positive query term that matched, where, and the sentence it was found in."""

    term: str
    field: str
    sentence: str

    def to_dict(self) -> dict[str, str]:
        return {"term": self.term, "field": self.field, "sentence": self.sentence}


@dataclass(frozen=True)
class MatchResult:
    matched: bool
    hits: tuple[Hit, ...]


# --- alert payload pieces ------------------------------------------------------------------


@dataclass(frozen=True)
class RuleRef:
    """The rule as an alert payload names it."""

    id: int
    name: str
    query: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "query": self.query}


@dataclass(frozen=True)
class FeedRef:
    id: int
    name: str
    url: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "url": self.url}

    @staticmethod
    def labels(feeds: Iterable[FeedRef]) -> tuple[str, ...]:
        """How the matcher sees the feeds that list an article: each one's name and URL."""
        return tuple(value for feed in feeds for value in (feed.name, feed.url) if value)


@dataclass(frozen=True)
class ArticleRef:
    """The article as an alert payload describes it."""

    id: int
    url: str
    title: str
    published: str | None
    language: str | None
    author: str | None
    site_name: str | None
    fetch_status: FetchStatus
    feeds: tuple[FeedRef, ...] = ()
    # The page kept as evidence (sha256, size, filename, media_type), or None when no page
    # was fetched; see pipeline.services.evidence.
    evidence: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "title": self.title,
            "published": self.published,
            "language": self.language,
            "author": self.author,
            "site_name": self.site_name,
            "fetch_status": str(self.fetch_status),
            "feeds": [feed.to_dict() for feed in self.feeds],
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class StoryRef:
    """Which story an alert is about, and what a later copy changed."""

    id: int | None
    kind: AlertKind = AlertKind.NEW
    changes: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": str(self.kind), "changes": self.changes}


@dataclass
class ActiveRule:
    """A saved rule as the matcher and alerting need it (read once per rule-set version)."""

    id: int
    name: str
    query: str
    feed_id: int | None
    mode: RuleMode
    channels: list[str] = field(default_factory=list)

    @property
    def ref(self) -> RuleRef:
        return RuleRef(id=self.id, name=self.name, query=self.query)
