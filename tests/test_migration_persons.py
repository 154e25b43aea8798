"""Migration 0005 turns contacts into persons and companies into organizations, keeping deals linked."""

from __future__ import annotations

from sqlalchemy import text

from kanban.db import make_engine
from kanban.migrate import upgrade
from tests.test_migrations import empty_url  # noqa: F401  (the fixture: an empty SQLite / PostgreSQL database)

_SEED = [
    "INSERT INTO pipelines (id, name, position, created_at) VALUES (1, 'Sales', 0, :at)",
    "INSERT INTO stages (id, pipeline_id, name, position, kind, archived) VALUES (1, 1, 'New', 0, 'open', false),"
    " (2, 1, 'Won', 1, 'won', false)",
    "INSERT INTO contacts (id, name, email, phone, company, created_at) VALUES"
    " (1, 'Ann', 'Ann@Example.com', '+1', 'Acme', :at), (2, 'Ann again', 'ann@example.COM', NULL, NULL, :at),"
    " (3, 'Bob', NULL, NULL, 'Acme', :at)",
    "INSERT INTO deals (id, pipeline_id, stage_id, title, amount, currency, contact_id, fields, tags, version,"
    " rank, stage_entered_at, created_at, updated_at) VALUES"
    " (1, 1, 1, 'A', 0, 'USD', 1, '{}', '[]', 1, 0, :at, :at, :at),"
    " (2, 1, 2, 'B', 0, 'USD', 2, '{}', '[]', 1, 0, :at, :at, :at),"
    " (3, 1, 1, 'C', 0, 'USD', 3, '{}', '[]', 1, 0, :at, :at, :at)",
]


def test_contacts_become_persons_and_companies_organizations(empty_url):  # noqa: F811
    upgrade(empty_url, "0002")
    engine = make_engine(empty_url)
    at = "2026-01-01 00:00:00"
    with engine.begin() as conn:
        for sql in _SEED:
            conn.execute(text(sql), {"at": at})
    engine.dispose()
    upgrade(empty_url)
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        persons = conn.execute(text("SELECT id, name, email_key, organization_id FROM persons ORDER BY id")).all()
        orgs = conn.execute(text("SELECT id, name FROM organizations")).all()
        deals = conn.execute(text("SELECT id, person_id, organization_id, status, closed_at IS NOT NULL "
                                  "FROM deals ORDER BY id")).all()
        # A new person gets an id after the migrated ones (PostgreSQL's sequence was moved past them).
        conn.execute(text("INSERT INTO persons (name, created_at) VALUES ('New', :at)"), {"at": at})
        new_id = conn.execute(text("SELECT max(id) FROM persons")).scalar()
    engine.dispose()
    assert len(orgs) == 1 and orgs[0].name == "Acme"
    acme = orgs[0].id
    # The duplicate email (case-insensitive) merged into the first contact.
    assert [(p.id, p.name, p.email_key, p.organization_id) for p in persons] == [
        (1, "Ann", "ann@example.com", acme), (3, "Bob", None, acme)]
    assert [tuple(d) for d in deals] == [(1, 1, acme, "open", False), (2, 1, acme, "won", True),
                                         (3, 3, acme, "open", False)]
    assert new_id == 4
