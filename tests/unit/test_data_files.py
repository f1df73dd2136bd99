"""The shipped word lists in pipeline/data: each loads and validates, and a broken copy is refused
with a message naming the file and the key."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.data import DATA_DIR, SCHEMAS, DataFileError, load_tables, read_tables
from pipeline.data.load import _StrictLoader
from tests.conftest import REPO_ROOT

NAMES = sorted(SCHEMAS)


@pytest.mark.parametrize("name", NAMES)
def test_shipped_file_loads_and_validates(name: str) -> None:
    tables = load_tables(name)
    assert list(tables) == ["source", *SCHEMAS[name]]
    assert tables["source"].strip()
    for key in SCHEMAS[name]:
        assert tables[key], f"{name}.yaml: {key} is empty"


@pytest.mark.parametrize("name", NAMES)
def test_shipped_file_starts_with_its_description(name: str) -> None:
    text = (DATA_DIR / f"{name}.yaml").read_text(encoding="utf-8")
    header = text.split("\nsource:", 1)[0]
    assert text.startswith("#")
    for key in SCHEMAS[name]:
        assert re.search(rf"^#.*\b{re.escape(key)}\b", header, re.M), f"{key} is not described"


def test_every_data_file_has_a_schema() -> None:
    # The topic definitions have a loader and validation of their own (test_topics.py).
    tables = sorted(path.stem for path in DATA_DIR.glob("*.yaml") if path.stem != "topics")
    assert tables == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_schema_refers_only_to_its_own_tables(name: str) -> None:
    schema = SCHEMAS[name]
    for table in schema.values():
        for target in (table.keys_in, table.values_in):
            assert target is None or target in schema


def test_tables_are_read_once_and_are_read_only() -> None:
    tables = load_tables("numbers")
    assert load_tables("numbers") is tables
    with pytest.raises(TypeError):
        tables["units"]["eleven"] = 11


def test_unknown_name_is_refused() -> None:
    with pytest.raises(ValueError, match="no data file schema named 'nope'"):
        load_tables("nope")


def test_libyaml_parser_is_used_when_present() -> None:
    if yaml.__with_libyaml__:
        assert issubclass(_StrictLoader, yaml.CSafeLoader)
    else:
        assert issubclass(_StrictLoader, yaml.SafeLoader)


def test_importing_the_package_reads_no_data_file() -> None:
    code = (
        "import sys, pipeline, pipeline.model; "
        "print('pipeline.data' in sys.modules, 'yaml' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]


# --- broken copies ---------------------------------------------------------------------------


def _raw(name: str) -> dict[str, Any]:
    data = yaml.safe_load((DATA_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _set(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data[key] = value

    return change


def _set_entry(key: str, entry: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data[key][entry] = value

    return change


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        del data[key]

    return change


STRUCTURE_ERRORS = [
    ("numbers", _set_entry("units", "one", "1"), r"key 'units', entry 'one': expected an integer"),
    ("numbers", _set_entry("scales", "million", True), r"key 'scales', entry 'million'"),
    ("numbers", _drop("source"), r"missing key\(s\): 'source'"),
    ("numbers", _set("source", ""), r"key 'source'"),
    ("numbers", _set_entry("currency_words", "peso", "XXX"), r"'XXX' not found in key 'currency"),
    ("figures", _drop("stop_words"), r"missing key\(s\): 'stop_words'"),
    ("figures", _set("stop_words", ["a", "an"]), r"key 'stop_words': expected a block of"),
    ("figures", _set("months", "january January"), r"key 'months': 'January' must be lower"),
    ("figures", _set("vague_counts", "dozens dozens"), r"key 'vague_counts': 'dozens' is listed"),
    ("figures", _set("vague_counts", ""), r"key 'vague_counts': must not be empty"),
    ("figures", _set_entry("noun_events", "corpses", "slain"), r"'slain' not found in key 'ev"),
    ("figures", _set_entry("events", "injured", "hurt killed"), r"'killed' is already under"),
    ("figures", _set_entry("phrases", "looted", ["ran off"]), r"'looted' not found in key 'ev"),
    ("figures", _set("qualifiers", {}), r"key 'qualifiers': expected a non-empty mapping"),
    ("gazetteer", _set("demonyms", ["Syrian"]), r"key 'demonyms': expected a non-empty mapping"),
    ("gazetteer", _set_entry("demonyms", "Norway", ["Norwegian"]), r"key 'Norway' does not"),
    ("gazetteer", _set_entry("demonyms", "SY", "Syrian"), r"entry 'SY': expected a list"),
    ("gazetteer", _set_entry("demonyms", "SY", [" Syrian"]), r"leading or trailing spaces"),
    ("gazetteer", _set("cities", "Paris"), r"unknown key\(s\): 'cities'"),
    ("gazetteer", _set("prefix_directions", "Nord Nordeste"), r"'Nordeste' not found in key"),
]


@pytest.mark.parametrize(("name", "change", "message"), STRUCTURE_ERRORS)
def test_malformed_copy_is_refused(
    tmp_path: Path, name: str, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    data = _raw(name)
    change(data)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(DataFileError, match=message) as caught:
        read_tables(path, SCHEMAS[name])
    assert str(caught.value).startswith(f"{path}: ")
    assert isinstance(caught.value, ValueError)


TEXT_ERRORS = [
    # A repeated key would silently replace the first one.
    ("numbers", lambda text: text + "\ndozens: dozen\n", r"duplicate key 'dozens' at line \d+"),
    (
        "gazetteer",
        lambda text: text.replace("\ndemonyms:\n", "\ndemonyms:\n  AF: [Afghan]\n", 1),
        r"duplicate key 'AF' at line \d+",
    ),
    (
        "gazetteer",
        lambda text: text.replace('"NO": [Norwegian]', "NO: [Norwegian]", 1),
        r"key 'demonyms': mapping key: expected a string, got the boolean False .*quote it",
    ),
    ("figures", lambda text: text + "\nmonths: [january\n", r"invalid YAML: .* at line \d+"),
    ("figures", lambda text: "- just\n- a list\n", r"top level must be a mapping"),
]


@pytest.mark.parametrize(("name", "edit", "message"), TEXT_ERRORS)
def test_malformed_text_is_refused(
    tmp_path: Path, name: str, edit: Callable[[str], str], message: str
) -> None:
    original = (DATA_DIR / f"{name}.yaml").read_text(encoding="utf-8")
    broken = edit(original)
    assert broken != original
    path = tmp_path / f"{name}.yaml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(DataFileError, match=message) as caught:
        read_tables(path, SCHEMAS[name])
    assert str(caught.value).startswith(f"{path}: ")


def test_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "numbers.yaml"
    with pytest.raises(DataFileError, match="cannot read"):
        read_tables(path, SCHEMAS["numbers"])
