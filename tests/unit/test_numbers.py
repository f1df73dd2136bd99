"""find_numbers / parse_number: digits, words, fractions, money and percentages."""

from __future__ import annotations

import pytest

from pipeline.stages.extract.numbers import NUMBER_KINDS, find_numbers, parse_number
from tests.conftest import need_shared


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,207", 1207),
        ("nine", 9),
        ("a dozen", 12),
        ("two hundred and fifty", 250),
        ("Ninety-three", 93),
        ("1.2 million", 1.2e6),
        ("1.5m", 1.5e6),
        ("half a million", 5e5),
        ("$2.5 billion", 2.5e9),
        ("11.4 percent", 11.4),
        ("3.2%", 3.2),
        ("40 000", 40000),
        ("three quarters", 0.75),
        ("one and a half", 1.5),
        ("2 1/4", 2.25),
        ("forty-two thousand six hundred", 42600),
        ("minus five", -5),
        ("seven point two five", 7.25),
        ("3 dozen", 36),
        ("10k", 10000),
        ("2bn", 2e9),
        ("Twelve", 12),
        ("one hundred and six", 106),
    ],
)
def test_parse_number(text: str, value: float) -> None:
    assert parse_number(text) == pytest.approx(value)


@pytest.mark.parametrize(
    "text", ["", "a", "the one you chose", "29km", "3rd", "the 1980s", "dozens"]
)
def test_parse_number_rejects_non_numbers(text: str) -> None:
    assert parse_number(text) is None


def test_find_numbers_spans_and_kinds() -> None:
    text = "Donors gave €3.5 million, 12 percent more, to help 4,000 people."
    spans = find_numbers(text)
    assert [(s.text, s.value, s.kind, s.currency) for s in spans] == [
        ("€3.5 million", 3.5e6, "money", "EUR"),
        ("12 percent", 12, "percent", None),
        ("4,000", 4000, "number", None),
    ]
    for span in spans:
        assert text[span.start : span.end] == span.text
        assert span.kind in NUMBER_KINDS


def test_currency_codes_and_words_after_the_number() -> None:
    spans = find_numbers("It cost 500 USD, then 20 million pounds and 3 yuan.")
    assert [(s.value, s.currency) for s in spans] == [(500, "USD"), (2e7, "GBP"), (3, "CNY")]


def test_lists_dates_and_addresses_split_into_separate_numbers() -> None:
    assert [s.value for s in find_numbers("rooms 22,24,26")] == [22, 24, 26]
    assert [s.value for s in find_numbers("on 5/17/2018")] == [5, 17, 2018]
    assert [s.value for s in find_numbers("host 10.0.0.1")] == [10, 0, 0, 1]


def test_ordinals_units_and_links_are_not_numbers() -> None:
    assert find_numbers("the second convoy reached the 3rd checkpoint") == []
    assert find_numbers("a 29km road and a 180ml bottle") == []
    assert find_numbers("see https://example.org/page?id=42 now") == []
    assert find_numbers("the one you mentioned") == []


def test_hyphenated_compounds_and_ranges() -> None:
    assert [s.value for s in find_numbers("twenty-six people")] == [26]
    assert [s.value for s in find_numbers("three-nought-four")] == [3, 0, 4]
    assert [s.value for s in find_numbers("10 - 20 people")] == [10, 20]
    assert [s.value for s in find_numbers("it fell to -4 overnight")] == [-4]


def test_fractions_of_large_numbers() -> None:
    assert parse_number("two thirds of a million") == pytest.approx(2e6 / 3)
    assert parse_number("one billion and a half million") == pytest.approx(1.0005e9)
    assert parse_number("3 million and a half") == pytest.approx(3.5e6)


def test_recognizers_number_spec_bar() -> None:
    need_shared("corpora", "number-specs-recognizers")
    from benchmarks.eval_numbers import score

    passed, total = score("NumberModel.json", show=False)
    assert passed / total >= 0.95


def test_zero_after_a_determiner_does_not_crash() -> None:
    # "a zero" ended a word run with "zero" last, which indexed past the run.
    assert [s.value for s in find_numbers("The club has a zero tolerance policy.")] == [0]


def test_percentage_points_are_percent_and_spanned_whole() -> None:
    (span,) = find_numbers("It fell by 0.3 percentage points.")
    assert (span.value, span.kind, span.text) == (0.3, "percent", "0.3 percentage points")


@pytest.mark.parametrize(
    ("text", "value", "currency"),
    [
        ("Rs 6,000", 6000, "INR"),
        ("Rs. 40 crore", 400_000_000, "INR"),
        ("Rs750", 750, "INR"),
        ("KSh 2 billion", 2e9, "KES"),
        ("Rp 15,000", 15000, "IDR"),
    ],
)
def test_currency_abbreviations(text: str, value: float, currency: str) -> None:
    (span,) = find_numbers(text)
    assert (span.value, span.kind, span.currency, span.text) == (value, "money", currency, text)


def test_abbreviation_needs_a_word_boundary() -> None:
    (span,) = find_numbers("Mrs 5")
    assert span.kind == "number"


@pytest.mark.parametrize("digits", [22, 4301, 12042])
def test_a_run_of_digits_too_long_for_any_count_is_not_a_number(digits: int) -> None:
    text = f"Officials said {'9' * digits} people were killed and 12 were hurt."
    assert [n.value for n in find_numbers(text)] == [12]
