"""Apply Alembic migrations programmatically (the only way the schema is made)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from kanban.paths import resource


def alembic_config(db_url: str) -> Config:
    """An Alembic config pointing at the packaged migrations and the given database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(resource("migrations")))
    cfg.set_main_option("sqlalchemy.url", db_url.replace("%", "%%"))
    cfg.attributes["configure_logging"] = False
    return cfg


def upgrade(db_url: str, revision: str = "head") -> None:
    """Upgrade the database to a revision (default: the newest)."""
    command.upgrade(alembic_config(db_url), revision)
