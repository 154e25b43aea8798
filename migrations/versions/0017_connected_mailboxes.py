"""connected mailboxes: users' own SMTP/IMAP accounts, outbox rows sent through them, synced mail, robot owners

Revision ID: 0017
Revises: 0008
Create Date: 2026-12-07 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kanban.db

revision: str = "0017"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "user_mailboxes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("smtp_secret", sa.Text(), nullable=False),
        sa.Column("imap_secret", sa.Text(), nullable=False),
        sa.Column("smtp_shown", JSON, nullable=False),
        sa.Column("imap_shown", JSON, nullable=False),
        sa.Column("verified_at", kanban.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", kanban.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("synced_at", kanban.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kanban.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kanban.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_mailboxes_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_mailboxes")),
        sa.UniqueConstraint("user_id", name=op.f("uq_user_mailboxes_user_id")),
    )
    with op.batch_alter_table("email_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mailbox_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("fallback_reason", sa.Text(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_email_outbox_mailbox_id_user_mailboxes"), "user_mailboxes",
                                    ["mailbox_id"], ["id"], ondelete="SET NULL")
    with op.batch_alter_table("inbound_emails", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mailbox_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("direction", sa.String(length=3), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_inbound_emails_mailbox_id_user_mailboxes"), "user_mailboxes",
                                    ["mailbox_id"], ["id"], ondelete="SET NULL")
    op.execute("UPDATE inbound_emails SET direction = 'in'")
    with op.batch_alter_table("inbound_emails", schema=None) as batch_op:
        batch_op.alter_column("direction", existing_type=sa.String(length=3), nullable=False)
    op.create_table(
        "inbound_email_persons",
        sa.Column("inbound_email_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["inbound_email_id"], ["inbound_emails.id"],
                                name=op.f("fk_inbound_email_persons_inbound_email_id_inbound_emails"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_inbound_email_persons_person_id_persons"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("inbound_email_id", "person_id", name=op.f("pk_inbound_email_persons")),
    )
    op.create_index(op.f("ix_inbound_email_persons_person_id"), "inbound_email_persons", ["person_id"],
                    unique=False)
    with op.batch_alter_table("robots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("saved_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_robots_saved_by_id_users"), "users", ["saved_by_id"], ["id"],
                                    ondelete="SET NULL")


def downgrade() -> None:
    op.drop_index(op.f("ix_inbound_email_persons_person_id"), table_name="inbound_email_persons")
    op.drop_table("inbound_email_persons")
    with op.batch_alter_table("robots", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_robots_saved_by_id_users"), type_="foreignkey")
        batch_op.drop_column("saved_by_id")
    with op.batch_alter_table("inbound_emails", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_inbound_emails_mailbox_id_user_mailboxes"), type_="foreignkey")
        batch_op.drop_column("direction")
        batch_op.drop_column("mailbox_id")
    with op.batch_alter_table("email_outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_email_outbox_mailbox_id_user_mailboxes"), type_="foreignkey")
        batch_op.drop_column("fallback_reason")
        batch_op.drop_column("mailbox_id")
    op.drop_table("user_mailboxes")
