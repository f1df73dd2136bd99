"""Country names in ``place:`` queries resolved to ISO 3166-1 alpha-2 codes.

Places carry the alpha-2 code of their country, so ``place:Syria`` can match an article that
only names Aleppo. Names come from pycountry (short, official and common names, and the
"Congo, The Democratic Republic of the" forms turned around), plus the everyday names
news writes that ISO does not use. Comparison is on folded words, so case, accents and
punctuation do not matter ("cote d'ivoire", "U.K.").
"""

from __future__ import annotations

from functools import lru_cache

import pycountry

from pipeline.stages.query.normalise import words

# Everyday names missing from pycountry's name fields. Regions inside a country (England,
# Northern Ireland) are left out on purpose: they would match every place in the country.
ALIASES: dict[str, str] = {
    "uk": "GB",
    "u k": "GB",  # "U.K." folds to two words
    "britain": "GB",
    "great britain": "GB",
    "usa": "US",
    "us": "US",
    "u s": "US",
    "u s a": "US",
    "united states": "US",
    "russia": "RU",
    "iran": "IR",
    "syria": "SY",
    "turkey": "TR",
    "ivory coast": "CI",
    "dr congo": "CD",
    "drc": "CD",
    "democratic republic of congo": "CD",
    "congo kinshasa": "CD",
    "congo brazzaville": "CG",
    "burma": "MM",
    "east timor": "TL",
    "cape verde": "CV",
    "swaziland": "SZ",
    "macedonia": "MK",
    "holland": "NL",
    "uae": "AE",
    "emirates": "AE",
    "vatican": "VA",
    "vatican city": "VA",
    "palestine": "PS",
    "palestinian territories": "PS",
    "brunei": "BN",
    "bosnia": "BA",
    "micronesia": "FM",
    "kosovo": "XK",
    "eire": "IE",
    "czech republic": "CZ",
    "south korea": "KR",
    "north korea": "KP",
}


def country_code(name: str) -> str | None:
    """The alpha-2 code ``name`` stands for ("Syria" -> "SY", "sy" -> "SY"), or ``None``.

    Any two ASCII letters are taken as a code, as ``place:SY`` always was, unless they are an
    everyday abbreviation ("UK" -> "GB").
    """
    key = _key(name)
    if not key:
        return None
    code = _names().get(key)
    if code is not None:
        return code
    raw = name.strip()
    if len(raw) == 2 and raw.isascii() and raw.isalpha():
        return raw.upper()
    return None


def _key(name: str) -> str:
    parts = words(name)
    if parts and parts[0] == "the":
        parts = parts[1:]
    return " ".join(parts)


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    names: dict[str, str] = {}
    for country in pycountry.countries:
        for attribute in ("name", "official_name", "common_name"):
            value = getattr(country, attribute, None)
            if not value:
                continue
            names.setdefault(_key(value), country.alpha_2)
            head, comma, tail = value.partition(", ")
            if comma:
                names.setdefault(_key(f"{tail} {head}"), country.alpha_2)
    names.update(ALIASES)
    return names
