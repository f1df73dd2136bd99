"""Read and check the YAML tables in this folder.

A data file is a mapping from table names to tables, plus a ``source`` string saying where the
content came from. Its schema (``SCHEMAS``) gives every table a kind and a few constraints.
A file that breaks the schema is refused with a ``DataFileError`` naming the file and the key:
a typo in a word list must not quietly change what the extractors find.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml

DATA_DIR = Path(__file__).resolve().parent

Kind = Literal[
    "words",  # a block of whitespace-separated words -> tuple[str, ...]
    "phrases",  # a list of strings, which may contain spaces -> tuple[str, ...]
    "word_map",  # string -> string
    "int_map",  # string -> integer
    "float_map",  # string -> number, read as float
    "words_by_key",  # string -> block of words
    "phrases_by_key",  # string -> list of strings
]


@dataclass(frozen=True, slots=True)
class Table:
    """What one table of a data file must look like."""

    kind: Kind
    keys: str | None = None  # regular expression every mapping key must match in full
    case: Literal["lower", "upper"] | None = None  # of every word, phrase or word_map key
    keys_in: str | None = None  # every word, phrase or mapping key is a name in that table
    values_in: str | None = None  # every word_map value is a name in that table
    exclusive: bool = False  # by_key kinds: a word may sit under one key only


Schema = Mapping[str, Table]

_COUNTRY = r"[A-Z]{2}"  # ISO 3166-1 alpha-2, plus the user-assigned XK for Kosovo
_CATEGORY = r"[a-z]+"

SCHEMAS: Mapping[str, Schema] = MappingProxyType(
    {
        "numbers": {
            "units": Table("int_map", case="lower"),
            "teens": Table("int_map", case="lower"),
            "tens": Table("int_map", case="lower"),
            "scales": Table("float_map", case="lower"),
            "dozens": Table("words", case="lower"),
            "ordinal_units": Table("int_map", case="lower"),
            "ordinal_tens": Table("int_map", case="lower"),
            "ordinal_scales": Table("float_map", case="lower"),
            "negative_words": Table("words", case="lower"),
            "determiners": Table("words", case="lower"),
            "scale_suffixes": Table("float_map"),
            "currency_symbols": Table("word_map", values_in="currency_codes"),
            "currency_codes": Table("words", case="upper"),
            "currency_words": Table("word_map", case="lower", values_in="currency_codes"),
            "percent_words": Table("words", case="lower"),
        },
        "figures": {
            "events": Table("words_by_key", keys=_CATEGORY, case="lower", exclusive=True),
            "phrases": Table("phrases_by_key", case="lower", keys_in="events", exclusive=True),
            "carry_verbs": Table("words", case="lower"),
            "event_adjectives": Table("words", case="lower"),
            "noun_events": Table("word_map", case="lower", values_in="events"),
            "event_nouns": Table("words", case="lower", keys_in="noun_events"),
            "people_nouns": Table("words", case="lower"),
            "thing_nouns": Table("words", case="lower"),
            "time_units": Table("words", case="lower"),
            "measures": Table("words", case="lower"),
            "months": Table("words", case="lower"),
            "labels": Table("words", case="lower"),
            "stop_words": Table("words", case="lower"),
            "vague_counts": Table("words", case="lower"),
            "auxiliaries": Table("words", case="lower"),
            "changes": Table("words", case="lower"),
            "leading_skip": Table("words", case="lower"),
            "dwellings": Table("words", case="lower"),
            "clause_boundaries": Table("words", case="lower"),
            "of_the": Table("words", case="lower"),
            "qualifiers": Table("word_map", case="lower"),
        },
        "gazetteer": {
            "country_aliases": Table("phrases_by_key", keys=_COUNTRY, exclusive=True),
            "names_claimed_elsewhere": Table("phrases_by_key", keys=_COUNTRY),
            "demonyms": Table("phrases_by_key", keys=_COUNTRY, exclusive=True),
            "not_countries": Table("phrases"),
            "common_words": Table("words", case="lower"),
            "never_places": Table("words", case="lower"),
            "admin_suffixes": Table("phrases"),
            "region_types_skipped": Table("phrases"),
            "compass_words": Table("words"),
            "kept_compass_words": Table("words"),
            "direction_words": Table("word_map"),
            "prefix_directions": Table("words", keys_in="direction_words"),
            "region_exonyms": Table("word_map"),
            "geographic_names": Table("phrases_by_key", keys=_COUNTRY),
        },
    }
)


class DataFileError(ValueError):
    """A data file is unreadable, not valid YAML, or does not follow its schema."""


class _Problem(Exception):
    """Raised deep inside a check; ``read_tables`` adds the file name."""


# libyaml is several times faster than the pure-Python parser; fall back when it is missing.
_BaseLoader: Any = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class _StrictLoader(_BaseLoader):
    """Safe loader that refuses a repeated key: plain YAML keeps the last one silently."""


def _unique_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            seen = key in mapping
        except TypeError:
            raise _Problem(f"line {key_node.start_mark.line + 1}: a key must be a scalar") from None
        if seen:
            raise _Problem(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}")
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


@functools.cache
def load_tables(name: str) -> Mapping[str, Any]:
    """The checked tables of ``pipeline/data/<name>.yaml``, read once per process."""
    if name not in SCHEMAS:
        raise ValueError(f"no data file schema named {name!r}; known: {', '.join(SCHEMAS)}")
    return read_tables(DATA_DIR / f"{name}.yaml", SCHEMAS[name])


def read_tables(path: Path, schema: Schema) -> Mapping[str, Any]:
    """Parse ``path`` and check it against ``schema``; tables come back immutable.

    Words and phrases become tuples in file order, mappings read-only dicts in file order.
    """
    data = read_yaml(path)
    try:
        return _check_file(data, schema)
    except _Problem as exc:
        raise DataFileError(f"{path}: {exc}") from None


def read_yaml(path: Path) -> object:
    """Parse a YAML file with the safe loader, refusing repeated keys; any failure is a
    DataFileError naming the file (the config files' loaders use this too)."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError(f"{path}: cannot read: {exc}") from exc
    try:
        return yaml.load(raw, Loader=_StrictLoader)
    except _Problem as exc:
        raise DataFileError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise DataFileError(f"{path}: invalid YAML: {_yaml_problem(exc)}") from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    text = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        text += f" at line {mark.line + 1}, column {mark.column + 1}"
    return " ".join(text.split())


def _check_file(data: object, schema: Schema) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise _Problem("the top level must be a mapping of table names to tables")
    expected = ["source", *schema]
    if missing := [key for key in expected if key not in data]:
        raise _Problem(f"missing key(s): {', '.join(map(repr, missing))}")
    if unknown := [key for key in data if key not in expected]:
        raise _Problem(f"unknown key(s): {', '.join(map(repr, unknown))}")
    source = data["source"]
    if not isinstance(source, str) or not source.strip():
        raise _Problem("key 'source': must say, as text, where the tables come from")
    tables: dict[str, Any] = {"source": source.strip()}
    for key, table in schema.items():
        tables[key] = _check_table(f"key {key!r}", data[key], table)
    for key, table in schema.items():
        _check_references(key, tables, table)
    return MappingProxyType(tables)


def _check_table(where: str, value: object, table: Table) -> Any:
    if table.kind == "words":
        return _words(where, value, table.case)
    if table.kind == "phrases":
        return _phrases(where, value, table.case)
    mapping = _mapping(where, value, table.keys)
    result: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for key, item in mapping.items():
        entry = f"{where}, entry {key!r}"
        if table.kind == "word_map":
            _check_case(where, key, table.case)
            result[key] = _string(entry, item)
        elif table.kind == "int_map":
            _check_case(where, key, table.case)
            result[key] = _number(entry, item, integer=True)
        elif table.kind == "float_map":
            _check_case(where, key, table.case)
            result[key] = float(_number(entry, item, integer=False))
        else:
            items = (_words if table.kind == "words_by_key" else _phrases)(entry, item, table.case)
            for word in items if table.exclusive else ():
                if word in owner:
                    raise _Problem(f"{entry}: {word!r} is already under {owner[word]!r}")
                owner[word] = key
            result[key] = items
    return MappingProxyType(result)


def _mapping(where: str, value: object, key_pattern: str | None) -> dict[str, object]:
    if not isinstance(value, dict) or not value:
        raise _Problem(f"{where}: expected a non-empty mapping, got {_describe(value)}")
    for key in value:
        _string(f"{where}: mapping key", key)
        if key_pattern is not None and not re.fullmatch(key_pattern, key):
            raise _Problem(f"{where}: key {key!r} does not match {key_pattern!r}")
    return value


def _words(where: str, value: object, case: str | None) -> tuple[str, ...]:
    if not isinstance(value, str):
        raise _Problem(
            f"{where}: expected a block of whitespace-separated words, got {_describe(value)}"
        )
    items = tuple(value.split())
    return _unique(where, items, case)


def _phrases(where: str, value: object, case: str | None) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _Problem(f"{where}: expected a list of strings, got {_describe(value)}")
    items = tuple(_string(f"{where}, item {n}", item) for n, item in enumerate(value, 1))
    return _unique(where, items, case)


def _unique(where: str, items: tuple[str, ...], case: str | None) -> tuple[str, ...]:
    if not items:
        raise _Problem(f"{where}: must not be empty")
    seen: set[str] = set()
    for item in items:
        if item in seen:
            raise _Problem(f"{where}: {item!r} is listed twice")
        seen.add(item)
        _check_case(where, item, case)
    return items


def _check_case(where: str, text: str, case: str | None) -> None:
    # The extractors compare with lower-cased (or upper-case) text: any other spelling here
    # would never match.
    if (case == "lower" and text != text.lower()) or (case == "upper" and text != text.upper()):
        raise _Problem(f"{where}: {text!r} must be {case} case")


def _string(where: str, value: object) -> str:
    if isinstance(value, bool):
        raise _Problem(
            f"{where}: expected a string, got the boolean {value} "
            "(YAML reads unquoted yes/no/on/off/true/false as booleans: quote it)"
        )
    if not isinstance(value, str) or not value.strip():
        raise _Problem(f"{where}: expected a non-empty string, got {_describe(value)}")
    if value != value.strip():
        raise _Problem(f"{where}: {value!r} has leading or trailing spaces")
    return value


def _number(where: str, value: object, integer: bool) -> int | float:
    wanted = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, wanted):
        noun = "an integer" if integer else "a number"
        raise _Problem(f"{where}: expected {noun}, got {_describe(value)}")
    if not math.isfinite(value):
        raise _Problem(f"{where}: expected a finite number, got {value!r}")
    return value


def _describe(value: object) -> str:
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{type(value).__name__} {shown}"


def _check_references(key: str, tables: dict[str, Any], table: Table) -> None:
    value = tables[key]
    # A mapping refers by its keys, a list by its items; only word_map values refer too.
    for target, used in (
        (table.keys_in, list(value)),
        (table.values_in, list(value.values()) if table.kind == "word_map" else []),
    ):
        if target is None:
            continue
        known = frozenset(tables[target])
        if unknown := [name for name in used if name not in known]:
            shown = ", ".join(map(repr, unknown[:5]))
            raise _Problem(f"key {key!r}: {shown} not found in key {target!r}")
