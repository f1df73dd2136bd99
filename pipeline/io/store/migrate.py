"""Schema migrations (Alembic), run by `newswatch db upgrade` and before each command.

Every command checks the schema first; when it is current (the common case) that check is
one query and Alembic is never imported, so a command starts at once.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from pipeline.io.store.engine import database_errors, get_engine

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def _newest_revision() -> str:
    # Revisions are numbered like their files (0001_…); a test checks that this agrees
    # with Alembic's own head, so a misnumbered migration fails CI.
    names = (path.name for path in (MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    return max(name[:4] for name in names)


HEAD_REVISION = _newest_revision()


def alembic_config(database_url: str) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would mangle a '%' in a password.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_database(database_url: str, revision: str = "head") -> list[str]:
    """Apply the migrations up to ``revision``; returns the revisions applied, oldest first
    (empty when the store was already there)."""
    from alembic import command

    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    before = current_revision(database_url)
    with database_errors(database_url):
        command.upgrade(alembic_config(database_url), revision)  # type: ignore[arg-type]
    return revisions_between(before, current_revision(database_url))


def current_revision(database_url: str) -> str | None:
    sqlite_file = database_url.startswith("sqlite:///") and Path(
        database_url.removeprefix("sqlite:///")
    )
    if sqlite_file and not sqlite_file.exists():
        return None  # checking must not create the file
    with database_errors(database_url), get_engine(database_url).connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def revisions_between(before: str | None, after: str | None) -> list[str]:
    """The revisions after ``before`` up to ``after``, oldest first (ids are numbered)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))  # type: ignore[arg-type]
    if after is None or before == after:
        return []
    chain = [rev.revision for rev in scripts.iterate_revisions(after, before or "base")]
    return list(reversed(chain))


def schema_is_current(database_url: str) -> bool:
    """Whether the store is at HEAD_REVISION (False for a store not created yet)."""
    return current_revision(database_url) == HEAD_REVISION


def ensure_schema(database_url: str) -> None:
    """Create or migrate the store unless it is already current."""
    if not schema_is_current(database_url):
        upgrade_database(database_url)
