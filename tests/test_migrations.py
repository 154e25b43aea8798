"""Migrations build the schema from empty on SQLite and PostgreSQL, and match the models exactly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

import kanban.inbox  # noqa: F401  (inbox tables live on the shared metadata)
import robots.models  # noqa: F401  (robot tables live on the shared metadata)
import triggers.models  # noqa: F401  (trigger tables live on the shared metadata)
from kanban.db import make_engine
from kanban.migrate import alembic_config, upgrade
from kanban.models import Base
from tests.conftest import PG_ADMIN_URL, service_missing


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a brand-new, empty database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    try:
        server = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with server.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "absent"
        service_missing("PostgreSQL", exc)
    name = f"kanban_mig_{uuid.uuid4().hex[:10]}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


def _head(url: str) -> str:
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head is not None
    return head


def _diffs(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_from_empty_gives_exactly_the_models(empty_url):
    assert _tables(empty_url) == set()
    upgrade(empty_url)
    assert _tables(empty_url) == {*Base.metadata.tables, "alembic_version"}
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalar() == _head(empty_url)
    engine.dispose()
    assert _diffs(empty_url) == []


def test_downgrade_to_base_and_upgrade_again(empty_url):
    upgrade(empty_url)
    command.downgrade(alembic_config(empty_url), "base")
    assert _tables(empty_url) <= {"alembic_version"}
    upgrade(empty_url)
    assert _diffs(empty_url) == []


def test_the_comparison_notices_a_model_the_migrations_lack(empty_url):
    upgrade(empty_url)
    from sqlalchemy import Column, Integer, Table

    extra = Table("not_migrated_yet", Base.metadata, Column("id", Integer, primary_key=True))
    try:
        assert any(d[0] == "add_table" and d[1].name == "not_migrated_yet" for d in _diffs(empty_url))
    finally:
        Base.metadata.remove(extra)
