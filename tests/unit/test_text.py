from __future__ import annotations

from pipeline.stages.text import sentence_at, split_sentences


def _texts(text: str) -> list[str]:
    return [s.text for s in split_sentences(text)]


def test_abbreviations_numbers_and_quotes() -> None:
    text = 'Mr. Lee met U.N. envoys on Jan. 5. About 1.5 million fled. "It is grim." Aid came!'
    assert _texts(text) == [
        "Mr. Lee met U.N. envoys on Jan. 5.",
        "About 1.5 million fled.",
        '"It is grim."',
        "Aid came!",
    ]


def test_paragraphs_split_and_wrapped_lines_do_not() -> None:
    text = "Floods hit the north.\nSome 29,739 people lost\ntheir homes.\n\nRain eased."
    assert _texts(text) == [
        "Floods hit the north.",
        "Some 29,739 people lost\ntheir homes.",
        "Rain eased.",
    ]


def test_offsets_and_lookup() -> None:
    text = "First one. Second one."
    sentences = split_sentences(text)
    for sentence in sentences:
        assert text[sentence.start : sentence.end] == sentence.text
    found = sentence_at(sentences, text.index("Second"))
    assert found is not None and found.text == "Second one."
    assert sentence_at(sentences, 10_000) is None


def test_no_is_a_word_unless_a_number_follows() -> None:
    assert _texts("She said no. Then he left. It was No. 10.") == [
        "She said no.",
        "Then he left.",
        "It was No. 10.",
    ]
