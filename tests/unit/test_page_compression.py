"""Fetched pages are stored compressed on PostgreSQL and read back byte for byte; raw values
(SQLite's, and rows written before compression existed) read back as they were."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql as postgres_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from pipeline.io.store.compressed import CompressedBytes, compress_page, decompress_page

PAGE = ("<html><body>" + "<p>Buses and ambulances left Aleppo on Thursday.</p>" * 400).encode()


def test_a_page_round_trips_smaller() -> None:
    stored = compress_page(PAGE)
    assert len(stored) < len(PAGE) / 4
    assert decompress_page(stored) == PAGE


def test_a_page_stored_raw_reads_back_unchanged() -> None:
    assert decompress_page(PAGE) == PAGE
    assert decompress_page(memoryview(PAGE)) == PAGE  # drivers may hand back a buffer


def test_the_column_compresses_on_postgresql_and_stores_raw_on_sqlite() -> None:
    column = CompressedBytes()
    postgresql, sqlite = postgres_dialect.dialect(), sqlite_dialect.dialect()
    stored = column.process_bind_param(PAGE, postgresql)
    assert stored is not None and len(stored) < len(PAGE) / 4
    assert column.process_result_value(stored, postgresql) == PAGE
    assert column.process_bind_param(PAGE, sqlite) == PAGE
    assert column.process_result_value(PAGE, sqlite) == PAGE
    assert column.process_bind_param(None, postgresql) is None
