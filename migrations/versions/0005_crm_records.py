"""crm records: persons (from contacts) and organizations, notes, activities, won/lost, rotting, imports

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-02 12:28:32.857986
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import kanban.db

revision: str = "0005"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lost_reasons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", kanban.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lost_reasons")),
        sa.UniqueConstraint("name", name=op.f("uq_lost_reasons_name")),
    )
    op.create_table(
        "organizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", kanban.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("external_id", name=op.f("uq_organizations_external_id")),
    )
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_organizations_name_trgm",
            ["name"],
            unique=False,
            postgresql_ops={"name": "gin_trgm_ops"},
            postgresql_using="gin",
        )

    op.create_table(
        "persons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_key", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=10), nullable=True),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", kanban.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_persons_organization_id_organizations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.UniqueConstraint("email_key", name=op.f("uq_persons_email_key")),
        sa.UniqueConstraint("external_id", name=op.f("uq_persons_external_id")),
    )
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.create_index(
            "ix_persons_name_trgm",
            ["name"],
            unique=False,
            postgresql_ops={"name": "gin_trgm_ops"},
            postgresql_using="gin",
        )
        batch_op.create_index(batch_op.f("ix_persons_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "import_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("pipeline_id", sa.Integer(), nullable=True),
        sa.Column(
            "mapping", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.Column("created_at", kanban.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", kanban.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["pipeline_id"], ["pipelines.id"], name=op.f("fk_import_jobs_pipeline_id_pipelines"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_import_jobs_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    op.create_table(
        "activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("due_time", sa.Time(), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("deal_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("done_at", kanban.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", kanban.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kanban.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_activities_assignee_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_activities_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["deals.id"], name=op.f("fk_activities_deal_id_deals"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_activities_person_id_persons"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
        sa.UniqueConstraint("run_id", name=op.f("uq_activities_run_id")),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index("ix_activities_assignee", ["assignee_id", "done", "due_date"], unique=False)
        batch_op.create_index("ix_activities_deal_open", ["deal_id", "done", "due_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_activities_person_id"), ["person_id"], unique=False)

    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "mentions", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", kanban.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("edited_at", kanban.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_notes_author_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"], name=op.f("fk_notes_deal_id_deals"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_notes_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_notes_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notes_deal_id"), ["deal_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_notes_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_notes_person_id"), ["person_id"], unique=False)

    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("organization_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("status", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("lost_reason", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("closed_at", kanban.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_activity_at", kanban.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("external_id", sa.String(length=100), nullable=True))
    with op.batch_alter_table("pipelines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lost_reason_required", sa.Boolean(), nullable=True))
    with op.batch_alter_table("stages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("probability", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rotting_days", sa.Integer(), nullable=True))

    _migrate_contacts()
    _fill_new_columns()

    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.alter_column("status", existing_type=sa.String(length=10), nullable=False)
        batch_op.alter_column("last_activity_at", existing_type=kanban.db.UTCDateTime(timezone=True), nullable=False)
        batch_op.drop_index(batch_op.f("ix_deals_contact_id"))
        batch_op.create_index(batch_op.f("ix_deals_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deals_person_id"), ["person_id"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_deals_external_id"), ["external_id"])
        batch_op.drop_constraint(batch_op.f("fk_deals_contact_id_contacts"), type_="foreignkey")
        batch_op.create_foreign_key(
            batch_op.f("fk_deals_person_id_persons"), "persons", ["person_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_deals_organization_id_organizations"),
            "organizations",
            ["organization_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.drop_column("contact_id")
    with op.batch_alter_table("pipelines", schema=None) as batch_op:
        batch_op.alter_column("lost_reason_required", existing_type=sa.Boolean(), nullable=False)
    with op.batch_alter_table("stages", schema=None) as batch_op:
        batch_op.alter_column("probability", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_name_trgm", postgresql_ops={"name": "gin_trgm_ops"}, postgresql_using="gin")
    op.drop_table("contacts")


# Contacts become persons (same ids); contacts sharing an email (case-insensitively) merge into the first one,
# and each distinct company becomes an organization linked to its persons and their deals.
_CONTACT_TO_PERSON = """
    INSERT INTO persons (id, name, email, email_key, phone, created_at)
    SELECT c.id, c.name, c.email, lower(c.email), c.phone, c.created_at FROM contacts c
    WHERE c.email IS NULL OR c.id = (SELECT min(c2.id) FROM contacts c2 WHERE lower(c2.email) = lower(c.email))
"""
_DEAL_PERSON = """
    UPDATE deals SET person_id = (
        SELECT coalesce(min(c2.id), c1.id) FROM contacts c1
        LEFT JOIN contacts c2 ON lower(c2.email) = lower(c1.email)
        WHERE c1.id = deals.contact_id GROUP BY c1.id
    ) WHERE contact_id IS NOT NULL
"""
_COMPANIES = """
    INSERT INTO organizations (name, created_at)
    SELECT company, min(created_at) FROM contacts WHERE company IS NOT NULL AND company <> '' GROUP BY company
"""
_PERSON_ORG = """
    UPDATE persons SET organization_id = (
        SELECT min(o.id) FROM organizations o JOIN contacts c ON c.company = o.name WHERE c.id = persons.id
    )
"""
_DEAL_ORG = """
    UPDATE deals SET organization_id = (SELECT p.organization_id FROM persons p WHERE p.id = deals.person_id)
    WHERE person_id IS NOT NULL
"""


def _migrate_contacts() -> None:
    for statement in (_CONTACT_TO_PERSON, _DEAL_PERSON, _COMPANIES, _PERSON_ORG, _DEAL_ORG):
        op.execute(statement)
    if op.get_bind().dialect.name == "postgresql":
        # Rows were inserted with explicit ids: move the sequence past them.
        op.execute(
            "SELECT setval(pg_get_serial_sequence('persons', 'id'), coalesce(max(id), 0) + 1, false) FROM persons"
        )


def _fill_new_columns() -> None:
    """Status from the stage kind (closed at stage entry), activity time from the last stage change."""
    op.execute(
        "UPDATE deals SET status = coalesce((SELECT s.kind FROM stages s WHERE s.id = deals.stage_id), "
        "'open'), last_activity_at = stage_entered_at"
    )
    op.execute("UPDATE deals SET closed_at = stage_entered_at WHERE status <> 'open'")
    op.execute("UPDATE pipelines SET lost_reason_required = false")
    op.execute("UPDATE stages SET probability = CASE WHEN kind = 'lost' THEN 0 ELSE 100 END")


def downgrade() -> None:
    with op.batch_alter_table("stages", schema=None) as batch_op:
        batch_op.drop_column("rotting_days")
        batch_op.drop_column("probability")
    with op.batch_alter_table("pipelines", schema=None) as batch_op:
        batch_op.drop_column("lost_reason_required")
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("created_at", kanban.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contacts_name_trgm",
            ["name"],
            unique=False,
            postgresql_ops={"name": "gin_trgm_ops"},
            postgresql_using="gin",
        )
    op.execute(
        "INSERT INTO contacts (id, name, email, phone, company, created_at) "
        "SELECT p.id, p.name, p.email, p.phone, o.name, p.created_at FROM persons p "
        "LEFT JOIN organizations o ON o.id = p.organization_id"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('contacts', 'id'), coalesce(max(id), 0) + 1, false) FROM contacts"
        )
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_id", sa.Integer(), nullable=True))
    op.execute("UPDATE deals SET contact_id = person_id")
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_deals_organization_id_organizations"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_deals_person_id_persons"), type_="foreignkey")
        batch_op.create_foreign_key(batch_op.f("fk_deals_contact_id_contacts"), "contacts", ["contact_id"], ["id"])
        batch_op.drop_constraint(batch_op.f("uq_deals_external_id"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_deals_person_id"))
        batch_op.drop_index(batch_op.f("ix_deals_organization_id"))
        batch_op.create_index(batch_op.f("ix_deals_contact_id"), ["contact_id"], unique=False)
        for column in (
            "external_id",
            "last_activity_at",
            "closed_at",
            "lost_reason",
            "status",
            "organization_id",
            "person_id",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notes_person_id"))
        batch_op.drop_index(batch_op.f("ix_notes_organization_id"))
        batch_op.drop_index(batch_op.f("ix_notes_deal_id"))

    op.drop_table("notes")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activities_person_id"))
        batch_op.drop_index("ix_activities_deal_open")
        batch_op.drop_index("ix_activities_assignee")

    op.drop_table("activities")
    op.drop_table("import_jobs")
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_persons_organization_id"))
        batch_op.drop_index("ix_persons_name_trgm", postgresql_ops={"name": "gin_trgm_ops"}, postgresql_using="gin")

    op.drop_table("persons")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_organizations_name_trgm", postgresql_ops={"name": "gin_trgm_ops"}, postgresql_using="gin"
        )

    op.drop_table("organizations")
    op.drop_table("lost_reasons")
