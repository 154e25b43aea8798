"""Alembic environment: the metadata of core, robots and triggers tables."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

import robots.models  # noqa: F401  (registers robot tables on the shared metadata)
import triggers.models  # noqa: F401  (registers trigger tables on the shared metadata)
from kanban.db import make_engine
from kanban.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # Batch migrations recreate tables; with foreign keys on, dropping a referenced table would cascade
            # deletes into its children. Off on this fresh connection, before the migration's transaction.
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
