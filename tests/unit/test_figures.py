"""extract_figures: the contract, the acceptance article, and regression sets.

FIGURE_CASES are news sentences written for this project (not taken from any corpus);
benchmarks/eval_figures.py scores them too.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from pipeline.model import FIGURE_CATEGORIES, Figure
from pipeline.stages.extract.figures import extract_figures
from tests.conftest import need_shared

FIGURE_CASES: list[tuple[str, list[tuple[float, str]]]] = [
    # killed
    ("At least 42 people were killed when a bus plunged into a ravine.", [(42, "killed")]),
    ("The earthquake killed 1,350 villagers in the mountain district.", [(1350, "killed")]),
    ("The death toll from the floods has risen to 118, officials said.", [(118, "killed")]),
    ("Rescuers recovered the bodies of 14 miners on Tuesday.", [(14, "killed")]),
    ("Twenty-three soldiers died in the ambush near the border.", [(23, "killed")]),
    ("The blast left 9 dead and dozens more injured.", [(9, "killed")]),
    ("The conflict has claimed the lives of an estimated 12,000 civilians.", [(12000, "killed")]),
    ("Police said two men were shot dead outside a bar.", [(2, "killed")]),
    ("A landslide buried a village, killing at least 31.", [(31, "killed")]),
    # injured
    ("More than 200 people were wounded in the shelling.", [(200, "injured")]),
    (
        "The stampede injured 57 pilgrims, four of them critically.",
        [(57, "injured"), (4, "injured")],
    ),
    ("Hospitals treated 64 people for injuries after the crash.", [(64, "injured")]),
    ("The storm killed 7 people and injured 48 others.", [(7, "killed"), (48, "injured")]),
    # missing
    ("Some 40 fishermen remain missing after the typhoon.", [(40, "missing")]),
    ("About 150 residents are still unaccounted for.", [(150, "missing")]),
    # kidnapped
    ("Gunmen abducted 27 schoolgirls from a dormitory overnight.", [(27, "kidnapped")]),
    ("The group is still holding 12 hostages.", [(12, "kidnapped")]),
    ("Nearly 80 passengers were kidnapped on the highway.", [(80, "kidnapped")]),
    # arrested
    ("Police arrested 315 protesters in the capital on Saturday.", [(315, "arrested")]),
    ("Up to 60 suspects have been detained since the raid.", [(60, "arrested")]),
    # evacuated
    ("Authorities evacuated 25,000 residents ahead of the hurricane.", [(25000, "evacuated")]),
    ("Around 3,400 people were evacuated from low-lying areas.", [(3400, "evacuated")]),
    (
        "Eleven buses have carried 1,800 civilians out of the besieged town.",
        [(11, "count"), (1800, "evacuated")],
    ),
    ("Fire forced 600 hotel guests to evacuate before dawn.", [(600, "evacuated")]),
    # displaced
    ("The fighting has displaced 48,000 people in the province.", [(48000, "displaced")]),
    ("Some 90,000 residents fled their homes as the rebels advanced.", [(90000, "displaced")]),
    ("Floods forced 5,200 families from their homes.", [(5200, "displaced")]),
    (
        "Nearly 700,000 refugees have crossed into the neighbouring country.",
        [(700000, "displaced")],
    ),
    ("An estimated 1.2 million people have been uprooted by the drought.", [(1.2e6, "displaced")]),
    ("About 6,500 displaced people are sheltering in schools.", [(6500, "displaced")]),
    ("The cyclone left 14,000 people homeless.", [(14000, "displaced")]),
    ("More than 2,000 people were relocated to higher ground.", [(2000, "displaced")]),
    ("Roughly 300 asylum seekers arrived on the island this week.", [(300, "displaced")]),
    # affected
    (
        "The outbreak has infected 2,300 people across five regions.",
        [(2300, "affected"), (5, "count")],
    ),
    ("Close to 4 million people need humanitarian aid, the agency said.", [(4e6, "affected")]),
    ("The drought is affecting 850,000 farmers.", [(850000, "affected")]),
    ("Half a million residents are without running water.", [(500000, "affected")]),
    # people / count
    ("The city is home to 2.4 million inhabitants.", [(2.4e6, "people")]),
    ("About 5,000 troops are stationed along the frontier.", [(5000, "people")]),
    ("The convoy of 30 trucks delivered food to the camp.", [(30, "count")]),
    (
        "The quake destroyed 1,240 houses and damaged 3,100 more.",
        [(1240, "count"), (3100, "count")],
    ),
    ("The factory will cut 450 jobs next year.", [(450, "count")]),
    ("A dozen journalists gathered at the gate.", [(12, "people")]),
    # money / percent
    ("The government pledged $2.5 billion for reconstruction.", [(2.5e9, "money")]),
    ("The fund received €40 million from donors.", [(40e6, "money")]),
    ("Unemployment rose to 11.4 percent in March.", [(11.4, "percent")]),
    ("Turnout was 63% according to the commission.", [(63, "percent")]),
    # subgroups
    (
        "Air strikes killed 210 civilians, including 64 children, in the past month.",
        [(210, "killed"), (64, "killed")],
    ),
    (
        "The raid left 35 people injured, among them 8 police officers.",
        [(35, "injured"), (8, "injured")],
    ),
    (
        "The ship carried 412 migrants, 97 of whom were children.",
        [(412, "people"), (97, "people")],
    ),
    # ranges and word numbers
    ("Between 50 and 70 people are feared dead.", [(50, "killed")]),
    ("Officials said 2,000-3,000 people had fled the town.", [(2000, "displaced")]),
    ("Two hundred and fifty workers were evacuated from the plant.", [(250, "evacuated")]),
    ("Ninety-three prisoners escaped from the jail.", [(93, "people")]),
    # non-figures
    ("The rebels have held the city since 2012.", []),
    ("A 14-year-old boy was among the victims.", []),
    ("The five-year war has devastated the region.", []),
    ("The talks lasted nine days.", []),
    ("The team won 3-1 on Sunday night.", []),
    ("A magnitude 6.2 earthquake struck at 10:30 local time.", []),
    ("The 27-nation bloc met on 16 April.", []),
    ("Dozens of homes were flooded and thousands were evacuated.", []),
    ("The second convoy reached the 3rd checkpoint.", []),
    ("The road is 45 km long and the lake holds 300 tonnes of fish.", []),
    ("Call the hotline on +44 20 7946 0958 for details.", []),
    ("Hundreds of thousands of people rallied in the capital.", []),
    ("She was aged 14 when she left the village.", []),
    ("One of the convoys was delayed for 3 hours.", []),
    # a second batch, written after the rules above were tuned, scored before any fix
    ("Officials confirmed that 17 people had drowned after the ferry capsized.", [(17, "killed")]),
    ("The attack on the market left at least 60 people wounded.", [(60, "injured")]),
    (
        "Some 2,500 villagers were moved to temporary shelters as the river rose.",
        [(2500, "displaced")],
    ),
    ("Security forces rounded up 140 suspected militants overnight.", [(140, "people")]),
    ("The virus has now infected more than 9,000 people in the region.", [(9000, "affected")]),
    ("Rebels released 19 hostages on Monday.", [(19, "kidnapped")]),
    ("At least 3 firefighters are missing after the wall collapsed.", [(3, "missing")]),
    ("The ministry said 1.8 million children were out of school.", [(1.8e6, "people")]),
    ("Landslides destroyed 230 homes in the hill district.", [(230, "count")]),
    ("The company announced a $300 million investment.", [(3e8, "money")]),
    ("Inflation slowed to 4.2% in June.", [(4.2, "percent")]),
    ("The shelling killed 18 civilians, among them 7 women.", [(18, "killed"), (7, "killed")]),
    ("Nearly 45,000 Sudanese have crossed into Chad since April.", [(45000, "people")]),
    ("The typhoon forced the evacuation of 320,000 residents.", [(320000, "evacuated")]),
    ("Police detained about 90 demonstrators outside parliament.", [(90, "arrested")]),
    ("Three journalists were abducted near the border last month.", [(3, "kidnapped")]),
    ("The hospital has 400 beds and employs 1,200 staff.", [(400, "count"), (1200, "people")]),
    ("In 2019 the government built 50 new schools.", [(50, "count")]),
    ("The 12-storey tower was evacuated at 3 pm.", []),
    ("A 7.1-magnitude quake hit the coast, killing 4 people.", [(4, "killed")]),
    ("Fewer than 100 families have returned to the village.", [(100, "people")]),
    ("He served two terms as mayor before 2010.", []),
    ("The fire destroyed 40 hectares of forest.", []),
    ("Up to 15,000 refugees are living in the camp.", [(15000, "displaced")]),
    ("The flooding affected 600,000 people and killed 12.", [(600000, "affected"), (12, "killed")]),
    ("The bus was carrying 52 passengers when it overturned.", [(52, "people")]),
    ("About 1,500 troops were deployed to the city.", [(1500, "people")]),
    (
        "The government says 250 people have been arrested since the protests began.",
        [(250, "arrested")],
    ),
]


# A batch written blind for the second pass and scored before any rule was changed for it
# (precision 0.936, recall 0.978). The rules were then fixed for what it exposed, so it is a
# regression set now, not a held-out one; failures here call for general fixes.
SECOND_PASS_CASES: list[tuple[str, list[tuple[float, str]]]] = [
    (
        "The death toll climbed to 87 on Wednesday as rescuers dug through the rubble.",
        [(87, "killed")],
    ),
    ("The explosion left 23 dead and more than 100 injured.", [(23, "killed"), (100, "injured")]),
    ("Divers said 11 bodies were pulled from the river after the boat sank.", [(11, "killed")]),
    ("At least 64 people were reported missing after the mudslide.", [(64, "missing")]),
    (
        "Armed men abducted 130 schoolgirls from a boarding school in the north.",
        [(130, "kidnapped")],
    ),
    ("Riot police detained 75 protesters near the presidential palace.", [(75, "arrested")]),
    ("Officials said 3,200 homes were damaged or destroyed by the cyclone.", [(3200, "count")]),
    ("Some 180,000 people remain without power after the storm.", [(180000, "affected")]),
    ("Nearly 620 people have been infected since the outbreak began in May.", [(620, "affected")]),
    ("Over 5,000 refugees crossed into Uganda over the weekend.", [(5000, "displaced")]),
    ("About 900 residents have been relocated to emergency shelters.", [(900, "displaced")]),
    ("The bank approved a loan of ¥12 billion for the railway.", [(12e9, "money")]),
    ("The contract is worth 45 million euros.", [(45e6, "money")]),
    ("The government set aside 300 million rupees for flood relief.", [(3e8, "money")]),
    ("The club paid £1.2bn for the stadium.", [(1.2e9, "money")]),
    ("The ruling party won 54 percent of the vote.", [(54, "percent")]),
    ("Food prices have risen 30 per cent since the war began.", [(30, "percent")]),
    ("Gunmen shot dead 14 worshippers at a mosque on Friday.", [(14, "killed")]),
    ("A total of 38 people were hurt when the stands collapsed.", [(38, "injured")]),
    ("The kidnappers freed 21 hostages on Sunday.", [(21, "kidnapped")]),
    (
        "The earthquake killed 2,100 people and left 15,000 homeless.",
        [(2100, "killed"), (15000, "displaced")],
    ),
    ("Forty-two migrants drowned when their boat capsized off the coast.", [(42, "killed")]),
    ("Police said 19 suspects had been taken into custody.", [(19, "arrested")]),
    ("The floods have damaged 12,000 hectares of crops.", []),
    ("More than 1,300 people have died of cholera since January.", [(1300, "killed")]),
    ("An estimated 70 percent of the city's buildings were destroyed.", [(70, "percent")]),
    ("The fighting has forced 260,000 people to flee since March.", [(260000, "displaced")]),
    ("Rebels kidnapped eight aid workers and burned their truck.", [(8, "kidnapped")]),
    ("Troops arrested 47 people in overnight raids.", [(47, "arrested")]),
    ("The drought has left 3 million people in need of food aid.", [(3e6, "affected")]),
    (
        "The storm destroyed 800 houses and left 4,000 people homeless in the district.",
        [(800, "count"), (4000, "displaced")],
    ),
    ("A second blast wounded 26 bystanders.", [(26, "injured")]),
    ("Turkey hosts about 3.6 million Syrian refugees.", [(3.6e6, "displaced")]),
    ("Nobody was hurt in the 2015 blast, which happened at 4 am.", []),
    ("Between 400 and 600 people were evacuated from the island.", [(400, "evacuated")]),
    ("Police said the man, 34, was arrested at his home.", []),
    (
        "The stampede at the stadium left 12 people dead and 80 injured.",
        [(12, "killed"), (80, "injured")],
    ),
    (
        "Authorities reported 3 deaths and 27 injuries from the heatwave.",
        [(3, "killed"), (27, "injured")],
    ),
    ("A shipment of 20,000 tonnes of wheat arrived at the port.", []),
    ("Some 150 guests were taken hostage at the hotel.", [(150, "kidnapped")]),
    ("Six fishermen were rescued but two are still missing.", [(6, "people"), (2, "missing")]),
    ("Firefighters evacuated 1,100 residents from the tower blocks.", [(1100, "evacuated")]),
    (
        "Unemployment fell by 0.3 percentage points to 5.1% in the quarter.",
        [(0.3, "percent"), (5.1, "percent")],
    ),
]


def _score(cases: list[tuple[str, list[tuple[float, str]]]]) -> tuple[float, float]:
    tp = fp = fn = 0
    for text, gold in cases:
        got, want = _pairs(text), Counter((float(v), c) for v, c in gold)
        matched = sum((got & want).values())
        tp, fp, fn = (
            tp + matched,
            fp + sum(got.values()) - matched,
            fn + sum(want.values()) - matched,
        )
    return tp / (tp + fp), tp / (tp + fn)


def test_held_out_precision_and_recall() -> None:
    precision, recall = _score(SECOND_PASS_CASES)
    assert precision >= 0.90, precision
    assert recall >= 0.85, recall


def _pairs(text: str) -> Counter[tuple[float, str]]:
    return Counter((f.value, f.category) for f in extract_figures(text))


@pytest.mark.parametrize(("text", "gold"), FIGURE_CASES, ids=[t[:40] for t, _ in FIGURE_CASES])
def test_case(text: str, gold: list[tuple[float, str]]) -> None:
    assert _pairs(text) == Counter((float(v), c) for v, c in gold)


def test_precision_and_recall_bars() -> None:
    precision, recall = _score(FIGURE_CASES)
    assert precision >= 0.90
    assert recall >= 0.85


ARTICLE = (
    "Evacuation of the old town continued on Friday. Officials said nine convoys have so far "
    "carried more than 6,000 people out of the city. Some 3,000 of them are rebel fighters, "
    "with about 301 wounded. Monitors say the bombing campaign killed 1,207 civilians, "
    "including 380 children, during the five-year war that has claimed the lives of some "
    "300,000 people since 2012."
)


def test_acceptance_article() -> None:
    got = [(f.value, f.category, f.qualifier, f.noun, f.part_of) for f in extract_figures(ARTICLE)]
    assert got == [
        (9, "count", None, "convoys", None),
        (6000, "evacuated", "more than", "people", None),
        (3000, "people", "some", "rebel fighters", None),
        (301, "injured", "about", None, None),
        (1207, "killed", None, "civilians", None),
        (380, "killed", None, "children", 4),
        (300000, "killed", "some", "people", None),
    ]


def test_seed_article_gives_exactly_its_figures() -> None:
    seed = need_shared("seed")
    for path in sorted(seed.glob("*.txt")):
        figures = extract_figures(path.read_text(encoding="utf-8"))
        got = [(f.value, f.category, f.qualifier, f.part_of) for f in figures]
        assert sorted(got, key=lambda g: g[0]) == sorted(
            [
                (300000, "killed", "some", None),
                (9, "count", None, None),
                (6000, "evacuated", "more than", None),
                (3000, "people", "some", None),
                (301, "injured", "about", None),
                (1207, "killed", None, None),
                (380, "killed", None, [f.value for f in figures].index(1207)),
            ],
            key=lambda g: g[0],
        )


def test_spans_are_exact_and_sentences_match() -> None:
    for figure in extract_figures(ARTICLE):
        assert ARTICLE[figure.start : figure.end] == figure.text
        assert figure.text in figure.sentence
        assert figure.category in FIGURE_CATEGORIES


def test_qualifier_synonyms_are_normalised() -> None:
    text = (
        "Upwards of 500 people fled. Approximately 40 people died. Almost 70 people were hurt. "
        "Under 30 people were arrested. As many as 12 people are missing. No fewer than 8 "
        "people were abducted."
    )
    assert [f.qualifier for f in extract_figures(text)] == [
        "more than",
        "about",
        "nearly",
        "fewer than",
        "up to",
        "at least",
    ]


def test_money_to_dict_is_json_ready() -> None:
    (figure,) = extract_figures("Donors pledged £120 million in aid.")
    data = figure.to_dict()
    assert data["value"] == 120_000_000 and isinstance(data["value"], int)
    assert data["currency"] == "GBP" and data["category"] == "money"
    json.dumps(data)


def test_non_money_has_no_currency_key() -> None:
    (figure,) = extract_figures("Floods displaced 4,500 people.")
    assert "currency" not in figure.to_dict()
    assert isinstance(figure, Figure)


def test_subgroup_markers() -> None:
    for text in (
        "The attack killed 40 people, among them 11 children.",
        "The attack killed 40 people, of whom 11 were children.",
        "The attack killed 40 people, 11 of them children.",
    ):
        figures = extract_figures(text)
        assert [(f.value, f.category, f.part_of) for f in figures] == [
            (40, "killed", None),
            (11, "killed", 0),
        ], text


def test_part_of_indexes_across_sentences() -> None:
    text = "Floods displaced 900 people. The storm killed 30 people, including 6 children."
    figures = extract_figures(text)
    assert [f.part_of for f in figures] == [None, None, 1]


def test_empty_and_numberless_text() -> None:
    assert extract_figures("") == []
    assert extract_figures("No figures were given by the ministry.") == []


def test_displacement_corpus_bar() -> None:
    need_shared("corpora", "displacement-figures")
    from benchmarks.eval_figures import score_displacement

    assert score_displacement(show=False) >= 0.85


@pytest.mark.parametrize(
    ("text", "low", "high", "category"),
    [
        ("Between 18,000 and 25,000 people were displaced.", 18000, 25000, "displaced"),
        ("Officials said 2,000-3,000 people had fled the town.", 2000, 3000, "displaced"),
        ("Up to 3,000 to 5,000 people fled the fighting.", 3000, 5000, "displaced"),
        ("One to 1.5 million people need food aid.", 1e6, 1.5e6, "affected"),
        ("Some 50 or 60 people died in the fire.", 50, 60, "killed"),
        ("Repairs will cost $2-3 billion.", 2e9, 3e9, "money"),
        ("Prices rose 20-30% this year.", 20, 30, "percent"),
    ],
)
def test_ranges_have_both_bounds(text: str, low: float, high: float, category: str) -> None:
    (figure,) = extract_figures(text)
    assert (figure.value, figure.value_max, figure.category) == (low, high, category)
    assert text[figure.start : figure.end] == figure.text


def test_range_text_includes_between() -> None:
    (figure,) = extract_figures("Between 400 and 600 people were evacuated.")
    assert figure.text == "Between 400 and 600" and figure.qualifier is None


def test_range_to_dict_has_value_max_and_single_values_do_not() -> None:
    low, single = extract_figures("Floods displaced 2,000-3,000 people. Fire killed 4 people.")
    assert low.to_dict()["value_max"] == 3000 and isinstance(low.to_dict()["value_max"], int)
    assert "value_max" not in single.to_dict() and single.value_max is None
    json.dumps(low.to_dict())


@pytest.mark.parametrize(
    "text",
    [
        "The score was 3-1 after extra time.",
        "The death toll rose from 50 to 72 on Monday.",
        "Unemployment fell by 0.3 percentage points to 5.1%.",
    ],
)
def test_changes_and_scores_are_not_ranges(text: str) -> None:
    assert all(f.value_max is None for f in extract_figures(text))


def test_change_target_shares_the_event() -> None:
    figures = extract_figures("The death toll rose from 50 to 72 on Monday.")
    assert [(f.value, f.category) for f in figures] == [(50, "killed"), (72, "killed")]


def test_figure_with_its_own_event_is_not_a_subgroup() -> None:
    figures = extract_figures("412 people were wounded, including 30 children, and 15 were killed.")
    assert [(f.value, f.category, f.part_of) for f in figures] == [
        (412, "injured", None),
        (30, "injured", 0),
        (15, "killed", None),
    ]


def test_subgroup_phrase_ends_at_its_comma() -> None:
    figures = extract_figures("The blast killed 40 people, including 12 children, and injured 70.")
    assert [(f.value, f.category, f.part_of) for f in figures] == [
        (40, "killed", None),
        (12, "killed", 0),
        (70, "injured", None),
    ]


def test_relative_subgroup_keeps_its_own_event_and_link() -> None:
    figures = extract_figures("The ship carried 412 migrants, 97 of whom drowned.")
    assert [(f.value, f.category, f.part_of) for f in figures] == [
        (412, "people", None),
        (97, "killed", 0),
    ]


def test_no_subgroup_without_a_cue() -> None:
    figures = extract_figures("Floods displaced 900 people and 40 were injured.")
    assert [f.part_of for f in figures] == [None, None]


def test_event_nouns_outrank_nearby_cues() -> None:
    figures = extract_figures("Officials reported 3 deaths and 27 injuries from the heatwave.")
    assert [(f.value, f.category) for f in figures] == [(3, "killed"), (27, "injured")]


def test_age_in_apposition_after_a_common_noun() -> None:
    assert extract_figures("Police said the driver, 52, was arrested at the scene.") == []


@pytest.mark.parametrize(
    ("text", "gold"),
    [
        # a change and a level are not a range
        ("The stock fell 6 percent to $31.50 on Monday.", [(6, "percent"), (31.5, "money")]),
        ("Four climbers were rushed to hospital with frostbite.", [(4, "injured")]),
        ("Bandits seized 35 villagers in a night raid.", [(35, "kidnapped")]),
        ("Police seized 40 vehicles at the border.", [(40, "count")]),
        ("Of the 52 people on board, only 9 survived.", [(52, "people"), (9, "people")]),
        ("Some 300 people were rescued and evacuated to camps.", [(300, "evacuated")]),
        ("The party won 41 of the 90 seats.", [(41, "count"), (90, "count")]),
    ],
)
def test_general_fixes(text: str, gold: list[tuple[float, str]]) -> None:
    assert sorted((f.value, f.category) for f in extract_figures(text)) == sorted(gold)
