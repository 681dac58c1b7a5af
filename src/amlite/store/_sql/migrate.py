"""Bring a database to the newest schema, fast when it is already there.

Opening an up-to-date database costs one small query (alembic is not even imported). Otherwise
the upgrade runs inside one write transaction that also serialises concurrent openers:
``BEGIN IMMEDIATE`` on SQLite, a transaction-scoped advisory lock on PostgreSQL. Both backends
have transactional DDL, so a second opener waits, then finds the schema at head.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from amlite.store._sql.engine import read_tx, write_tx

if TYPE_CHECKING:
    from alembic.config import Config

HEAD = "0005_fencing"
"""The newest revision in ``migrations/versions``; bump it with every new migration
(``tests/store/test_migrations.py`` checks it against alembic's own view)."""

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

_PG_LOCK_KEY = 0x616D6C697465  # "amlite"


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer amlite than this one."""


def current_revision(conn: Connection) -> str | None:
    """The alembic revision of the database, None if it was never migrated."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def ensure_schema(engine: Engine) -> bool:
    """Migrate to ``HEAD`` if needed; True if a migration ran."""
    with read_tx(engine) as conn:
        if current_revision(conn) == HEAD:
            return False
    with write_tx(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        revision = current_revision(conn)
        if revision == HEAD:
            return False
        _upgrade(conn, revision)
    return True


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic ``Config`` for the shipped migrations (optionally bound to ``connection``)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_head() -> str | None:
    """The head revision as alembic computes it from the migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def _upgrade(conn: Connection, revision: str | None) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    if revision is not None and revision not in {s.revision for s in script.walk_revisions()}:
        raise SchemaTooNew(
            f"the database is at schema revision {revision!r}, unknown to this amlite "
            f"(newest known: {HEAD!r}); upgrade amlite"
        )
    command.upgrade(alembic_config(conn), "head")
