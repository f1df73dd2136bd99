"""Alembic environment: the URL comes from newswatch settings, the schema from the store."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from pipeline.io.store import tables  # noqa: F401  (registers every table on the metadata)
from pipeline.io.store.engine import get_engine

config = context.config
target_metadata = SQLModel.metadata


def _include_name(name: str | None, type_: str, _parents: object) -> bool:
    # The search index is a different kind of table on each backend (FTS5 with its shadow
    # tables, or a tsvector table); the models do not declare it, the migrations do.
    return not (type_ == "table" and (name or "").startswith("article_search"))


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "newswatch passes sqlalchemy.url to Alembic"
    with get_engine(url).connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_name=_include_name,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
