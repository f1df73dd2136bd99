"""Geotagging: aliases, demonyms, disambiguation, common-word guards, counting."""

from __future__ import annotations

import csv

import pycountry
import pytest

from pipeline.model import Place
from pipeline.stages.extract.gazetteer import english_forms, english_name
from pipeline.stages.extract.places import PlacesResult, extract_places, load_gazetteer
from tests.conftest import need_shared


def names(result: PlacesResult) -> list[str]:
    return [place.name for place in result.places]


def by_name(result: PlacesResult, name: str) -> Place:
    return next(place for place in result.places if place.name == name)


def test_gazetteer_is_built_once() -> None:
    assert load_gazetteer() is load_gazetteer()


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Aid convoys reached the US border on Friday.", "US"),
        ("Officials in the U.S. capital met on Friday.", "US"),
        ("Ministers from Britain arrived late.", "GB"),
        ("The UK announced new funding.", "GB"),
        ("Fighting in DR Congo displaced thousands.", "CD"),
        ("Cocoa prices rose in Ivory Coast this week.", "CI"),
        ("Elections in Côte d'Ivoire were delayed.", "CI"),
        ("Flooding hit parts of Burma overnight.", "MM"),
    ],
)
def test_country_aliases(text: str, iso: str) -> None:
    result = extract_places(text)
    assert result.country == iso
    assert [p.country for p in result.places if p.kind == "country"] == [iso]


def test_aliases_of_one_country_merge_into_one_place() -> None:
    result = extract_places("The U.S. said the United States would send more aid.")
    assert [(p.name, p.mentions) for p in result.places] == [("United States", 2)]


def test_demonyms_count_for_their_country_but_are_not_named_places() -> None:
    result = extract_places("Syrian families and Iraqi officials met Afghan refugees.")
    assert "Syrian" not in names(result)
    assert {p.country for p in result.places} == {"SY", "IQ", "AF"}
    assert all(p.kind == "country" for p in result.places)
    assert names(result)[0] == "Syria"


def test_demonyms_decide_the_main_country() -> None:
    text = "Syrian troops shelled the town. Syrian officials denied it. Lebanon protested."
    assert extract_places(text).country == "SY"


def test_continent_phrases_are_not_country_demonyms() -> None:
    result = extract_places("Latin American leaders met South American ministers.")
    assert result.places == []
    assert result.country is None


def test_cities_in_syria_are_syrian() -> None:
    text = "Shelling in Aleppo and Idlib continued as Syria's army advanced."
    result = extract_places(text)
    assert {p.name: p.country for p in result.places} == {
        "Syria": "SY",
        "Aleppo": "SY",
        "Idlib": "SY",
    }
    aleppo = by_name(result, "Aleppo")
    assert aleppo.kind == "city" and aleppo.geonameid is not None
    assert aleppo.lat is not None and 35 < aleppo.lat < 37


def test_region_cue_selects_the_province() -> None:
    result = extract_places("Floods hit the eastern province of Nuristan in Afghanistan.")
    nuristan = by_name(result, "Nuristan")
    assert (nuristan.kind, nuristan.country) == ("region", "AF")


def test_jordan_the_country() -> None:
    result = extract_places("Refugees crossed from Syria into Jordan. Jordan said it would help.")
    assert by_name(result, "Jordan").country == "JO"
    assert by_name(result, "Jordan").mentions == 2


@pytest.mark.parametrize(
    "text",
    [
        "Michael Jordan scored 40 points on Sunday.",
        "Mr Jordan told reporters the deal was done.",
        "The coach praised Jordan Henderson after the match.",
        "After the game, Jordan said he was proud of his team-mates.",
    ],
)
def test_jordan_the_person_is_not_a_place(text: str) -> None:
    assert "Jordan" not in names(extract_places(text))


def test_a_name_used_for_a_person_stays_a_person_in_that_article() -> None:
    text = "Michael Jordan arrived late. Jordan signed autographs for an hour."
    assert extract_places(text).places == []


def test_georgia_the_us_state_with_us_context() -> None:
    result = extract_places(
        "Storms hit Atlanta and Savannah, Georgia, the US weather service said."
    )
    georgia = by_name(result, "Georgia")
    assert (georgia.kind, georgia.country) == ("region", "US")
    assert result.country == "US"


def test_georgia_the_country_with_caucasus_context() -> None:
    result = extract_places("Russian troops stayed in Georgia, officials in Tbilisi said.")
    georgia = by_name(result, "Georgia")
    assert (georgia.kind, georgia.country) == ("country", "GE")
    assert result.country == "GE"


def test_georgia_next_to_russia_is_the_country() -> None:
    result = extract_places("Talks between Russia and Georgia resumed.")
    assert by_name(result, "Georgia").country == "GE"


@pytest.mark.parametrize(
    "text",
    [
        "Nice to meet you, she said.",
        "Reading the report took an hour.",
        "Police said most people were safe.",
        "Along the road, volunteers handed out water in March.",
        "It was a great opportunity. Opportunity knocks.",
        "Of the 300 homes, 20 were destroyed.",
        "Split the difference, they said.",
        "Mobile phone networks failed.",
        "Bath time was over.",
    ],
)
def test_common_words_are_not_places(text: str) -> None:
    assert extract_places(text).places == []


def test_common_word_city_counts_when_its_country_is_named() -> None:
    result = extract_places("A truck attack in Nice killed 84 people, France said.")
    assert by_name(result, "Nice").country == "FR"


def test_lowercase_place_names_do_not_fire() -> None:
    assert extract_places("the syria file and the paris agreement were discussed").places == []


def test_small_town_needs_support() -> None:
    # Laukkai is a small town: alone and sentence-initial it is not trusted ...
    assert extract_places("Laukkai was quiet.").places == []
    # ... but its country named elsewhere, or a locative cue, makes it count.
    assert "Laukkai" in names(extract_places("Laukkai was quiet, Myanmar officials said."))
    assert "Laukkai" in names(extract_places("Fighting erupted in Laukkai overnight."))


def test_mentions_and_order() -> None:
    text = (
        "Kenya said floods hit Nairobi. Kenya sent aid to Mombasa. "
        "Nairobi residents fled. Kenya asked for help."
    )
    result = extract_places(text)
    assert [(p.name, p.mentions) for p in result.places] == [
        ("Kenya", 3),
        ("Nairobi", 2),
        ("Mombasa", 1),
    ]
    assert result.country == "KE"


def test_ties_are_broken_by_first_position() -> None:
    result = extract_places("Peru and Chile signed a deal.")
    assert names(result) == ["Peru", "Chile"]
    assert result.country == "PE"


def test_main_country_from_cities_and_title() -> None:
    result = extract_places(
        "Thousands left Mosul and Kirkuk. Aid also reached Turkey.", title="Floods in Iraq"
    )
    assert result.country == "IQ"


def test_result_serialises() -> None:
    result = extract_places("Flooding hit Lagos, Nigeria.")
    data = result.to_dict()
    assert data["country"] == "NG"
    places = data["places"]
    assert isinstance(places, list)
    assert set(places[0]) == {"name", "country", "geonameid", "lat", "lon", "mentions", "kind"}


def test_empty_text() -> None:
    assert extract_places("") == PlacesResult([], None)


def test_labelled_excerpts_mostly_name_their_country() -> None:
    path = need_shared("corpora", "displacement-figures", "IDETECT_test_dataset_NLP.csv")
    hits: list[bool] = []
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        for row in csv.DictReader(handle):
            record = pycountry.countries.get(alpha_3=(row.get("Country") or "").strip() or "-")
            location = (row.get("Location") or "").strip()
            text = row.get("excerpt") or ""
            if record is None or not location or location.lower() not in text.lower():
                continue
            result = extract_places(text)
            found = {p.country for p in result.places} | {result.country}
            hits.append(record.alpha_2 in found)
    assert len(hits) > 100
    assert sum(hits) / len(hits) >= 0.75


def test_continents_are_not_places() -> None:
    assert extract_places("Markets in Asia and Europe fell.").places == []


def test_middle_initial_marks_a_person() -> None:
    assert extract_places("Later, George W Bush visited the troops.").places == []


def test_bigger_namesake_wins_unless_apposed() -> None:
    assert by_name(extract_places("The US film was shot in Paris."), "Paris").country == "FR"
    result = extract_places("The film was shot in Paris, Texas.")
    assert by_name(result, "Paris").country == "US"


@pytest.mark.parametrize(
    ("text", "name", "iso"),
    [
        ("Fighting displaced thousands in North Kivu.", "North Kivu", "CD"),
        ("Floods hit Sistan and Baluchestan province.", "Sistan and Baluchistan", "IR"),
        ("Troops entered Salah al-Din governorate.", "Salah ad Din", "IQ"),
        ("Shelling continued in Daraa governorate.", "Dar'a", "SY"),
        ("Landslides struck West Java on Monday.", "West Java", "ID"),
        ("Snow closed roads in Bavaria.", "Bavaria", "DE"),
        ("Officials in Gyeonggi province met.", "Gyeonggi", "KR"),
        ("Fighting spread to Kasaï-Oriental.", "Kasai Oriental", "CD"),
    ],
)
def test_english_spellings_of_local_region_names(text: str, name: str, iso: str) -> None:
    place = by_name(extract_places(text), name)
    assert (place.kind, place.country) == ("region", iso)


@pytest.mark.parametrize(
    ("name", "forms"),
    [
        ("Nord-Kivu", {"North Kivu", "Nord Kivu"}),
        ("Sulawesi Utara", {"North Sulawesi"}),
        ("Khorasan-e Jonubi", {"South Khorasan"}),
        ("Sistan va Baluchestan", {"Sistan and Baluchestan"}),
        ("Salah ad Din", {"Salah al-Din", "Salah al Din"}),
        ("Dar'a", {"Daraa", "Dara"}),
        ("Al Anbar", {"Anbar", "Al-Anbar"}),
    ],
)
def test_english_forms_are_generated_by_rule(name: str, forms: set[str]) -> None:
    assert forms <= english_forms(name)


def test_display_names_are_english_but_keep_established_forms() -> None:
    assert english_name("Nord-Kivu") == "North Kivu"
    assert english_name("Jawa Timur") == "East Java"
    assert english_name("Haut-Katanga") == "Haut-Katanga"
    assert english_name("Matabeleland North") == "Matabeleland North"
    assert english_name("Far North") == "Far North"


@pytest.mark.parametrize(
    ("text", "name", "iso"),
    [
        ("Thousands were displaced on Java island.", "Java", "ID"),
        ("Flooding hit Tahiti overnight.", "Tahiti", "PF"),
        ("Clashes continued in Mindanao.", "Mindanao", "PH"),
        ("Violence spread across Darfur.", "Darfur", "SD"),
    ],
)
def test_islands_and_named_regions(text: str, name: str, iso: str) -> None:
    assert by_name(extract_places(text), name).country == iso


@pytest.mark.parametrize(
    "text",
    [
        "Developers rewrote the app in Java.",
        "Sales rose in the North West and the South East.",
        "Porsche may hybridise its Cayenne SUV.",
    ],
)
def test_words_that_only_look_like_places(text: str) -> None:
    assert extract_places(text).places == []


def test_misdecoded_apostrophe_ends_the_name() -> None:
    assert extract_places("Afghanistan\u00e2\u20ac\u2122s provinces were hit.").country == "AF"
    assert extract_places("Somalia\u0160\u2014\u00c8s IDPs need help.").country == "SO"


def test_accented_letters_still_continue_a_word() -> None:
    # "Jos" is a Nigerian city: it must not fire inside "José".
    assert extract_places("José Ramos arrived late.").places == []


@pytest.mark.parametrize(
    ("text", "name", "iso"),
    [
        ("ALEPPO, Syria \u2014 Shelling resumed overnight.", "Aleppo", "SY"),
        ("PORT-AU-PRINCE (Reuters) - Aid arrived on Monday.", "Port-au-Prince", "HT"),
    ],
)
def test_upper_case_datelines(text: str, name: str, iso: str) -> None:
    place = by_name(extract_places(text), name)
    assert (place.kind, place.country) == ("city", iso)


def test_upper_case_words_elsewhere_are_not_datelines() -> None:
    assert extract_places("The NICE guidance, published today, was clear.").places == []


def test_a_locative_covers_a_whole_list() -> None:
    # Laukkai is small: "in" before the list vouches for it, a bare list does not.
    assert "Laukkai" in names(extract_places("Hundreds gathered in Hsenwi, Namtu and Laukkai."))
    assert extract_places("Hundreds remembered Hsenwi, Namtu and Laukkai.").places == []


def test_a_town_and_its_county_are_not_a_list() -> None:
    assert names(extract_places("She was born in Runcorn, Cheshire.")) == ["Runcorn"]


def test_a_surname_after_a_first_name_is_a_person() -> None:
    assert extract_places("Brittany Murphy starred in the film.").places == []


def test_the_capital_comma_name_is_a_city_cue() -> None:
    assert by_name(extract_places("Thousands fled the capital, Banjul, on Friday."), "Banjul")


def test_a_city_named_like_its_region_is_evidence_for_small_towns() -> None:
    result = extract_places("Families fled Aleppo for Dayr Hafir.")
    assert {p.country for p in result.places} == {"SY"} and len(result.places) == 2


def test_plural_region_word_is_not_a_surname() -> None:
    assert "Luodian" in names(extract_places("Floods hit Wuxi and Luodian Counties."))


def test_a_big_capital_beats_a_namesake_town_when_both_countries_are_named() -> None:
    text = "Greek fans cheered as US sprinters won in Athens. The US team celebrated."
    assert by_name(extract_places(text), "Athens").country == "GR"


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("Aleppo", "Shelling of Aleppo killed 14 civilians on Tuesday."),
        ("Goma", "Residents of Goma fled as the rebels advanced."),
    ],
)
def test_a_place_name_as_the_whole_title_is_a_place(title: str, text: str) -> None:
    # The capitalised first word of the body is on another line: not the surname of a
    # person called after the place.
    assert extract_places(text, title=title).places[0].name == title
