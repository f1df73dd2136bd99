"""Number expressions in English text: digits, words, fractions, money and percentages.

Rule-based and deterministic. The text is cut into atoms (digit numbers with their attached
suffixes, words, symbols); runs of adjacent number words are then split into the longest
valid number phrases, so "4000 3 hundred and 21" gives two numbers and "twenty-six" one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from pipeline.data import load_tables

NUMBER_KINDS: tuple[str, ...] = ("number", "money", "percent")


@dataclass(frozen=True, slots=True)
class NumberSpan:
    start: int
    end: int
    value: float
    kind: str  # one of NUMBER_KINDS
    currency: str | None
    text: str


# --- lexicon (pipeline/data/numbers.yaml) --------------------------------------------------

_LEXICON = load_tables("numbers")
_UNITS: dict[str, int] = dict(_LEXICON["units"])
_TEENS: dict[str, int] = dict(_LEXICON["teens"])
_TENS: dict[str, int] = dict(_LEXICON["tens"])
_SCALES: dict[str, float] = dict(_LEXICON["scales"])
_DOZENS: frozenset[str] = frozenset(_LEXICON["dozens"])
_ORDINAL_UNITS: dict[str, int] = dict(_LEXICON["ordinal_units"])
_ORDINAL_TENS: dict[str, int] = dict(_LEXICON["ordinal_tens"])
_ORDINAL_SCALES: dict[str, float] = dict(_LEXICON["ordinal_scales"])


@dataclass(frozen=True, slots=True)
class _Ordinal:
    value: float
    rank: int  # 1 units and teens, 2 tens, 3 hundred, 4+ larger scales
    plural: bool


def _ordinals() -> dict[str, _Ordinal]:
    table: dict[str, _Ordinal] = {}
    for word, value in _ORDINAL_UNITS.items():
        table[word], table[word + "s"] = _Ordinal(value, 1, False), _Ordinal(value, 1, True)
    for word, value in _ORDINAL_TENS.items():
        table[word], table[word + "s"] = _Ordinal(value, 2, False), _Ordinal(value, 2, True)
    # Ranks follow size, whatever the order of the data file: hundredth 3, thousandth 4, ...
    by_size = sorted(_ORDINAL_SCALES.items(), key=lambda item: item[1])
    for rank, (word, scale) in enumerate(by_size, start=3):
        table[word], table[word + "s"] = _Ordinal(scale, rank, False), _Ordinal(scale, rank, True)
    table["half"], table["halves"] = _Ordinal(2, 1, False), _Ordinal(2, 1, True)
    table["quarter"], table["quarters"] = _Ordinal(4, 1, False), _Ordinal(4, 1, True)
    return table


_ORDINALS = _ordinals()
_MULTIPLIER_WORDS = frozenset(["hundred", *_SCALES, *_DOZENS])
_CARDINAL_WORDS = frozenset([*_UNITS, *_TEENS, *_TENS, "hundred", *_SCALES, *_DOZENS])
_NEGATIVE_WORDS: frozenset[str] = frozenset(_LEXICON["negative_words"])
_DETERMINERS: frozenset[str] = frozenset(_LEXICON["determiners"])
_SCALE_SUFFIX: dict[str, float] = dict(_LEXICON["scale_suffixes"])
_CURRENCY_SYMBOLS: dict[str, str] = dict(_LEXICON["currency_symbols"])
_CURRENCY_CODES: frozenset[str] = frozenset(_LEXICON["currency_codes"])
_CURRENCY_WORDS: dict[str, str] = dict(_LEXICON["currency_words"])
_PERCENT_WORDS: frozenset[str] = frozenset(_LEXICON["percent_words"])

# --- atoms ---------------------------------------------------------------------------------

_DIGITS = re.compile(
    r"(?P<dotted>\d+(?:\.\d+){2,})(?![\d])"
    r"|(?P<num>(?:\d{1,3}(?:,\d{3})+(?!\d)|\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?!\d)|\d+)"
    r"(?:\.\d+)?|\.\d+)"
)
# No reported count has more digits than this; longer runs are identifiers or junk, and
# reading them as numbers would overflow floats and Python's int-from-string limit.
_MAX_DIGITS = 21
_SUFFIX = re.compile(
    r"(?:(?P<exp>[eE][+-]?\d+)|(?P<pow>\^[+-]*\d+)|(?P<mult>MM|mm|mil|mln|bln|tln|trn|bn|mn|tn"
    r"|[kKMGTbBm])|(?P<ord>st|nd|rd|th|ST|ND|RD|TH|s))(?![A-Za-z0-9])"
)
_SPACED_SUFFIX = re.compile(r"[ \t]+(?P<mult>[kKMG])(?![A-Za-z0-9'])")
_DECIMAL_COMMA = re.compile(r",(\d{1,2})(?![\d])(?!,\d)")
_SLASH_FRACTION = re.compile(r"/(\d{1,3})(?![\d/])")
_GLUED = re.compile(r"[\w.]+")
_GLUED_CURRENCY = re.compile(r"\b(?:Rs|Rp|KSh|Tk)$")
_HYPHEN_GAP = re.compile(r"\s*[-\u2010\u2011\u2013]\s*")
_CURRENCY_BEFORE = re.compile(
    r"(?:(?P<sym>(?:US|AU?|CA?|HK|NZ|S|R)?\$|[€£¥₹₦₩₽₺₱]|\b(?:Rs|Rp)\.?|\b(?:KSh|Tk))"
    r"|\b(?P<code>[A-Z]{3}))\s?$"
)
_CURRENCY_AFTER = re.compile(r"\s?(?:(?P<code>[A-Z]{3})\b|(?:US\s)?(?P<word>[a-z]+)\b)")
# "percentage points" is a percent figure too (a change in a rate), spanned whole.
_PERCENT_AFTER = re.compile(
    r"(?:\s?%|\s+(?P<word>[A-Za-z]+)(?:\s+(?P<cent>cent)\b)?)(?:\s+points?\b)?"
)


@dataclass(slots=True)
class _Atom:
    start: int
    end: int
    # "num": digits that may take scale words ("2 million"); "done": complete ("10k", "1e6");
    # "frac": a digit fraction ("3/4"); "word"; "sym"
    kind: str
    text: str
    value: float = 0.0
    is_int: bool = False
    joined: bool = False  # separated from the previous atom only by spaces or a hyphen
    hyphen: bool = False  # the separation was a hyphen


def _to_float(raw: str) -> float:
    return float(raw.replace(",", "").replace(" ", "").replace("\u00a0", "").replace("\u202f", ""))


def _atoms(text: str) -> list[_Atom]:
    atoms: list[_Atom] = []
    pos = 0
    while True:
        match = _SCAN.search(text, pos)
        if match is None:
            break
        start = match.start()
        prev = text[start - 1] if start else " "
        kind = match.lastgroup
        if kind == "url" and not prev.isalnum():
            atoms.append(_Atom(start, match.end(), "sym", match.group(0)))  # no numbers in links
            pos = match.end()
        elif kind == "num" and (match.group(0)[0] != "." or not prev.isalnum()):
            atom = _digit_atom(text, start, atoms) if _free(text, start) else None
            if atom is None:
                # Digits glued to letters ("A380", "29km", "180ml") are names or measurements.
                glued = _GLUED.match(text, start)
                pos = glued.end() if glued else start + 1
            elif isinstance(atom, list):
                atoms.extend(atom)
                pos = atom[-1].end
            else:
                atoms.append(atom)
                pos = atom.end
        elif kind == "word":
            word = match.group(0)
            if word.lower() in _ATOM_WORDS:
                atoms.append(_Atom(start, match.end(), "word", word))
            pos = match.end()
        elif kind == "url":
            pos = match.end()  # glued to a word: not a link, and no number atoms in it
        else:
            atoms.append(_Atom(start, start + 1, "sym", text[start]))
            pos = start + 1
    _mark_joins(text, atoms)
    return atoms


def _free(text: str, pos: int) -> bool:
    """Digits may start here: not glued to a name ("A380", "MH17", "COVID19").

    A lower-case word glued to digits ("least140,000") is a PDF extraction artefact; the
    number is real.
    """
    if not pos or not text[pos - 1].isalpha():
        return True
    if _GLUED_CURRENCY.search(text, max(0, pos - 4), pos):
        return True
    word = re.search(r"[A-Za-z]+$", text[max(0, pos - 20) : pos])
    letters = word.group(0) if word else ""
    return len(letters) >= 3 and letters[1:].islower()


def _digit_atom(text: str, pos: int, atoms: list[_Atom]) -> _Atom | list[_Atom] | None:
    match = _DIGITS.match(text, pos)
    if match is None or sum(c.isdigit() for c in match.group(0)) > _MAX_DIGITS:
        return None
    if match.group("dotted"):
        # "192.168.1.2" or "12.05.2016": a dotted sequence of separate integers.
        parts: list[_Atom] = []
        for piece in re.finditer(r"\d+", match.group(0)):
            s, e = pos + piece.start(), pos + piece.end()
            parts.append(_Atom(s, e, "done", text[s:e], float(piece.group(0)), True))
        return parts
    raw = match.group("num")
    end = match.end()
    value = _to_float(raw)
    is_int = "." not in raw
    kind = "num"
    plain = raw.isdigit()
    if plain and (not atoms or atoms[-1].text != "," or atoms[-1].end != pos):
        comma = _DECIMAL_COMMA.match(text, end)
        if comma:
            # "5,00" or "1,3": a decimal comma, unless it is a list such as "22,24,26".
            value = float(f"{raw}.{comma.group(1)}")
            end, is_int, plain = comma.end(), False, False
    if plain and (not atoms or atoms[-1].text not in "/") and int(raw) > 0:
        slash = _SLASH_FRACTION.match(text, end)
        if slash and int(raw) < int(slash.group(1)):
            den = int(slash.group(1))
            return _Atom(pos, slash.end(), "frac", text[pos : slash.end()], value / den)
    suffix = _SUFFIX.match(text, end)
    if suffix:
        if suffix.group("exp"):
            value *= 10 ** int(suffix.group("exp")[1:])
            kind, is_int = "done", value == int(value)
        elif suffix.group("pow"):
            exponent = suffix.group("pow")[1:]
            sign = -1 if exponent.count("-") % 2 else 1
            value = value ** (sign * int(exponent.lstrip("+-")))
            kind, is_int = "done", False
        elif suffix.group("mult"):
            mult = suffix.group("mult")
            if mult == "m" and is_int and not _currency_before(text, pos):
                return None  # "1m" is a metre unless it is money or has decimals ("1.5m")
            value *= _SCALE_SUFFIX[mult]
            kind, is_int = "done", value == int(value)
        elif suffix.group("ord"):
            if suffix.group("ord") == "s":
                return None  # "1980s"
            return _Atom(pos, suffix.end(), "sym", text[pos : suffix.end()])  # ordinal "3rd"
        end = suffix.end()
    elif end < len(text) and (text[end].isalpha() or text[end] == "_"):
        return None  # a unit or an identifier glued to the digits: "29km", "180ml"
    else:
        spaced = _SPACED_SUFFIX.match(text, end)
        if spaced:
            value *= _SCALE_SUFFIX[spaced.group("mult")]
            end, kind = spaced.end(), "done"
    return _Atom(pos, end, kind, text[pos:end], value, is_int)


def _currency_before(text: str, pos: int) -> str | None:
    match = _CURRENCY_BEFORE.search(text, max(0, pos - 5), pos)
    if match is None:
        return None
    if match.group("sym"):
        return _CURRENCY_SYMBOLS.get(match.group("sym"))
    code = match.group("code")
    return code if code in _CURRENCY_CODES else None


def _mark_joins(text: str, atoms: list[_Atom]) -> None:
    # A hyphen between two words ("twenty-one", "one-eighth") only joins them.
    atoms[:] = [
        atom
        for i, atom in enumerate(atoms)
        if not (
            atom.kind == "sym"
            and atom.text in "-\u2010\u2011\u2013"
            and 0 < i < len(atoms) - 1
            and atoms[i - 1].kind == "word"
            and atoms[i + 1].kind == "word"
        )
    ]
    for prev, atom in pairwise(atoms):
        gap = text[prev.end : atom.start]
        if not gap.strip():
            atom.joined = True
        elif _HYPHEN_GAP.fullmatch(gap):
            atom.joined = atom.hyphen = True


# --- phrase values -------------------------------------------------------------------------


def _low(atom: _Atom) -> str:
    return atom.text.lower() if atom.kind == "word" else ""


def _cardinal(atoms: list[_Atom]) -> float | None:
    """Value of a cardinal phrase ("three hundred and two dozens", "4 thousand 3 hundred")."""
    if not atoms:
        return None
    total = high = low = 0.0  # high/low: the hundreds and the sub-hundred part of a group
    last = "start"
    before_and = ""
    last_scale = float("inf")
    decimals: str | None = None
    i = 0
    while i < len(atoms):
        atom = atoms[i]
        word = _low(atom)
        state = before_and if last == "and" else last
        if atom.hyphen and i and not (last == "tens" and word in _UNITS):
            return None
        if decimals is not None and word not in _SCALES:
            return None
        if last == "and" and before_and == "tens" and word not in _UNITS:
            return None
        if atom.kind == "num":
            limit = {"start": None, "hundred": 100.0, "scale": last_scale}.get(state, -1.0)
            if limit is not None and (limit < 0 or not atom.is_int or atom.value >= limit):
                return None
            low += atom.value
            last = "digits"
        elif atom.kind != "word":
            return None
        elif word in ("a", "an"):
            if last != "start" or len(atoms) == 1:
                return None
            low, last = 1.0, "a"
        elif word == "and":
            if last not in ("hundred", "scale", "tens") or i + 1 == len(atoms):
                return None
            before_and, last = last, "and"
        elif word in _UNITS:
            following = _low(atoms[i + 1]) if i + 1 < len(atoms) else ""
            if _UNITS[word] == 0 and len(atoms) > 1 and following != "point":
                return None
            if state not in ("start", "tens", "hundred", "scale"):
                return None
            low += _UNITS[word]
            last = "unit"
        elif word in _TEENS or word in _TENS:
            if state not in ("start", "hundred", "scale"):
                return None
            low += _TEENS.get(word) or _TENS[word]
            last = "teen" if word in _TEENS else "tens"
        elif word == "hundred":
            if last not in ("unit", "teen", "tens", "digits", "a") or high:
                return None
            high, low, last = low * 100, 0.0, "hundred"
        elif word in _DOZENS:
            if last not in ("unit", "teen", "tens", "digits", "a"):
                return None
            low *= 12
            last = "hundred"
        elif word in _SCALES:
            scale = _SCALES[word]
            group = high + low + (float("0." + decimals) if decimals else 0.0)
            decimals = None
            if group > 0 and last != "and":
                if scale >= last_scale:
                    return None
                total += group * scale
            elif last == "scale" and total > 0 and scale > 1e3:
                total *= scale  # "three lakh crore"
            else:
                return None
            high = low = 0.0
            last_scale, last = scale, "scale"
        elif word == "point":
            if last in ("start", "and", "a", "point"):
                return None
            digits = _decimal_digits(atoms[i + 1 :])
            if digits is None:
                return None
            decimals = digits[0]
            i += 1 + digits[1]
            last = "point"
            continue
        else:
            return None
        i += 1
    if last in ("and", "a", "start"):
        return None
    value = total + high + low
    if decimals:
        value += float("0." + decimals)
    return value


def _decimal_digits(atoms: list[_Atom]) -> tuple[str, int] | None:
    """Digits after "point": "zero three" -> "03", "seventy-one" -> "71"."""
    digits = ""
    consumed = 0
    for atom in atoms:
        word = _low(atom)
        if word in _UNITS:
            if atom.hyphen and consumed and _low(atoms[consumed - 1]) in _TENS:
                digits = digits[:-1] + str(_UNITS[word])
            else:
                digits += str(_UNITS[word])
        elif word in _TEENS or word in _TENS:
            digits += str(_TEENS.get(word) or _TENS[word])
        else:
            break
        consumed += 1
    return (digits, consumed) if digits else None


def _compound_ordinal(prefix: list[_Atom], ordinal: _Ordinal) -> float | None:
    """Value of an ordinal such as "twenty fifth" or "one hundred and fifth"."""
    if not prefix:
        return ordinal.value
    first = _low(prefix[0])
    if ordinal.rank > 2 or first in _MULTIPLIER_WORDS or first in ("and", "a", "an"):
        return None
    body = prefix[:-1] if _low(prefix[-1]) == "and" else prefix
    if not body or any(atom.kind != "word" for atom in body):
        return None
    last = _low(body[-1])
    rank = 2 if last in _TENS else 3 if last == "hundred" else 4 if last in _SCALES else 1
    if rank <= ordinal.rank or (rank == 2 and ordinal.value >= 10):
        return None
    value = _cardinal(body)
    return None if value is None else value + ordinal.value


def _fraction(atoms: list[_Atom]) -> float | None:
    """A fraction ending in an ordinal word: "two thirds", "one hundred thirty fifths"."""
    word = _low(atoms[-1])
    ordinal = _ORDINALS.get(word)
    if ordinal is None:
        return None
    head = atoms[:-1]
    if not head:
        return 0.5 if word == "half" else None
    for split in range(1, len(head) + 1):
        numerator, prefix = head[:split], head[split:]
        first_den = prefix[0] if prefix else atoms[-1]
        if first_den.hyphen and _low(numerator[-1]) in _TENS:
            continue  # "ninety-five", "twenty-first" cannot be cut
        if not prefix and ordinal.value < 3 and word not in ("half", "halves"):
            continue  # "a first", "two seconds" are not fractions
        denominator = _compound_ordinal(prefix, ordinal)
        if denominator is None or any(atom.kind != "word" for atom in numerator):
            continue
        if len(numerator) == 1 and _low(numerator[0]) in ("a", "an"):
            count: float | None = 1.0
        else:
            count = _cardinal(numerator)
        if count is None or (count != 1 and not ordinal.plural):
            continue
        return count / denominator
    return None


def _scaled_fraction(atoms: list[_Atom]) -> float | None:
    """A fraction of a multiplier: "half a million", "two thirds of a million"."""
    multiplier = _low(atoms[-1])
    scale = 100.0 if multiplier == "hundred" else 12.0 if multiplier in _DOZENS else None
    scale = _SCALES.get(multiplier, scale)
    if scale is None:
        return None
    rest = atoms[:-1]
    if rest and _low(rest[-1]) in ("a", "an"):
        rest = rest[:-1]
        if rest and _low(rest[-1]) == "of":
            rest = rest[:-1]
    if not rest:
        return None
    if len(rest) == 1 and _low(rest[0]) in ("quarter", "half"):
        return scale * (0.25 if _low(rest[0]) == "quarter" else 0.5)
    fraction = _fraction(rest)
    return None if fraction is None else fraction * scale


def _mixed(atoms: list[_Atom]) -> float | None:
    """A whole number and a fraction: "one and a half", "five billion and three quarters"."""
    joins = [i for i, atom in enumerate(atoms) if _low(atom) == "and"]
    if not joins or joins[-1] in (0, len(atoms) - 1):
        return None
    j = joins[-1]
    whole_atoms, rest = atoms[:j], atoms[j + 1 :]
    whole = _cardinal(whole_atoms)
    if whole is None:
        return None
    if _low(rest[-1]) in _MULTIPLIER_WORDS:
        part = _scaled_fraction(rest)
        return None if part is None else whole + part
    numerator = _low(rest[0])
    if len(rest) != 2 or not (numerator in ("a", "an") or _UNITS.get(numerator, 0) > 0):
        return None
    part = _fraction(rest)
    if part is None:
        return None
    scale = _SCALES.get(_low(whole_atoms[-1]), 1.0)
    return whole + part * (scale if scale >= 1e3 else 1.0)


def _phrase_value(atoms: list[_Atom]) -> float | None:
    first = _low(atoms[0])
    if first in _NEGATIVE_WORDS:
        value = _phrase_value(atoms[1:]) if len(atoms) > 1 else None
        return None if value is None else -value
    if len(atoms) == 1 and atoms[0].kind in ("num", "done", "frac"):
        return atoms[0].value
    if atoms[0].hyphen and first in _ORDINALS:
        return None
    last = _low(atoms[-1])
    if last in _ORDINALS:
        value = _mixed(atoms)
        return value if value is not None else _fraction(atoms)
    if last in _MULTIPLIER_WORDS:
        for rule in (_mixed, _scaled_fraction):
            value = rule(atoms)
            if value is not None:
                return value
    if len(atoms) == 2 and atoms[0].kind == "num" and atoms[1].kind == "frac" and atoms[1].joined:
        return atoms[0].value + atoms[1].value if not atoms[1].hyphen else None
    return _cardinal(atoms)


# --- scanning ------------------------------------------------------------------------------

_PHRASE_WORDS = frozenset(
    [*_CARDINAL_WORDS, *_ORDINALS, "a", "an", "and", "point", "of", *_NEGATIVE_WORDS]
)
_STARTERS = frozenset([*_UNITS, *_TEENS, *_TENS, "a", "an", "half", "quarter", *_NEGATIVE_WORDS])


# Only words that can be part of a number phrase (or sit right before one) become atoms;
# other words just separate atoms, which the gap check in _mark_joins sees in the text.
_ATOM_WORDS = frozenset(_PHRASE_WORDS | _DETERMINERS | {"another"})
_SCAN = re.compile(
    r"(?P<url>(?:[hH][tT][tT][pP][sS]?://|[wW][wW][wW]\.)\S+)|(?P<num>\.?\d)"
    r"|(?P<word>[A-Za-z]+)|(?P<sym>[-,/\u2010\u2011\u2013\u2212])"
)


def _in_phrase(atom: _Atom) -> bool:
    if atom.kind in ("num", "frac"):
        return True
    return atom.kind == "word" and atom.text.lower() in _PHRASE_WORDS


def _runs(atoms: list[_Atom]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(atoms):
        atom = atoms[i]
        if atom.kind == "done":
            runs.append((i, i + 1))
            i += 1
            continue
        if not (atom.kind in ("num", "frac") or _low(atom) in _STARTERS):
            i += 1
            continue
        j = i + 1
        while j < len(atoms) and atoms[j].joined and _in_phrase(atoms[j]):
            j += 1
        runs.append((i, j))
        i = j
    return runs


def _segments(atoms: list[_Atom], start: int, stop: int) -> list[tuple[int, int, float]]:
    """Split one run into its longest valid number phrases."""
    found: list[tuple[int, int, float]] = []
    s = start
    while s < stop:
        best: tuple[int, float] | None = None
        for e in range(stop, s, -1):
            value = _phrase_value(atoms[s:e])
            if value is not None:
                best = (e, value)
                break
        if best is None:
            s += 1
            continue
        e, value = best
        ordinal = _ORDINALS.get(_low(atoms[e])) if e < stop else None
        if ordinal is not None and _low(atoms[e]) not in ("half", "quarter", "halves"):
            # "twenty fifth" is an ordinal: the cardinal words before it are not a number.
            cut = next(
                (t for t in range(s, e) if _compound_ordinal(atoms[t:e], ordinal) is not None),
                None,
            )
            if cut is not None:
                if cut > s:
                    head = _phrase_value(atoms[s:cut])
                    if head is not None:
                        found.append((s, cut, head))
                s = e + 1
                continue
        found.append((s, e, value))
        s = e
    return found


def find_numbers(text: str) -> list[NumberSpan]:
    """Every number expression in ``text`` (digits or words), in order of appearance."""
    atoms = _atoms(text)
    spans: list[NumberSpan] = []
    merged_until = -1
    pieces: list[tuple[int, int, float]] = []
    for start, stop in _runs(atoms):
        pieces.extend(_segments(atoms, start, stop))
    for index, (s, e, value) in enumerate(pieces):
        if s < merged_until:
            continue
        if _is_pronoun(atoms, s, e):
            continue
        first, last = atoms[s], atoms[e - 1]
        begin, end = first.start, last.end
        ratio = _ratio(text, atoms, pieces, index)
        if ratio is not None:
            value, end, merged_until = ratio
        sign = _negative_sign(text, atoms, s)
        if sign is not None:
            begin, value = sign, -value
        spans.append(_decorate(text, begin, end, value))
    return spans


def _is_pronoun(atoms: list[_Atom], s: int, e: int) -> bool:
    if e - s != 1 or _low(atoms[s]) != "one":
        return False
    before = _low(atoms[s - 1]) if s else ""
    after = _low(atoms[e]) if e < len(atoms) else ""
    return before in _DETERMINERS or after == "another"


def _ratio(
    text: str, atoms: list[_Atom], pieces: list[tuple[int, int, float]], index: int
) -> tuple[float, int, int] | None:
    """ "one over three", "1 out of 3" at the end of a clause: a division."""
    if index + 1 >= len(pieces):
        return None
    _, e, value = pieces[index]
    s2, e2, divisor = pieces[index + 1]
    between = text[atoms[e - 1].end : atoms[s2].start]
    if not re.fullmatch(r"\s+(?:over|out\s+of)\s+", between) or not divisor:
        return None
    tail = text[atoms[e2 - 1].end :]
    if re.match(r"\s*[A-Za-z]", tail):
        return None  # "over 3 years" is a duration, not a division
    return value / divisor, atoms[e2 - 1].end, s2 + (e2 - s2)


def _negative_sign(text: str, atoms: list[_Atom], s: int) -> int | None:
    if s == 0 or atoms[s].kind == "word" or atoms[s - 1].text not in "-\u2212":
        return None
    sign = atoms[s - 1]
    gap = text[sign.end : atoms[s].start]
    before = text[: sign.start]
    if gap and before.strip():
        return None  # "10 - 20": a range, not a negative number
    if before and not (before[-1].isspace() or before[-1] in "([=:"):
        return None  # "SCP-173", "+1-222"
    if before.rstrip() and before.rstrip()[-1].isdigit():
        return None
    return sign.start


def _decorate(text: str, start: int, end: int, value: float) -> NumberSpan:
    kind = "number"
    currency = _currency_before(text, start)
    if currency is not None:
        match = _CURRENCY_BEFORE.search(text, max(0, start - 5), start)
        assert match is not None
        start, kind = match.start(), "money"
    after = _PERCENT_AFTER.match(text, end)
    word = after.group("word") if after else None
    if after and (
        word is None or word.lower() in _PERCENT_WORDS or (word == "per" and after["cent"])
    ):
        kind, currency, end = "percent", None, after.end()
    elif kind == "number":
        money = _CURRENCY_AFTER.match(text, end)
        if money:
            code = money.group("code")
            word = money.group("word")
            if code in _CURRENCY_CODES:
                kind, currency, end = "money", code, money.end()
            elif word in _CURRENCY_WORDS:
                kind, currency, end = "money", _CURRENCY_WORDS[word], money.end()
    return NumberSpan(start, end, value, kind, currency, text[start:end])


def parse_number(text: str) -> float | None:
    """The value of a text that is one number expression ("a dozen", "$2.5 billion"), else None."""
    spans = find_numbers(text)
    if len(spans) != 1:
        return None
    return spans[0].value
