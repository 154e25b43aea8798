"""automation executions without a deal (person, organization, deleted deal); received email per person

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-07 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_email_persons",
        sa.Column("inbound_email_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbound_email_id"], ["inbound_emails.id"],
            name=op.f("fk_inbound_email_persons_inbound_email_id_inbound_emails"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_inbound_email_persons_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("inbound_email_id", "person_id", name=op.f("pk_inbound_email_persons")),
    )
    with op.batch_alter_table("inbound_email_persons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_email_persons_person_id"), ["person_id"], unique=False)

    with op.batch_alter_table("automation_executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject_type", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("subject_id", sa.Integer(), nullable=True))
    op.execute("UPDATE automation_executions SET subject_type = 'deal', subject_id = deal_id")
    with op.batch_alter_table("automation_executions", schema=None) as batch_op:
        batch_op.alter_column("subject_type", existing_type=sa.String(length=20), nullable=False)
        batch_op.alter_column("subject_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("deal_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_unique_constraint(
            "uq_automation_executions_subject", ["automation_id", "event_id", "subject_type", "subject_id"]
        )

    with op.batch_alter_table("robot_runs", schema=None) as batch_op:
        batch_op.alter_column("deal_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.alter_column("stage_id", existing_type=sa.INTEGER(), nullable=True)


def downgrade() -> None:
    # Runs and executions without a deal cannot be kept by the older schema.
    op.execute("DELETE FROM robot_runs WHERE deal_id IS NULL OR stage_id IS NULL")
    op.execute("DELETE FROM automation_executions WHERE deal_id IS NULL")
    with op.batch_alter_table("robot_runs", schema=None) as batch_op:
        batch_op.alter_column("stage_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.alter_column("deal_id", existing_type=sa.INTEGER(), nullable=False)

    with op.batch_alter_table("automation_executions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_automation_executions_subject", type_="unique")
        batch_op.alter_column("deal_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("subject_id")
        batch_op.drop_column("subject_type")

    with op.batch_alter_table("inbound_email_persons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_email_persons_person_id"))
    op.drop_table("inbound_email_persons")
