"""Story grouping (MinHash signatures, LSH band keys) and what a later copy adds."""

from __future__ import annotations

import pytest

from pipeline.stages.extract.figures import extract_figures
from pipeline.stages.stories import (
    STORY_BANDS,
    STORY_ROWS,
    STORY_THRESHOLD,
    StorySignature,
    adds_something,
    band_keys,
    best_story,
    lsh_params,
    similarity,
    story_changes,
    story_signature,
    story_tokens,
)
from tests.conftest import need_shared

STORY = [
    "A passenger train derailed near the river town of Elmford on Tuesday morning, killing "
    "12 people and leaving 301 wounded, according to the regional emergency service.",
    "Rescue teams worked through the night to free passengers trapped in the overturned "
    "carriages, and the regional governor declared three days of mourning for the victims.",
    "The train was carrying about 600 passengers from the capital to the coast when several "
    "carriages left the tracks on a bend, witnesses told local television reporters.",
    "Investigators said it was too early to say what caused the crash, but the rail operator "
    "confirmed that maintenance work had been carried out on that section last month.",
    "Hospitals in the surrounding district appealed for blood donors as ambulances ferried "
    "the injured away from the site throughout the day and well into the evening.",
]
SAME_TOPIC = [
    "A freight train derailed outside the port city of Marlow on Sunday, spilling diesel "
    "fuel into a nearby canal, the national rail authority said in a statement.",
    "No one was hurt, but engineers closed the line for repairs and warned commuters to "
    "expect delays on services between the port and the northern suburbs for a week.",
    "Environmental officials set up floating barriers to stop the fuel spreading further and "
    "said water samples would be taken from the canal over the next several days.",
    "The union representing rail workers renewed its call for more investment in the "
    "network, arguing that ageing tracks had been neglected for more than a decade.",
]


def _text(paragraphs: list[str]) -> str:
    return "\n\n".join(paragraphs)


def _revised_copy() -> tuple[str, str]:
    paragraphs = list(STORY)
    paragraphs[0] = paragraphs[0].replace("301", "412").replace("12 people", "15 people")
    paragraphs.insert(2, "Officials said the death toll was likely to rise further.")
    paragraphs.append("Reporting by our correspondent; editing by the news desk.")
    return "Train crash toll rises in Elmford - officials", _text(paragraphs)


def test_tokens_fold_case_punctuation_and_numbers() -> None:
    assert story_tokens("Killed 1,207 — and WOUNDED 3.5m!") == [
        "killed",
        "0",
        "and",
        "wounded",
        "0",
        "m",
    ]


def test_revised_figure_leaves_the_signature_unchanged() -> None:
    before = story_signature("Crash", "Officials said 301 people were wounded in the crash today.")
    after = story_signature("Crash", "Officials said 412 people were wounded in the crash today.")
    assert similarity(before, after) == 1.0


def test_copies_group() -> None:
    original = story_signature("Train derails near Elmford, killing 12", _text(STORY))
    title, text = _revised_copy()
    copy = story_signature(title, text)
    trimmed = story_signature("Elmford train crash", _text(STORY[:4]))
    assert similarity(original, copy) >= STORY_THRESHOLD
    assert similarity(original, trimmed) >= STORY_THRESHOLD
    assert set(band_keys(original)) & set(band_keys(copy))


def test_different_stories_on_the_same_topic_do_not_group() -> None:
    first = story_signature("Train derails near Elmford", _text(STORY))
    second = story_signature("Freight train derails near Marlow", _text(SAME_TOPIC))
    assert similarity(first, second) < 0.1


def test_empty_text_matches_nothing() -> None:
    empty = story_signature("", "")
    assert empty.empty
    assert similarity(empty, story_signature("", "")) == 0.0
    assert band_keys(empty) == []


def test_signature_is_deterministic_and_round_trips_json() -> None:
    signature = story_signature("Train derails", _text(STORY))
    again = story_signature("Train derails", _text(STORY))
    restored = StorySignature.from_json(signature.to_json())
    assert restored == signature == again
    assert list(restored.hashvalues) == list(signature.hashvalues)
    assert band_keys(restored) == band_keys(signature)
    assert len(band_keys(signature)) == STORY_BANDS
    assert all(key.startswith(f"b{i}:") for i, key in enumerate(band_keys(signature)))


@pytest.mark.parametrize(
    ("title", "text"),
    [("", ""), ("Train", ""), ("Train derails", "12 dead"), ("Train derails", _text(STORY))],
)
def test_signature_equals_datasketchs_minhash(title: str, text: str) -> None:
    """Stored signatures were built by datasketch's MinHash: the one-pass signing must give
    the very same values, or a copy would stop joining a story stored before."""
    from datasketch import MinHash

    from pipeline.stages.stories import NUM_PERM, SEED, story_shingles

    minhash = MinHash(num_perm=NUM_PERM, seed=SEED)
    shingles = story_shingles(title, text)
    if shingles:
        minhash.update_batch([s.encode("utf-8") for s in sorted(shingles)])
    signature = story_signature(title, text)
    assert list(signature.hashvalues) == list(minhash.hashvalues)
    assert signature.shingles == len(shingles)


def test_signatures_of_different_sizes_do_not_compare() -> None:
    with pytest.raises(ValueError):
        similarity(story_signature("a", "b c d"), story_signature("a", "b c d", num_perm=64))


def test_lsh_parameters_catch_pairs_at_the_threshold() -> None:
    bands, rows = lsh_params(STORY_THRESHOLD, 128)
    assert (bands, rows) == (STORY_BANDS, STORY_ROWS)
    assert bands * rows <= 128
    assert 1 - (1 - STORY_THRESHOLD**rows) ** bands >= 0.95


def _with_matches(matches: int, num_perm: int = 128) -> StorySignature:
    """A signature whose similarity to ``_with_matches(num_perm, num_perm)`` is exactly
    ``matches / num_perm``: the first ``matches`` hash values agree, the rest differ."""
    values = [i if i < matches else num_perm + i for i in range(num_perm)]
    return StorySignature(values, seed=1, shingles=10)


def test_best_story_picks_the_copy_and_not_other_stories() -> None:
    copy = story_signature(*_revised_copy())
    candidates = [
        (3, story_signature("Freight train derails", _text(SAME_TOPIC))),
        (5, story_signature("Train derails near Elmford", _text(STORY))),
        (8, story_signature("", "")),
    ]
    assert best_story(copy, candidates) == 5
    assert best_story(copy, [c for c in candidates if c[0] != 5]) is None
    assert best_story(copy, []) is None


def test_best_story_prefers_the_most_similar_candidate() -> None:
    article = _with_matches(128)
    candidates = [(1, _with_matches(70)), (2, _with_matches(100)), (3, _with_matches(80))]
    assert best_story(article, candidates) == 2
    assert best_story(article, iter(candidates)) == 2


def test_best_story_tie_goes_to_the_candidate_given_last() -> None:
    # The service's rule (score >= best so far) lets an equal score replace the best; with
    # candidates in ascending id order that is the newest of the tied stories.
    article = _with_matches(128)
    tied = [(4, _with_matches(90)), (7, _with_matches(90)), (9, _with_matches(60))]
    assert similarity(article, tied[0][1]) == similarity(article, tied[1][1])
    assert best_story(article, tied) == 7
    assert best_story(article, [tied[1], tied[0], tied[2]]) == 4


def test_best_story_below_the_threshold_is_none_and_at_it_joins() -> None:
    # 20 permutations, because 9/20 is exactly STORY_THRESHOLD and 128ths never are.
    article = _with_matches(20, num_perm=20)
    at, below = _with_matches(9, num_perm=20), _with_matches(8, num_perm=20)
    assert similarity(article, at) == STORY_THRESHOLD
    assert best_story(article, [(1, below), (2, _with_matches(3, num_perm=20))]) is None
    assert best_story(article, [(1, below), (2, at)]) == 2


def test_empty_signature_joins_no_story() -> None:
    empty = story_signature("", "")
    assert best_story(empty, [(1, story_signature("", "")), (2, _with_matches(128))]) is None


def _figures(text: str) -> list[dict[str, object]]:
    return [f.to_dict() for f in extract_figures(text)]


def test_revised_figure_is_reported_as_revised() -> None:
    previous = {"figures": _figures("Police said 301 people were wounded."), "terms": ["train"]}
    current = {"figures": _figures("Police said 412 people were wounded."), "terms": ["train"]}
    changes = story_changes(previous, current)
    assert changes["revised_figures"] == [
        {"category": "injured", "noun": "people", "from": 301, "to": 412}
    ]
    assert changes["new_figures"] == []
    assert adds_something(changes)


def test_subgroup_revision_pairs_with_the_subgroup() -> None:
    previous = {
        "figures": _figures("The blast wounded 301 people, including 20 children."),
        "terms": [],
    }
    current = {
        "figures": _figures("The blast wounded 412 people, including 35 children."),
        "terms": [],
    }
    revised = story_changes(previous, current)["revised_figures"]
    assert {(r["from"], r["to"]) for r in revised} == {(301, 412), (20, 35)}


def test_new_figure_of_another_category_is_new() -> None:
    previous = {"figures": _figures("Police said 301 people were wounded."), "terms": []}
    current = {
        "figures": _figures("Police said 301 people were wounded and 40 were arrested."),
        "terms": [],
    }
    changes = story_changes(previous, current)
    assert [(f["category"], f["value"]) for f in changes["new_figures"]] == [("arrested", 40)]
    assert changes["revised_figures"] == []


def test_new_term_is_detected_case_insensitively() -> None:
    changes = story_changes(
        {"figures": [], "terms": ["derailment", "Elmford"]},
        {"figures": [], "terms": ["elmford", "derailment", "evacuation", "Evacuation"]},
    )
    assert changes["new_terms"] == ["evacuation"]
    assert adds_something(changes)


def test_nothing_new_adds_nothing() -> None:
    figures = _figures("Police said 301 people were wounded and 12 were killed.")
    changes = story_changes(
        {"figures": figures, "terms": ["train", "crash"]},
        {"figures": list(reversed(figures)), "terms": ["Crash"]},
    )
    assert changes == {"new_figures": [], "revised_figures": [], "new_terms": []}
    assert not adds_something(changes)
    assert not adds_something(story_changes({}, {}))


def test_real_copies_meet_the_documented_threshold() -> None:
    need_shared("corpora", "bbc-news", "data")
    need_shared("corpora", "article-extraction-benchmark", "ground-truth.json")
    from benchmarks.eval_stories import evaluate, load_all

    report = evaluate(load_all(sample=5))
    precision, recall = report.precision_recall(STORY_THRESHOLD)
    assert len(report.scores(True)) > 500 and len(report.scores(False)) > 500
    assert precision >= 0.95
    assert recall >= 0.9
    assert report.lsh_found >= 0.99 * report.lsh_verified
