"""automation executions without a deal (person, organization, deleted deal)

Revision ID: 0010
Revises: 0013
Create Date: 2026-12-07 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
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

