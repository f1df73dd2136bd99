"""Tokens, folding, stems and compound joining used by both queries and articles."""

from __future__ import annotations

import random
import string

import snowballstemmer

from pipeline.stages.query import normalise
from pipeline.stages.query.document import FieldIndex
from pipeline.stages.query.normalise import compound_key, fold, joinable, stem, tokenize, words


def test_fold_removes_case_accents_and_possessives() -> None:
    assert fold("Île") == "ile"
    assert fold("Aleppo's") == "aleppo"
    assert fold("Aleppo\u2019s") == "aleppo"
    assert fold("O'Brien") == "obrien"
    assert fold("STRASSE") == "strasse"


def test_tokenize_keeps_offsets_into_the_original_text() -> None:
    text = "Évacuation at São Paulo!"
    tokens = tokenize(text)
    assert [word for word, _, _ in tokens] == ["evacuation", "at", "sao", "paulo"]
    _, start, end = tokens[2]
    assert text[start:end] == "São"


def test_decomposed_accents_stay_in_one_word() -> None:
    assert words("Cafe\u0301 owners") == ["cafe", "owners"]


def test_stem_groups_inflections() -> None:
    assert stem("evacuations") == stem("evacuated") == stem("evacuating") == stem("evacuation")
    assert stem("wars") == stem("war")
    assert stem("award") != stem("war")


def test_field_index_records_hyphenated_and_spaced_pairs() -> None:
    index = FieldIndex(["A cease-fire and new air strikes."], "prose")
    # A pair is recorded at the position of its first word.
    assert (1, "ceasefire") in index.pairs
    assert (5, "airstrikes") in index.pairs
    assert (0, "acease") not in index.pairs  # "A" is too short to join across a space
    assert index.pairs_for("ceasef") == []
    assert index.pairs_for("airst") == [(5, "airstrikes")]
    assert index.pairs_for("cea") == [(1, "ceasefire")]


def test_field_index_does_not_pair_short_spaced_words_or_across_sentences() -> None:
    index = FieldIndex(["He saw a ward nurse. The air. Strike talks - began."], "prose")
    assert [joined for _, joined in index.pairs] == ["wardnurse", "theair", "striketalks"]


def test_joinable_gaps() -> None:
    assert joinable("-", "x", "ray")
    assert joinable(" ", "air", "strike")
    assert not joinable(" ", "a", "ward")
    assert not joinable(". ", "air", "strike")
    assert not joinable(" - ", "talks", "began")
    assert not joinable("\n", "air", "strike")


def test_compound_key_uses_the_first_letters() -> None:
    assert compound_key("airstrike") == "airst"
    assert compound_key("xray") == "xra"
    assert compound_key("ox") is None


def test_stems_and_word_positions_line_up() -> None:
    index = FieldIndex(["Floods flooded the flooding valley"], "whole")
    assert index.stem_positions[stem("flood")] == [0, 1, 3]
    assert index.stems[:2] == [stem("floods"), stem("flooded")]


def test_metadata_segments_do_not_run_together() -> None:
    index = FieldIndex(["World news", "Business"], "segments")
    assert "newsbusiness" not in index.word_positions
    assert index.sentence(index.word_positions["business"][0]) == "Business"


def test_stem_shortcut_agrees_with_snowball() -> None:
    reference = snowballstemmer.stemmer("english")
    endings = normalise._STEM_ENDINGS
    assert endings is not None and "ing" in endings
    rng = random.Random(11)
    alphabet = string.ascii_lowercase + "y'0é"
    candidates = {
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 10))) for _ in range(8_000)
    }
    candidates |= {
        "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(0, 6)))
        + rng.choice(endings)
        + rng.choice(["", "s", "y", "ly", "e"])
        for _ in range(8_000)
    }
    shortcut = 0
    for word in candidates:
        normalise.clear_caches()  # compare the computed stem, not a cached one
        assert stem(word) == reference.stemWord(word), word
        shortcut += not word.endswith(endings)
    assert shortcut > 2_000  # the shortcut path really was exercised


def test_words_shortcut_matches_tokenize() -> None:
    for text in ("flood", "Floods2024", "ÉVACUATION", "cease-fire", "x", "ABC'S"):
        assert words(text) == [word for word, _, _ in tokenize(text)]
