"""Highlights in an article's text: matched sentences and terms (as the matcher compares
words), figures at their spans with their labels, places by name; segments cover the text
exactly once."""

from __future__ import annotations

from pipeline.model import Figure, Hit, Place
from pipeline.stages.highlight import MarkKind, figure_label, highlight, segments, term_marks

TEXT = (
    "Shelling resumed near Aleppo on Monday. "
    "It killed at least 23 people, including 9 children, officials said. "
    "Hundreds were evacuated."
)


def _figure(text: str, category: str, value: float, **extra: object) -> Figure:
    start = TEXT.index(text)
    return Figure(
        value=value,
        category=category,
        qualifier=extra.get("qualifier"),  # type: ignore[arg-type]
        noun=extra.get("noun"),  # type: ignore[arg-type]
        part_of=extra.get("part_of"),  # type: ignore[arg-type]
        text=text,
        start=start,
        end=start + len(text),
        sentence="",
    )


def _marked(
    kind: str,
    text: str,
    hits: list[Hit],
    figures: tuple[Figure, ...] = (),
    places: list[Place] | tuple[Place, ...] = (),
) -> list[str]:
    return [s.text for s in highlight(text, hits, list(figures), list(places)) if kind in s.kinds]


def test_segments_cover_the_text_exactly_once() -> None:
    hits = [Hit("evacuation", "text", "Hundreds were evacuated.")]
    figures = [_figure("at least 23", "killed", 23, qualifier="at least")]
    pieces = highlight(TEXT, hits, figures, [Place("Aleppo", "SY", 1, None, None, 1, "city")])
    assert "".join(piece.text for piece in pieces) == TEXT


def test_a_term_marks_its_stemmed_forms_and_its_sentence() -> None:
    hits = [Hit("evacuation", "text", "Hundreds were evacuated.")]
    assert _marked("term", TEXT, hits) == ["evacuated"]
    assert "".join(_marked("sentence", TEXT, hits)) == "Hundreds were evacuated."


def test_prefix_phrase_and_field_terms() -> None:
    assert _marked("term", TEXT, [Hit("child*", "text", "")]) == ["children"]
    assert _marked("term", TEXT, [Hit('"officials said"', "text", "")]) == ["officials", "said"]
    # A figure term marks its sentence only: the figure mark shows the number.
    sentence = "It killed at least 23 people, including 9 children, officials said."
    hits = [Hit("killed:>=10", "killed", sentence)]
    assert _marked("term", TEXT, hits) == []
    assert "".join(_marked("sentence", TEXT, hits)) == sentence


def test_no_term_marks_inside_other_words() -> None:
    marks = term_marks("Warsaw and the award-winning software; wars", [Hit("war", "text", "")])
    assert [m.start for m in marks] == [39]


def test_figures_are_labelled_with_category_qualifier_and_subgroup() -> None:
    parent = _figure("at least 23", "killed", 23, qualifier="at least", noun="people")
    child = _figure("9", "killed", 9, noun="children", part_of=0)
    marked = [s for s in highlight(TEXT, [], [parent, child], []) if s.marks]
    assert [s.text for s in marked] == ["at least 23", "9"]
    assert marked[0].labels == ("killed 23 people (at least)",)
    assert figure_label(child, [parent, child]) == "killed 9 children subgroup of at least 23"


def test_a_figure_whose_offsets_do_not_fit_the_text_is_not_marked() -> None:
    stale = Figure(5, "killed", None, None, None, "five", 0, 4, "")
    assert [s for s in highlight(TEXT, [], [stale], []) if s.marks] == []


def test_places_are_marked_as_whole_words() -> None:
    places = [Place("Aleppo", "SY", 170063, None, None, 1, "city")]
    assert _marked("place", TEXT + " Aleppos", [], places=places) == ["Aleppo"]


def test_overlapping_marks_split_into_pieces() -> None:
    pieces = segments("abcdef", [])
    assert [p.text for p in pieces] == ["abcdef"]
    hits = [
        Hit("killed", "text", "It killed at least 23 people, including 9 children, officials said.")
    ]
    figures = [_figure("at least 23", "killed", 23)]
    kinds = {p.text: p.kinds for p in highlight(TEXT, hits, figures, [])}
    assert kinds["killed"] == (MarkKind.SENTENCE, MarkKind.TERM)
    assert set(kinds["at least 23"]) == {MarkKind.SENTENCE, MarkKind.FIGURE}
