"""Word lists and lookup tables of the extract stages, shipped as YAML files in this folder.

``numbers.yaml`` (number words, currencies), ``figures.yaml`` (event cues, counted nouns,
qualifiers) and ``gazetteer.yaml`` (country aliases, demonyms, region spellings). Each file
says where its content came from and what each key means. :func:`load_tables` reads and
checks a file the first time a stage asks for it, then serves it from memory; importing this
package reads nothing.
"""

from __future__ import annotations

from pipeline.data.load import DATA_DIR, SCHEMAS, DataFileError, Table, load_tables, read_tables

__all__ = ["DATA_DIR", "SCHEMAS", "DataFileError", "Table", "load_tables", "read_tables"]
