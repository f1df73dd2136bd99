"""The contract types and states: stored values never change, JSON forms round-trip."""

from __future__ import annotations

from pipeline.model import (
    FIGURE_CATEGORIES,
    AlertKind,
    AttemptVerdict,
    Channel,
    Extraction,
    FetchStatus,
    MatchDocument,
    OutboxStatus,
    RuleMode,
)
from pipeline.stages.extract import extract


def test_states_keep_the_strings_the_store_already_holds() -> None:
    # Rows written before the states became enums hold these exact strings.
    assert [s.value for s in FetchStatus] == ["pending", "fetched", "fallback"]
    assert {s.value for s in OutboxStatus} == {
        "pending",
        "held",
        "sending",
        "delivered",
        "dead",
        "digested",
    }
    assert [m.value for m in RuleMode] == ["immediate", "hourly", "daily"]
    assert [k.value for k in AlertKind] == ["new", "update"]
    assert [c.value for c in Channel] == ["webhook", "apprise"]
    assert "endpoint-disabled" in {v.value for v in AttemptVerdict}
    assert FetchStatus("fallback") is FetchStatus.FALLBACK
    assert OutboxStatus.DEAD == "dead"


def test_extraction_round_trips_through_its_stored_json() -> None:
    text = (
        "GENEVA - Floods displaced 12,500 people in Sindh, officials said on Monday. "
        "At least 38 people were killed, including 11 children, and aid of $2.5 million "
        "was pledged for the 40% of families left homeless."
    )
    extraction = extract("Floods in Pakistan", text, "en")
    stored = extraction.to_dict()
    assert stored["figures"] and stored["topics"] and stored["places"]
    again = Extraction.from_dict(stored)
    # Scores are rounded when stored; everything else comes back as it was.
    assert again.figures == extraction.figures and again.places == extraction.places
    assert [t.code for t in again.topics] == [t.code for t in extraction.topics]
    assert again.to_dict() == stored


def test_an_article_stored_without_extraction_reads_as_empty() -> None:
    empty = Extraction.from_dict(None)
    assert empty.figures == () and empty.topics == () and empty.places == ()
    document = MatchDocument.from_extraction("t", "x", (), empty)
    assert document.figures == () and document.language is None


def test_match_document_carries_every_figure_with_its_sentence() -> None:
    text = "Officials said 1,207 civilians were killed. Another 300 were injured."
    extraction = extract("Toll rises", text, "en")
    document = MatchDocument.from_extraction("Toll rises", text, ("wire",), extraction)
    assert ("killed", 1207.0) in document.figures
    assert len(document.figure_sentences) == len(document.figures)
    assert all(category in FIGURE_CATEGORIES for category, _ in document.figures)
