"""Engines and transactions: one engine per database URL per process, one session per unit.

SQLite (embedded default) and PostgreSQL (production) share every query. On SQLite every
transaction takes the write lock up front (BEGIN IMMEDIATE) and waits for it; on both,
engines are disposed in a forked child so no connection is shared across a fork.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    DBAPIError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel, create_engine

from pipeline.errors import (
    ConfigError,
    ConflictError,
    StoreError,
    StoreUnavailableError,
)
from pipeline.settings import mask_password

SQLITE_BUSY_TIMEOUT_MS = 30_000

_Row = TypeVar("_Row", bound=SQLModel)


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(url: str) -> Engine:
    """One engine per URL per process; disposed in forked children (see below)."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _make_engine(url)
            _engines[url] = engine
        return engine


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, poolclass=NullPool
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy so BEGIN IMMEDIATE below is what starts it.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # Take the write lock up front: a deferred transaction that later writes can fail
    # with SQLITE_BUSY without waiting for busy_timeout.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _dispose_after_fork() -> None:
    for engine in _engines.values():
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_dispose_after_fork)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """One transaction: commit on success, roll back on error.

    Database failures leave as newswatch errors that say whether a retry can help
    (see pipeline.errors), so callers above the store never handle driver exceptions.
    """
    with database_errors(url), Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Translate driver and SQLAlchemy failures into one-line newswatch errors."""
    try:
        yield
    except ArgumentError as exc:
        raise ConfigError(f"invalid database URL: {exc}") from exc
    except IntegrityError as exc:
        raise ConflictError(f"conflicting change, nothing was saved: {_first_line(exc)}") from exc
    except OperationalError as exc:
        message = f"cannot use the database {mask_password(url)}: {_first_line(exc)}"
        raise StoreUnavailableError(message) from exc
    except PoolTimeoutError as exc:
        # More threads than pooled connections (a thread-pool worker): busy, try again.
        message = f"no free connection to the database {mask_password(url)}: {_first_line(exc)}"
        raise StoreUnavailableError(message) from exc
    except (ProgrammingError, DatabaseError) as exc:
        message = f"cannot use the database {mask_password(url)}: {_first_line(exc)}"
        raise StoreError(message) from exc


def _first_line(exc: DBAPIError | Exception) -> str:
    origin = getattr(exc, "orig", None) or exc
    lines = str(origin).strip().splitlines()
    return lines[0] if lines else type(origin).__name__


def dispose_all() -> None:
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def insert_ignore(session: Session, model: type[SQLModel], values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on either backend; True when a row was inserted."""
    table = model.__table__  # type: ignore[attr-defined]
    key = next(iter(table.primary_key.columns))
    # RETURNING tells both backends' drivers apart from "row skipped"; rowcount may be -1.
    statement = _insert_ignoring(session, table, values).returning(key)
    return session.execute(statement).first() is not None


def insert_ignore_row(session: Session, model: type[_Row], values: dict[str, Any]) -> _Row | None:
    """As ``insert_ignore``, handing back the inserted row as a loaded object (None when
    skipped): RETURNING the row saves reading it again by a key."""
    statement = _insert_ignoring(session, model, values).returning(model)
    return session.scalars(statement).first()


def insert_ignore_many(
    session: Session, model: type[SQLModel], rows: list[dict[str, Any]], *returning: Any
) -> list[Any]:
    """One multi-row INSERT … ON CONFLICT DO NOTHING (rows with the same keys); the
    ``returning`` columns of the rows inserted, in no particular order."""
    if not rows:
        return []
    statement = _insert_ignoring(session, model.__table__, rows)  # type: ignore[attr-defined]
    return list(session.execute(statement.returning(*returning)).all())


def _insert_ignoring(
    session: Session, target: Any, values: dict[str, Any] | list[dict[str, Any]]
) -> Any:
    # Each dialect's module is imported on first use: most commands never insert.
    insert_fn: Any
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as insert_fn
    else:
        from sqlalchemy.dialects.sqlite import insert as insert_fn
    return insert_fn(target).values(values).on_conflict_do_nothing()
