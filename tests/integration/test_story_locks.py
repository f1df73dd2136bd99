"""Story assignment on PostgreSQL locks only what can collide: a near-duplicate waits for
the transaction that is creating its story, then joins it; an unrelated article does not
wait at all."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from pipeline.io import store
from pipeline.io.store.migrate import upgrade_database
from pipeline.services.alerting import assign_story
from pipeline.stages.stories import story_signature
from tests.e2e.harness import postgres_database

WIRE = (
    "Buses and ambulances pulled out of the last rebel-held pocket of eastern Aleppo on "
    "Thursday as a ceasefire deal allowed thousands of civilians and fighters to leave the "
    "city after weeks of bombardment, officials from the Red Cross said. More than 6,000 "
    "people had been evacuated from the enclave since the morning, and convoys were "
    "expected to continue through the night despite the cold and the rain."
)
OTHER = (
    "The central bank raised its main interest rate by a quarter of a point on Wednesday, "
    "citing stubborn inflation in services and a labour market that remains tight, and "
    "signalled that further increases could follow if wage growth does not slow soon."
)


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_database() as url:
        upgrade_database(url)
        yield url


def _assign_in_thread(url: str, title: str, text: str, out: list[int]) -> threading.Thread:
    def work() -> None:
        with store.session_scope(url) as session:
            out.append(assign_story(session, title, story_signature(title, text)))

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_a_near_duplicate_waits_then_joins_the_story(pg_url: str) -> None:
    copy = WIRE.replace("on Thursday", "on Thursday morning") + " Aid groups welcomed it."
    joined: list[int] = []
    with store.session_scope(pg_url) as first:
        story_id = assign_story(first, "Aleppo convoys", story_signature("Aleppo convoys", WIRE))
        waiting = _assign_in_thread(pg_url, "Aleppo convoys leave", copy, joined)
        waiting.join(timeout=1.0)
        assert waiting.is_alive(), "the copy did not wait for the story being created"
    waiting.join(timeout=30)
    assert joined == [story_id]
    with store.session_scope(pg_url) as session:
        story = session.get(store.Story, story_id)
        assert story is not None and story.article_count == 2


def test_an_unrelated_article_does_not_wait(pg_url: str) -> None:
    other: list[int] = []
    with store.session_scope(pg_url) as first:
        story_id = assign_story(first, "Aleppo convoys", story_signature("Aleppo convoys", WIRE))
        unrelated = _assign_in_thread(pg_url, "Rates rise", OTHER, other)
        unrelated.join(timeout=30)
        assert not unrelated.is_alive(), "an unrelated article waited for the lock"
    assert len(other) == 1 and other[0] != story_id
