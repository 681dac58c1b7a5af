"""The SQLAlchemy implementation of the store: SQLite (WAL, embedded default) or PostgreSQL.

- ``engine``: engines, SQLite pragmas, read/write transactions;
- ``tables``: the schema (Core tables);
- ``migrate``: alembic upgrade on open, skipped when already at head;
- ``store`` / ``assets``: the ``Store`` contract;
- ``migrations/``: alembic scripts shipped with the package.
"""
