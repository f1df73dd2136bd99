"""Geotagging: which countries, cities and first-level regions an article talks about.

Matching is one pass of a case-sensitive Aho-Corasick automaton (see ``gazetteer``); the rest
is cheap context logic over the matches:

* Demonyms ("Syrian", "Iraqis") count as evidence for the article's main country and for
  disambiguation, but are not listed as places: "Syrian refugees in Lebanon" is about Lebanon
  as a place, Syria only as an origin.
* A name glued to another capitalised name ("Michael Jordan", "Mr Jordan", "Jordan Henderson",
  "Washington Post") is part of a person or organisation name, not a place. Once a name is seen
  as a person, its bare mentions only count with a locative cue ("in Jordan").
* Ambiguous names are resolved per mention by prior (country > region > city by population)
  plus document evidence: countries named elsewhere in the article, and their neighbours.
* Names that are also common English words ("Nice", "Reading") and small towns need their
  country to be named elsewhere in the article, or a locative ("in Laukkai", also for a whole
  list "in Hsenwi, Namtu and Laukkai"), before they count.
* Text is matched accent-folded and mis-decoded punctuation ends a word ("Somaliaâ€™s");
  upper-case dateline names ("ALEPPO, Syria -") are looked up in title case.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from dataclasses import dataclass

from pipeline.model import Place
from pipeline.stages.extract.gazetteer import (
    COMMON_WORDS,
    Candidate,
    Gazetteer,
    city_prior,
    fold_in_place,
    load_gazetteer,
    words,
)
from pipeline.stages.text import Sentence, sentence_at, split_sentences

__all__ = ["Gazetteer", "PlacesResult", "extract_places", "load_gazetteer"]

# Below this, a town needs its country named elsewhere (or "in <town>") to count.
SMALL_CITY_POPULATION = 100000
# Alternate spellings ("Duma" for a Damascus suburb) need the same support below this size.
ALTERNATE_TRUSTED_POPULATION = 1000000
COUNTRY_PRIOR = 3.0
# As strong as a city of ~600k: first-level regions are prominent, same-name towns rarely are.
REGION_PRIOR = 2.8
# A city named like its own region ("Idlib") is preferred: it is more specific and has a point.
SAME_NAME_CITY_BONUS = 0.6
ALTERNATE_PENALTY = 0.3
# A national capital is better known than a namesake of its size (Athens, Greece vs Georgia).
CAPITAL_BONUS = 0.8
NEIGHBOUR_BONUS = 0.8
KIND_CUE_BONUS = 1.5
APPOSITION_BONUS = 3.0
# Evidence weights for the main-country decision; the title counts extra.
MAIN_WEIGHTS = {"country": 1.0, "region": 0.8, "city": 0.8, "demonym": 0.5}
TITLE_FACTOR = 1.5

PERSON_TITLES = frozenset(
    words(
        """
        mr mrs ms miss dr sir lady lord dame prof professor coach captain capt sen senator
        rep gov governor gen general judge justice pastor rev father saint st king queen
        prince princess president minister chancellor mayor officer sergeant sgt lt col star
        player striker midfielder defender goalkeeper singer actor actress rapper
        """
    )
)
# Country names that are also common given names: a following capitalised word means a person.
PERSON_LIKE = frozenset({"Jordan", "Georgia", "Chad", "Israel", "India", "Kenya", "Lebanon"})
SAY_VERBS = frozenset({"said", "says", "told", "added", "tweeted", "wrote", "scored", "insisted"})
# Enough to read a name used for a person elsewhere as a place ("fled into Jordan").
STRONG_LOCATIVES = frozenset({"in", "into", "near", "inside", "outside", "across", "throughout"})
LOCATIVES = frozenset(
    words(
        """
        in into to from across near toward towards via through throughout inside within
        outside neighbouring neighboring around across between
        """
    )
)
REGION_CUES = frozenset(
    words(
        """
        province provinces state states governorate governorates region regions district
        districts county counties prefecture prefectures department departments oblast
        territory territories island islands atoll archipelago peninsula
        """
    )
)
CITY_CUES = frozenset(words("city town village capital cities towns villages"))
# Conjunctions that continue a list of places: "in Kalemie, Moni and Kalunga".
LIST_JOINERS = frozenset({"and", "or", "&"})
_PRONOUNS = re.compile(r"\b(?:he|she|his|her|him)\b", re.IGNORECASE)
# A whole word: "Es" glued to mis-decoded bytes ("ChinaS—Es") is not a name.
# A neighbouring word is on the same line: the title ends at a line break, and "Aleppo"
# above "Shelling of Aleppo…" is not the first name of a Mr Shelling.
_WORD_BEFORE = re.compile(r"(?:^|(?<=[\s\"'(\[]))([A-Za-z][\w.'\-]*)([^\S\n]+)$")
_OF_CUE = re.compile(r"\b([A-Za-z]+)\s+of\s+$")
_APPOSED_CUE = re.compile(r"\b(capital|city|town|village),\s+$")
_WORD_AFTER = re.compile(r"^([^\S\n]+)([A-Za-z][\w'\-]*)")
_SENTENCE_OPENERS = "\"'\u201c\u2018([-*\u2022"
# A list of capitalised names after a locative, up to the mention: "in Budi, Ikotos and ".
_LIST_AFTER_LOCATIVE = re.compile(
    r"\b(?:in|into|near|across|throughout)\s+"
    r"(?:[A-Z][\w'\-]*(?:\s[A-Z][\w'\-]*)*(?:,\s+|,?\s+(?:and|or)\s+))+$"
)
# Upper-case place names opening a dateline: "ALEPPO, Syria -", "PORT-AU-PRINCE (Reuters) -".
_DATELINE = re.compile(
    r"(?m)^[ \t]*([A-Z][A-Z'.]*(?:[ \-][A-Z][A-Z'.]*){0,3})(?=,\s|\s*\(|\s+[-\u2013\u2014]\s)"
)
_NAME_PARTICLES = frozenset(words("al el de del da do du des la le les au aux of the and on upon"))
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_NORMALISE = str.maketrans({"\u2019": "'", "\u2018": "'", "\u2010": "-", "\u2011": "-"})


@dataclass(frozen=True)
class PlacesResult:
    places: list[Place]
    country: str | None  # ISO 3166-1 alpha-2 of the article's main country

    def to_dict(self) -> dict[str, object]:
        return {"places": [place.to_dict() for place in self.places], "country": self.country}


@dataclass(slots=True)
class _Mention:
    start: int
    end: int
    surface: str
    candidates: tuple[Candidate, ...]
    prev_word: str = ""
    next_word: str = ""
    of_cue: str = ""  # "province" in "the province of Nuristan"
    next_is_area: bool = False  # the next word starts a country or region name
    apposed: frozenset[str] = frozenset()  # countries of "<here>, Texas" / "<here>, Lebanon"
    sentence_initial: bool = False
    person: bool = False
    in_list: bool = False  # one of several names after a locative: "in Kalemie, Moni and Kalunga"

    @property
    def locative(self) -> bool:
        return self.in_list or self.prev_word.lower() in LOCATIVES


def extract_places(text: str, title: str = "", gazetteer: Gazetteer | None = None) -> PlacesResult:
    """Places named in ``title`` and ``text``, most mentioned first, and the main country."""
    gaz = gazetteer or load_gazetteer()
    # Folding accents lets "Kasaï" and "Bogotá" match however the gazetteer spells them.
    written = (title + "\n\n" + text if title else text).translate(_NORMALISE)
    body = fold_in_place(written)
    title_end = len(title)
    mentions = _find_mentions(body, gaz, written)
    if not mentions:
        return PlacesResult([], None)
    sentences = split_sentences(body)
    by_start = {m.start: m for m in mentions}
    ends = {m.end for m in mentions}
    for mention in mentions:
        _annotate(mention, body, sentences, by_start, ends)
    _mark_lists(mentions, body)
    _mark_people(mentions, sentences, gaz.capitals, body)

    evidence = _evidence(mentions)
    resolved: list[tuple[_Mention, Candidate]] = []
    for mention in mentions:
        if mention.person:
            continue
        choice = _resolve(mention, evidence, gaz)
        if choice is not None:
            resolved.append((mention, choice))
    return PlacesResult(_places(resolved, gaz), _main_country(resolved, title_end))


def _find_mentions(body: str, gaz: Gazetteer, written: str) -> list[_Mention]:
    """Leftmost-longest matches that sit on word boundaries."""
    found: list[tuple[int, int, str, tuple[Candidate, ...]]] = []
    for end_index, (surface, candidates) in gaz.automaton.iter(body):
        end = end_index + 1
        start = end - len(surface)
        if _glued(written, start - 1, backwards=True) or _glued(written, end, backwards=False):
            continue
        if written[start:end] != surface:
            # Written with its accents ("Bogotá"): the exact spelling is better evidence.
            candidates = gaz.lookup(written[start:end]) or candidates
        found.append((start, end, surface, candidates))
    found.extend(_dateline_mentions(body, gaz))
    found.sort(key=lambda item: (item[0], -item[1]))
    mentions: list[_Mention] = []
    last_end = -1
    for start, end, surface, candidates in found:
        if start >= last_end:
            mentions.append(_Mention(start, end, surface, candidates))
            last_end = end
    return mentions


def _glued(body: str, index: int, backwards: bool) -> bool:
    """Does the character at ``index`` continue the word a match ends or starts at?

    Mis-decoded punctuation ("Somaliaâ€™s", "AfghanistanŠ—Ès") is not part of the word: a run
    of non-ASCII characters only continues it when it is all lower-case letters ("José").
    """
    if index < 0 or index >= len(body) or not body[index].isalnum():
        return False
    if body[index].isascii():
        return True
    if backwards:
        start = index
        while start > 0 and not body[start - 1].isascii():
            start -= 1
        run = body[start : index + 1]
    else:
        match = _NON_ASCII_RUN.match(body, index)
        run = match.group() if match else body[index]
    return all(ch.isalpha() and ch.islower() for ch in run)


def _dateline_mentions(
    body: str, gaz: Gazetteer
) -> list[tuple[int, int, str, tuple[Candidate, ...]]]:
    """Upper-case names opening a line: "ALEPPO, Syria -" reads as "Aleppo"."""
    out: list[tuple[int, int, str, tuple[Candidate, ...]]] = []
    for match in _DATELINE.finditer(body):
        raw = match.group(1)
        plain = re.sub(r"[A-Za-z]+", lambda word: word.group().capitalize(), raw.lower())
        particled = re.sub(
            r"(?<=[ \-])[A-Za-z]+",
            lambda word: (
                word.group().lower() if word.group().lower() in _NAME_PARTICLES else word.group()
            ),
            plain,
        )
        for surface in (plain, particled):
            candidates = gaz.lookup(surface)
            if candidates:
                out.append((match.start(1), match.end(1), surface, candidates))
                break
    return out


def _annotate(
    mention: _Mention,
    body: str,
    sentences: list[Sentence],
    by_start: dict[int, _Mention],
    ends: set[int],
) -> None:
    before = _WORD_BEFORE.search(body, max(0, mention.start - 40), mention.start)
    # A neighbouring place ("Kabul Afghanistan") is not a name cue.
    if before is not None and before.end(1) not in ends:
        word = before.group(1)
        # A full stop ends the previous sentence unless it closes a title ("Mr.", "Gen.").
        if not word.endswith(".") or word.lower().rstrip(".") in PERSON_TITLES:
            mention.prev_word = word
    after = _WORD_AFTER.match(body[mention.end : mention.end + 40])
    if after is not None:
        mention.next_word = after.group(2)
        following = by_start.get(mention.end + len(after.group(1)))
        mention.next_is_area = following is not None and _areas(following) != frozenset()
    if body.startswith(", ", mention.end) and mention.end + 2 in by_start:
        mention.apposed = _areas(by_start[mention.end + 2])
    of_cue = _OF_CUE.search(body, max(0, mention.start - 30), mention.start)
    if of_cue is None:  # "the capital, Banjul"
        of_cue = _APPOSED_CUE.search(body, max(0, mention.start - 30), mention.start)
    if of_cue is not None:
        mention.of_cue = of_cue.group(1).lower()
    sentence = sentence_at(sentences, mention.start)
    if sentence is not None:
        lead = body[sentence.start : mention.start].strip(_SENTENCE_OPENERS + " ")
        mention.sentence_initial = not lead


def _mark_lists(mentions: list[_Mention], body: str) -> None:
    """A locative before a list "A, B and C" covers every name in it.

    Only a list closed by "and"/"or" counts: "in Runcorn, Cheshire" is a town and its county.
    """
    for index, mention in enumerate(mentions):
        if mention.prev_word.lower() not in LIST_JOINERS:
            continue
        offset = max(0, mention.start - 160)
        found = _LIST_AFTER_LOCATIVE.search(body, offset, mention.start)
        if found is None:
            continue
        for item in reversed(mentions[: index + 1]):
            if item.start < found.start():
                break
            item.in_list = True


def _areas(mention: _Mention) -> frozenset[str]:
    """Countries a mention could be, if it may name a country or region."""
    return frozenset(
        c.country for c in mention.candidates if c.kind in ("country", "region") and c.country
    )


def _is_name_word(word: str, following: bool = False) -> bool:
    """A capitalised word that is probably part of a proper name ("Michael", "Post")."""
    if len(word.rstrip(".")) == 1:
        return word.isupper()  # a middle initial: "George W Bush"
    if not word or not word[0].isupper() or word.isupper():
        return False
    lower = word.lower().rstrip(".")
    if lower in COMMON_WORDS or lower in REGION_CUES or lower in CITY_CUES:
        return False
    # Offices follow places attributively ("Salta Governor", "Kabul Mayor").
    if following and lower in PERSON_TITLES:
        return False
    # "Rebel-held", "Western": descriptive words in front of a place.
    return not ("-" in word or lower.endswith(("ern", "ese", "ian", "ish")))


def _mark_people(
    mentions: list[_Mention], sentences: list[Sentence], capitals: frozenset[str], body: str
) -> None:
    person_names: set[str] = set()
    for mention in mentions:
        if all(c.kind == "demonym" for c in mention.candidates):
            continue
        mention.person = _looks_like_person(mention, sentences, capitals)
        if mention.person and (mention.surface in PERSON_LIKE or " " not in mention.surface):
            person_names.add(mention.surface)
    # One sense per discourse: a name used for a person needs "in <name>" to be a place.
    for mention in mentions:
        if mention.surface in person_names and mention.prev_word.lower() not in STRONG_LOCATIVES:
            mention.person = True
    # "Brittany Murphy": the surname of a first name read as a person is a person too.
    for before, mention in itertools.pairwise(mentions):
        if (
            before.person
            and body[before.end : mention.start] == " "
            and not all(c.weak for c in before.candidates)
            and _is_name_word(mention.surface)
        ):
            mention.person = True


def _looks_like_person(
    mention: _Mention, sentences: list[Sentence], capitals: frozenset[str]
) -> bool:
    """Part of a person's or organisation's name: "Mr Jordan", "Michael Jordan", "Paris Hilton"."""
    prev = mention.prev_word
    if prev and (prev.lower().rstrip(".") in PERSON_TITLES or _is_name_word(prev)):
        return True
    is_country = any(c.kind == "country" for c in mention.candidates)
    # "Kabul Afghanistan" is two places; "Jordan Henderson" is a person even though
    # Henderson is also a town, so only a following country or region rules it out.
    if not mention.next_is_area and _is_name_word(mention.next_word, following=True):
        # "Pakistan Army" is still Pakistan; "Jordan Henderson" is not Jordan.
        return not is_country or mention.surface in PERSON_LIKE
    if (
        (mention.next_word in SAY_VERBS or prev.lower() in SAY_VERBS)
        and not is_country
        and mention.surface not in capitals
    ):
        # "Bush said", "said Murphy": towns do not talk, though capitals speak for governments.
        return True
    if mention.surface in PERSON_LIKE and mention.next_word in SAY_VERBS:
        sentence = sentence_at(sentences, mention.start)
        return sentence is not None and bool(_PRONOUNS.search(sentence.text))
    return False


def _evidence(mentions: list[_Mention]) -> dict[str, float]:
    """Countries the article names unambiguously, with how often."""
    weights: dict[str, float] = defaultdict(float)
    for mention in mentions:
        if mention.person:
            continue
        countries = {c.country for c in mention.candidates}
        if len(countries) != 1 or None in countries:
            continue
        candidate = mention.candidates[0]
        if candidate.weak or (candidate.kind == "city" and _is_doubtful(mention.candidates)):
            continue
        weights[candidate.country or ""] += MAIN_WEIGHTS[candidate.kind]
    return weights


def _is_doubtful(candidates: tuple[Candidate, ...]) -> bool:
    """A small or alternately spelled town (a same-name region is no doubt)."""
    return any(
        c.population < SMALL_CITY_POPULATION
        or (c.alternate and c.population < ALTERNATE_TRUSTED_POPULATION)
        for c in candidates
        if c.kind == "city"
    )


def _resolve(mention: _Mention, evidence: dict[str, float], gaz: Gazetteer) -> Candidate | None:
    candidates = mention.candidates
    if any(c.kind == "demonym" and c.country is None for c in candidates):
        return None  # "Asia", "Latin American": blocked phrases name no country
    if all(c.kind == "demonym" for c in candidates):
        country = candidates[0].country
        return candidates[0] if country in gaz.countries else None
    has_country = any(c.kind == "country" for c in candidates)
    shapes = {(c.country, c.kind) for c in candidates}
    biggest = max((c.population for c in candidates if c.kind == "city"), default=0)
    best: Candidate | None = None
    best_score = float("-inf")
    for candidate in candidates:
        if candidate.kind == "demonym":
            continue
        # A town that shares a country's name ("Lebanon, Pennsylvania") never beats it.
        if has_country and candidate.kind == "city":
            continue
        score = _prior(candidate)
        if (
            candidate.kind == "city"
            and not candidate.alternate
            and candidate.population >= SMALL_CITY_POPULATION
            and (candidate.country, "region") in shapes
        ):
            score += SAME_NAME_CITY_BONUS
        if candidate.country in mention.apposed:
            score += APPOSITION_BONUS
        if _is_big_capital(candidate, gaz):
            score += CAPITAL_BONUS
        weight = evidence.get(candidate.country or "", 0.0)
        # Context never lifts a town over a namesake ten times its size (Paris, Texas).
        if candidate.kind == "city" and candidate.population * 10 < biggest:
            weight = 0.0
        if weight:
            score += 1.5 + min(weight, 3.0) * 0.5
        elif any(n in evidence for n in gaz.neighbours.get(candidate.country or "", ())):
            score += NEIGHBOUR_BONUS
        score += _cue_bonus(candidate, mention)
        if score > best_score:
            best, best_score = candidate, score
    if best is None or not _supported(best, mention, evidence):
        return None
    return best


def _is_big_capital(candidate: Candidate, gaz: Gazetteer) -> bool:
    return (
        candidate.kind == "city"
        and not candidate.alternate
        and candidate.population >= SMALL_CITY_POPULATION
        and (candidate.country, candidate.name) in gaz.capital_cities
    )


def _cue_bonus(candidate: Candidate, mention: _Mention) -> float:
    """ "Huila department" / "province of Nuristan": favour the matching kind of place."""
    bonus = 0.0
    for cue in (mention.next_word.lower(), mention.of_cue):
        if candidate.kind == "region" and cue in REGION_CUES:
            # The ISO type tells the Colombian department from the Angolan province.
            bonus = max(bonus, KIND_CUE_BONUS if cue.rstrip("s") in candidate.division else 0.75)
        elif candidate.kind == "city" and cue in CITY_CUES:
            bonus = max(bonus, KIND_CUE_BONUS)
    return bonus


def _prior(candidate: Candidate) -> float:
    if candidate.kind == "country":
        return COUNTRY_PRIOR
    if candidate.kind == "region":
        return REGION_PRIOR
    return city_prior(candidate.population) - (ALTERNATE_PENALTY if candidate.alternate else 0)


def _supported(candidate: Candidate, mention: _Mention, evidence: dict[str, float]) -> bool:
    """Weak names and small towns need their country named elsewhere in the article."""
    if candidate.country in mention.apposed:
        return True
    in_context = (candidate.country or "") in evidence
    locative = mention.locative if not candidate.weak else mention.prev_word.lower() in LOCATIVES
    if candidate.weak:
        # "Unity state", "Rivers State": the administrative word vouches for the name.
        if candidate.kind == "region" and _cue_bonus(candidate, mention) >= KIND_CUE_BONUS:
            return True
        # "in Reading" with Britain named elsewhere; never "Reading the report".
        return in_context and locative and not mention.sentence_initial
    if candidate.kind == "city" and (
        candidate.population < SMALL_CITY_POPULATION
        or (candidate.alternate and candidate.population < ALTERNATE_TRUSTED_POPULATION)
    ):
        return (
            in_context
            or locative
            or mention.next_word.lower() in CITY_CUES
            or mention.of_cue in CITY_CUES
        )
    return True


def _places(resolved: list[tuple[_Mention, Candidate]], gaz: Gazetteer) -> list[Place]:
    counts: dict[tuple[str, str | None, str], int] = defaultdict(int)
    first: dict[tuple[str, str | None, str], tuple[int, Candidate]] = {}
    for mention, found in resolved:
        # "Syrian" is a mention of Syria, listed as the country, never as a place "Syrian".
        if found.kind == "demonym":
            if found.country is None:
                continue
            candidate = gaz.countries[found.country]
        else:
            candidate = found
        key = (candidate.kind, candidate.country, candidate.name)
        counts[key] += 1
        first.setdefault(key, (mention.start, candidate))
    order = sorted(counts, key=lambda key: (-counts[key], first[key][0]))
    return [
        Place(
            name=candidate.name,
            country=candidate.country,
            geonameid=candidate.geonameid,
            lat=candidate.lat,
            lon=candidate.lon,
            mentions=counts[key],
            kind=candidate.kind,
        )
        for key in order
        for candidate in [first[key][1]]
    ]


def _main_country(resolved: list[tuple[_Mention, Candidate]], title_end: int) -> str | None:
    scores: dict[str, float] = defaultdict(float)
    first: dict[str, int] = {}
    for mention, candidate in resolved:
        if candidate.country is None:
            continue
        weight = MAIN_WEIGHTS[candidate.kind]
        if mention.start < title_end:
            weight *= TITLE_FACTOR
        scores[candidate.country] += weight
        first.setdefault(candidate.country, mention.start)
    if not scores:
        return None
    return min(scores, key=lambda iso: (-scores[iso], first[iso]))
