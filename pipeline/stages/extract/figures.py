"""Figures reported in news text: "killed 1,207 civilians, including 380 children".

Rule-based. Each number from ``find_numbers`` is kept when it counts something (not a year,
date, age, duration, measurement, score or identifier); the counted noun is read after it,
the qualifier before it, and the category from the nearest event word in the same clause
("killed", "were displaced", "death toll rose to"). A subgroup ("including 380 children")
points at its group with ``part_of`` and inherits the group's event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from itertools import pairwise

from pipeline.data import load_tables
from pipeline.model import Figure
from pipeline.stages.extract.numbers import NumberSpan, find_numbers
from pipeline.stages.text import Sentence, sentence_at, split_sentences

# --- lexicon (pipeline/data/figures.yaml) --------------------------------------------------

_LEXICON = load_tables("figures")
_EVENTS: dict[str, str] = {
    cue: category for category, cues in _LEXICON["events"].items() for cue in cues
}
# Longest first, so a phrase is never shadowed by a shorter one it starts with.
_PHRASES: tuple[tuple[tuple[str, ...], str], ...] = tuple(
    sorted(
        (
            (tuple(phrase.split()), category)
            for category, phrases in _LEXICON["phrases"].items()
            for phrase in phrases
        ),
        key=lambda entry: -len(entry[0]),
    )
)
_PHRASES_BY_FIRST: dict[str, list[tuple[tuple[str, ...], str]]] = {}
for _phrase, _phrase_category in _PHRASES:
    _PHRASES_BY_FIRST.setdefault(_phrase[0], []).append((_phrase, _phrase_category))
_CARRY: frozenset[str] = frozenset(_LEXICON["carry_verbs"])
_CARRY_CONTEXT = re.compile(r"\b(?:evacu\w*|convoys?|out of|to safety)\b", re.I)
_EVENT_ADJECTIVES: frozenset[str] = frozenset(_LEXICON["event_adjectives"])
_PEOPLE: frozenset[str] = frozenset(_LEXICON["people_nouns"])
_NOUN_EVENTS: dict[str, str] = dict(_LEXICON["noun_events"])
_EVENT_NOUNS: frozenset[str] = frozenset(_LEXICON["event_nouns"])
_THINGS: frozenset[str] = frozenset(_LEXICON["thing_nouns"])
_TIME_UNITS: frozenset[str] = frozenset(_LEXICON["time_units"])
_MEASURES: frozenset[str] = frozenset(_LEXICON["measures"])
_MONTHS: frozenset[str] = frozenset(_LEXICON["months"])
_LABELS: frozenset[str] = frozenset(_LEXICON["labels"])
_STOP: frozenset[str] = frozenset(_LEXICON["stop_words"])
_VAGUE: frozenset[str] = frozenset(_LEXICON["vague_counts"])
_AUXILIARIES: frozenset[str] = frozenset(_LEXICON["auxiliaries"])
_CHANGES: frozenset[str] = frozenset(_LEXICON["changes"])
_LEADING_SKIP: frozenset[str] = frozenset(_LEXICON["leading_skip"])
_DWELLINGS: frozenset[str] = frozenset(_LEXICON["dwellings"])
_BOUNDARIES: frozenset[str] = frozenset(_LEXICON["clause_boundaries"])
_OF_THE: frozenset[str] = frozenset(_LEXICON["of_the"])
_SUBGROUP_MARKER = re.compile(
    r"\b(?:including|includes|included|incl\.|among\s+(?:them|whom|those|these|the\s+\w+)"
    r"|of\s+(?:whom|which|them|those|these))\b",
    re.I,
)
_SUBGROUP_AFTER = re.compile(r"^\s*(?:of\s+(?:them|whom|those|these|which))\b", re.I)
_OF_THESE = re.compile(r"^\s*of\s+(?:them|these|those|whom)\s+(?:are|were|was|is|being)\s+", re.I)

# Longest first: "just over" must win over "over".
_QUALIFIERS: tuple[tuple[tuple[str, ...], str], ...] = tuple(
    sorted(
        ((tuple(phrase.split()), normal) for phrase, normal in _LEXICON["qualifiers"].items()),
        key=lambda entry: -len(entry[0]),
    )
)

_QUALIFIER_LAST_WORDS = frozenset(phrase[-1] for phrase, _ in _QUALIFIERS)
_TOKEN = re.compile(r"[A-Za-z]+(?:[-'\u2019][A-Za-z]+)*|\S")
_SCALE_WORD = re.compile(r"(?<![a-z])(?:thousand|million|billion|trillion|mln|bln|mn|bn)\b", re.I)
# Every word _SCALE_WORD matches is a scale of the number words.
_SCALE_FACTORS: dict[str, float] = dict(load_tables("numbers")["scales"])
_SOFT_WRAP = re.compile(r"(?<=[^\s.!?:;])\n(?=[ \t]*[a-z])")
_YEAR = re.compile(r"^(?:1[89]|20)\d\d$")

# --- sentence model ------------------------------------------------------------------------


@dataclass(slots=True)
class _Item:
    kind: str  # "w" word, "p" punctuation, "n" number
    text: str
    low: str
    start: int
    end: int
    number: int = -1  # index into the sentence's numbers for "n" items


def _items(sentence: Sentence, numbers: list[NumberSpan]) -> list[_Item]:
    items: list[_Item] = []
    base = sentence.start
    cursor = base
    for index, span in enumerate(numbers):
        _tokenize(sentence.text, base, cursor, span.start, items)
        items.append(_Item("n", span.text, span.text.lower(), span.start, span.end, index))
        cursor = span.end
    _tokenize(sentence.text, base, cursor, sentence.end, items)
    return items


def _tokenize(text: str, base: int, start: int, end: int, items: list[_Item]) -> None:
    for match in _TOKEN.finditer(text, start - base, end - base):
        word = match.group(0)
        kind = "w" if word[0].isalpha() else "p"
        low = word.lower().replace("\u2019", "'")
        items.append(_Item(kind, word, low, base + match.start(), base + match.end()))


@dataclass(slots=True)
class _Candidate:
    item: int  # index of the number item
    span: NumberSpan
    qualifier: str | None
    begin: int  # first item of the qualifier (or the number)
    noun: str | None
    noun_class: str | None  # "people", "thing" or None
    noun_event: str | None
    noun_end: int  # item after the number, range and noun phrase
    adjective_event: str | None
    category: str | None = None
    end: int = -1  # end offset of the figure text (the upper bound of a range)
    part_of: int | None = None
    value_max: float | None = None
    relative: bool = False  # a subgroup with its own clause: "97 of whom drowned"


# --- filters -------------------------------------------------------------------------------


def _is_not_a_count(text: str, items: list[_Item], k: int, span: NumberSpan) -> bool:
    prev = items[k - 1] if k else None
    nxt = items[k + 1] if k + 1 < len(items) else None
    if span.value < 1 or span.value != int(span.value):
        return True
    if prev is not None and (prev.low in _MONTHS or prev.low in _LABELS):
        return True
    if nxt is not None and nxt.low in _MONTHS:
        return True
    apposition = prev is not None and prev.text == "," and nxt is not None and nxt.text == ","
    if apposition and k >= 2 and items[k - 2].kind == "w" and span.value < 120:
        head = items[k - 2]
        if head.text[0].isupper() or (head.low not in _STOP and not _looks_plural(head.low)):
            return True  # an age in apposition: "Maria Lopez, 7, who", "the man, 34, was"
    after = text[span.end : span.end + 12]
    before = text[max(0, span.start - 2) : span.start]
    if re.match(r"[-\u2010\u2011][A-Za-z]", after):
        return True  # compound adjective: "five-year", "27-nation", "6.2-magnitude"
    if re.match(r"\s*(?:[:.]\d|[ap]\.?m\b|o'clock|GMT|UTC|local time)", after, re.I):
        return True  # clock time
    if re.match(r"\s*-?\s*(?:years?|months?)[- ]old", after, re.I):
        return True  # age
    if re.search(r"[+/]$|\d/$", before) or re.match(r"/\d|-\d+-", after):
        return True  # phone numbers, dates like 5/17/2018
    return bool(span.text.isdigit() and len(span.text) > 4 and span.text.startswith("0"))


# --- noun phrase ---------------------------------------------------------------------------


def _noun_phrase(
    items: list[_Item], j: int
) -> tuple[str | None, str | None, str | None, int, str | None]:
    """The counted noun read from item ``j``.

    Returns (noun, class, the noun's own event, next item, event of a participle before it).
    """
    start = j
    collected: list[int] = []
    adjective_event: str | None = None
    while j < len(items) and len(collected) < 4:
        item = items[j]
        if item.kind != "w":
            break
        low = item.low
        if low in _EVENT_ADJECTIVES:
            following = items[j + 1] if j + 1 < len(items) else None
            if (
                following is not None
                and following.kind == "w"
                and following.low not in _STOP
                and (following.low not in _EVENTS or following.low in _PEOPLE)
            ):
                adjective_event = _EVENTS.get(low)
                start = j + 1
                j += 1
                collected = []
                continue
            if not collected:
                return None, None, _NOUN_EVENTS.get(low), j + 1, _EVENTS.get(low)
            break
        if not collected and low in _LEADING_SKIP:
            start = j = j + 1
            continue
        if low in _STOP or low in _VAGUE:
            break
        if low.endswith(("ed", "ing")) and low not in _PEOPLE and not _modifies(items, j):
            break
        collected.append(j)
        j += 1
        next_word = items[j].low if j < len(items) and items[j].kind == "w" else ""
        if low in _PEOPLE and next_word in _PEOPLE:
            continue  # "rebel fighters", "police officers"
        if _is_demonym(item.text) and next_word and next_word not in _STOP:
            continue  # "seven Chinese provincial regions": the demonym is a modifier
        if low in _PEOPLE or low in _TIME_UNITS or low in _MEASURES or _is_demonym(item.text):
            break
        if _looks_plural(low) or low in _THINGS:
            break
    if not collected:
        return None, None, None, start, adjective_event
    head = items[collected[-1]]
    noun = " ".join(items[i].text for i in collected)
    low = head.low
    if low in _TIME_UNITS or low in _MEASURES:
        return noun, "unit", None, collected[-1] + 1, adjective_event
    words = {items[i].low for i in collected}
    noun_event = _NOUN_EVENTS.get(low) or ("displaced" if words & {"asylum", "refugee"} else None)
    if low in _PEOPLE or _is_demonym(head.text):
        cls: str | None = "people"
    elif low in _THINGS:
        cls = "thing"
    else:
        cls = None  # a noun we do not know ("schoolgirls", "Rohingya"): the event decides
    return noun, cls, noun_event, collected[-1] + 1, adjective_event


def _modifies(items: list[_Item], j: int) -> bool:
    """Whether the participle at ``j`` modifies a following noun ("undocumented Afghans")."""
    if j + 1 >= len(items) or items[j + 1].kind != "w":
        return False
    nxt = items[j + 1]
    return nxt.low in _PEOPLE or nxt.low in _THINGS or _is_demonym(nxt.text)


def _looks_plural(word: str) -> bool:
    return len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is"))


def _is_demonym(word: str) -> bool:
    return word[:1].isupper() and word.endswith(("ans", "is", "ese", "ites", "ians"))


# --- qualifier, ranges ----------------------------------------------------------------------


def _qualifier(items: list[_Item], k: int, is_range: bool) -> tuple[str | None, int]:
    """The normalised qualifier before item ``k`` and the item the figure text starts at."""
    if is_range and k > 0 and items[k - 1].low in ("between", "from"):
        return None, k - 1  # "between 50 and 70": part of the range, not a qualifier
    if k == 0 or items[k - 1].low not in _QUALIFIER_LAST_WORDS:
        return None, k
    for phrase, normal in _QUALIFIERS:
        n = len(phrase)
        if k - n < 0:
            continue
        window = items[k - n : k]
        if all(it.kind == "w" for it in window) and tuple(it.low for it in window) == phrase:
            return normal, k - n
    return None, k


def _range_end(items: list[_Item], k: int) -> int:
    """Index of the last number of a range starting at item ``k`` ("50 to 70", "20-30")."""
    if k + 2 < len(items) and items[k + 2].kind == "n":
        link = items[k + 1].low
        before = items[k - 1].low if k >= 1 else ""
        if before == "by" or (before == "from" and k >= 2 and items[k - 2].low in _CHANGES):
            return k  # a change, not a range: "fell by 0.3 points to 5.1%", "rose from 9 to 12"
        between = before in ("between", "from")
        if link in ("to", "-", "\u2013", "or") or (link == "and" and between):
            return k + 2
    return k


def _scaled_like(lower: NumberSpan, upper: NumberSpan) -> NumberSpan:
    """ "one to 1.5 million": the lower bound shares the upper bound's scale word."""
    scale = _SCALE_WORD.search(upper.text)
    if scale is None or _SCALE_WORD.search(lower.text) or lower.value * 1000 > upper.value:
        return lower
    return replace(lower, value=lower.value * _SCALE_FACTORS[scale.group(0).lower()])


def _range_bounds(lower: NumberSpan, upper: NumberSpan) -> NumberSpan | None:
    """The lower bound of a range read as the range's kind ("20-30%", "$2-3 billion"), or
    None when the two numbers are not a range ("3-1", "50 or 5")."""
    lower = _scaled_like(lower, upper)
    if upper.value <= lower.value:
        return None
    bounds = (lower, upper)
    if len({b.kind for b in bounds} - {"number"}) > 1:
        return None  # "fell 8 percent to $14.20": a change and a level, not a range
    kind = next((b.kind for b in bounds if b.kind != "number"), "number")
    currency = next((b.currency for b in bounds if b.currency), None)
    return replace(lower, kind=kind, currency=currency)


# --- events --------------------------------------------------------------------------------


def _cue_at(items: list[_Item], i: int, carry_ok: bool) -> tuple[str, int] | None:
    """The event cue starting at item ``i`` and its length, if any."""
    low = items[i].low
    for phrase, category in _PHRASES_BY_FIRST.get(low, ()):
        n = len(phrase)
        if tuple(it.low for it in items[i : i + n]) == phrase:
            return category, n
    if low in ("lives", "homes", "houses"):
        return None
    if low in _CARRY and carry_ok:
        return "evacuated", 1
    event = _EVENTS.get(low)
    return (event, 1) if event else None


def _scan(
    items: list[_Item],
    start: int,
    step: int,
    blockers: set[int],
    carry_ok: bool,
    comma_ends: bool = False,
) -> tuple[str, int] | None:
    """Nearest cue walking from ``start`` in direction ``step``: (category, distance)."""
    distance = 0
    i = start
    depth = 0
    while 0 <= i < len(items) and distance <= (8 if step < 0 else 10):
        item = items[i]
        if item.kind == "p":
            if item.text in "([" and step < 0 and depth == 0:
                return None  # inside parentheses: the event is outside, to the right
            if item.text in "()[]":
                opening = "([" if step > 0 else ")]"
                depth += 1 if item.text in opening else -1
                depth = max(depth, 0)
            elif depth == 0 and item.text == ":" and step < 0 and distance == 0:
                pass  # "Number of displaced: 452"
            elif depth == 0 and item.text in ";:\u2014":
                return None
            elif depth == 0 and item.text == ",":
                if comma_ends:
                    return None
                distance += 1
            i += step
            continue
        if depth:
            i += step
            continue
        if item.kind == "n":
            if i in blockers:
                return None
            i += step
            distance += 1
            continue
        if item.low in _VAGUE or item.low in _BOUNDARIES:
            return None
        if item.low in ("and", "or"):
            distance += 2  # a cue across a conjunction usually belongs to another clause
            i += step
            continue
        if step > 0 and (
            item.low in _AUXILIARIES or (item.text[0].isupper() and _cue_at(items, i, True) is None)
        ):
            # "were", "have been left": the predicate of the counted people; capitalised
            # words are place names in "people from the town of Bria fled".
            i += 1
            continue
        cue = _cue_at(items, i, carry_ok)
        if step < 0:
            # Phrases read left to right: try those ending here.
            for back in (2, 1):
                if i - back >= 0 and cue is None:
                    found = _cue_at(items, i - back, carry_ok)
                    if found and i - back + found[1] - 1 == i:
                        cue = found
        if cue and cue[0] in ("affected", "people") and step > 0 and i + 2 < len(items):
            # "affected and evacuated": the specific event wins over the generic one.
            better = _cue_at(items, i + 2, carry_ok) if items[i + 1].low == "and" else None
            if better is not None:
                return better[0], distance
        if cue is not None:
            return cue[0], distance
        distance += 1
        i += step
    return None


# --- main ----------------------------------------------------------------------------------


def extract_figures(text: str) -> list[Figure]:
    """Figures in ``text`` in order of appearance; ``part_of`` indexes into the result."""
    numbers = find_numbers(text)
    if not numbers:
        return []
    # A line break before a lower-case word is a wrapped line, not a paragraph end
    # (same length, so offsets still index ``text``).
    sentences = split_sentences(_SOFT_WRAP.sub(" ", text))
    by_sentence: dict[int, list[NumberSpan]] = {}
    order: list[Sentence] = []
    for span in numbers:
        sentence = sentence_at(sentences, span.start)
        if sentence is None or span.end > sentence.end:
            continue
        if sentence.start not in by_sentence:
            by_sentence[sentence.start] = []
            order.append(sentence)
        by_sentence[sentence.start].append(span)
    figures: list[Figure] = []
    for sentence in order:
        _sentence_figures(text, sentence, by_sentence[sentence.start], figures)
    return figures


def _sentence_figures(
    text: str, sentence: Sentence, numbers: list[NumberSpan], figures: list[Figure]
) -> None:
    items = _items(sentence, numbers)
    candidates: list[_Candidate] = []
    skip: set[int] = set()
    for k, item in enumerate(items):
        if item.kind != "n" or k in skip:
            continue
        span = numbers[item.number]
        last = _range_end(items, k)
        upper = numbers[items[last].number] if last != k else None
        lower = _range_bounds(span, upper) if upper is not None else None
        if upper is None or lower is None:
            last, upper = k, None
        else:
            skip.add(last)
            span = lower
        value_max = upper.value if upper is not None else None
        if span.kind in ("money", "percent"):
            qualifier, begin = _qualifier(items, k, upper is not None)
            candidates.append(
                _Candidate(
                    k,
                    span,
                    qualifier,
                    begin,
                    None,
                    None,
                    None,
                    last + 1,
                    None,
                    span.kind,
                    end=items[last].end,
                    value_max=value_max,
                )
            )
            continue
        if _is_not_a_count(text, items, k, span):
            continue
        if upper is not None and _is_not_a_count(text, items, last, upper):
            continue  # "between 15 and 21 January"
        qualifier, begin = _qualifier(items, k, upper is not None)
        noun, cls, noun_event, noun_end, adjective_event = _noun_phrase(items, last + 1)
        if noun is None:
            rest = text[items[last].end : sentence.end]
            of_these = _OF_THESE.match(rest)
            if of_these:
                j = last + 1
                while j < len(items) and items[j].end <= items[last].end + of_these.end():
                    j += 1
                noun, cls, noun_event, noun_end, adjective_event = _noun_phrase(items, j)
        if cls == "unit":
            continue
        if _YEAR.match(span.text) and (cls is None or (qualifier is None and cls != "people")):
            continue
        if span.text.lower() == "one" and last + 1 < len(items) and items[last + 1].low == "of":
            continue  # "one of the convoys"
        if span.text.lower() in ("one", "a") and cls != "people" and adjective_event is None:
            cls = "skip-one"  # "one of the convoys", "one basket": decided below by events
        candidates.append(
            _Candidate(
                k,
                span,
                qualifier,
                begin,
                noun,
                cls,
                noun_event,
                noun_end,
                adjective_event,
                end=items[last].end,
                value_max=value_max,
            )
        )
    _share_nouns(items, candidates)
    _link_subgroups(text, items, candidates)
    _categorise(items, candidates, bool(_CARRY_CONTEXT.search(sentence.text)))
    offset = len(figures)
    kept = [c for c in candidates if c.category is not None]
    index_of = {id(c): offset + i for i, c in enumerate(kept)}
    by_item = {c.item: c for c in kept}
    for candidate in kept:
        start = items[candidate.begin].start
        parent = by_item.get(candidate.part_of) if candidate.part_of is not None else None
        figures.append(
            Figure(
                value=candidate.span.value,
                category=candidate.category or "count",
                qualifier=candidate.qualifier,
                noun=candidate.noun,
                part_of=index_of[id(parent)] if parent is not None else None,
                text=text[start : candidate.end],
                start=start,
                end=candidate.end,
                sentence=text[sentence.start : sentence.end],
                currency=candidate.span.currency if candidate.category == "money" else None,
                value_max=candidate.value_max,
            )
        )


def _categorise(items: list[_Item], candidates: list[_Candidate], carry_ok: bool) -> None:
    people_items = {c.item for c in candidates if c.category is None and c.noun_class != "thing"}
    children: dict[int, set[int]] = {}
    for c in candidates:
        if c.part_of is not None and not c.relative:
            children.setdefault(c.part_of, set()).add(c.item)
    for c in candidates:
        if c.category is not None:
            continue
        blockers = people_items - {c.item} - children.get(c.item, set())
        left = _scan(items, c.begin - 1, -1, blockers, carry_ok)
        # A subgroup phrase ends at its comma: "including 12 children, and injured 70".
        right = _scan(items, c.noun_end, 1, blockers, carry_ok, c.part_of is not None)
        event = c.adjective_event
        if event is None:
            best = [cue for cue in (right, left) if cue is not None]
            event = min(best, key=lambda cue: cue[1])[0] if best else None
        if event == "count" and c.noun_class == "people":
            event = None  # "families whose homes were destroyed" counts families
        if c.noun_event is not None and c.noun in _EVENT_NOUNS:
            event = c.noun_event  # "3 deaths and 27 injuries": the noun names the event
        if c.noun_class == "thing":
            dwelling = c.noun is not None and c.noun.lower().split()[-1] in _DWELLINGS
            moved = dwelling and event in ("evacuated", "displaced")
            c.category = event if moved else c.noun_event or "count"
        elif c.noun_class == "skip-one" or event is not None:
            c.category = event
        elif c.noun_event is not None:
            c.category = c.noun_event
        elif c.noun_class == "people":
            c.category = "people"
        elif c.noun is not None:
            c.category = "count"
        else:
            c.category = None  # a bare number with nothing counted and no event
    by_item = {c.item: c for c in candidates}
    for c in candidates:
        previous = by_item.get(c.begin - 2)
        if c.category is None and previous is not None and items[c.begin - 1].low == "to":
            c.category = previous.category  # "the toll rose from 50 to 72": 72 is a toll too
        parent = by_item.get(c.part_of) if c.part_of is not None else None
        if parent is None:
            continue
        if parent.category and c.category in (None, "people"):
            c.category = parent.category
        elif c.category != parent.category and parent.category not in (None, "people"):
            # "412 people were wounded, including 30 children, and 15 were killed": the 15
            # have their own event, so they are not among the wounded.
            c.part_of = None
    _share_equivalents(items, candidates)


def _share_equivalents(items: list[_Item], candidates: list[_Candidate]) -> None:
    """ "2,400 families (about 12,000 people) were evacuated": both figures share the event."""
    for a, b in pairwise(candidates):
        if a.noun_class != "people" or b.noun_class != "people" or b.part_of is not None:
            continue
        gap = {it.low for it in items[a.noun_end : b.begin]}
        if not gap or not gap <= {"(", ",", "or", "i.e", "about", "some", "around", "nearly"}:
            continue
        for one, other in ((a, b), (b, a)):
            if one.category == "people" and other.category not in (None, "people"):
                one.category = other.category


def _share_nouns(items: list[_Item], candidates: list[_Candidate]) -> None:
    """ "312 of the 543 seats": the part counts what the whole counts."""
    by_item = {c.item: c for c in candidates}
    for c in candidates:
        k = c.item
        if c.noun is not None or c.category is not None or k + 3 >= len(items):
            continue
        if items[k + 1].low != "of" or items[k + 2].low not in _OF_THE:
            continue
        whole = by_item.get(k + 3)
        if whole is None or whole.noun is None or whole.span.value <= c.span.value:
            continue
        c.noun, c.noun_class, c.noun_event = whole.noun, whole.noun_class, whole.noun_event
        c.noun_end = whole.noun_end


def _link_subgroups(text: str, items: list[_Item], candidates: list[_Candidate]) -> None:
    counted = [c for c in candidates if c.category not in ("money", "percent")]
    for position, child in enumerate(counted):
        for back in range(position - 1, -1, -1):
            parent = counted[back]
            if parent.part_of is not None:
                continue  # a sibling subgroup ("five with disabilities and 90 infants")
            if parent.span.value <= child.span.value or parent.noun_class == "thing":
                break
            # The marker must follow the group's own noun phrase: "Some 3,000 of these are
            # fighters, with about 301 wounded" has no subgroup.
            between = text[
                items[max(parent.noun_end - 1, parent.item)].end : items[child.begin].start
            ]
            after = text[child.span.end : child.span.end + 20]
            marker = _SUBGROUP_MARKER.search(between)
            if marker and len(between) - marker.end() <= 40:
                child.part_of = parent.item
                child.relative = marker.group(0).lower().startswith("of")
            elif _SUBGROUP_AFTER.match(after):
                child.part_of, child.relative = parent.item, True
            break
