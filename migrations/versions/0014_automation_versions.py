"""automation versions and the version a robot run was scheduled under

Revision ID: 0014
Revises: 0017
Create Date: 2026-12-07 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kanban.db

revision: str = "0014"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "automation_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("at", kanban.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("changes", JSON, nullable=False),
        sa.Column("document", JSON, nullable=False),
        sa.ForeignKeyConstraint(["pipeline_id"], ["pipelines.id"],
                                name=op.f("fk_automation_versions_pipeline_id_pipelines"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_automation_versions_user_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_versions")),
        sa.UniqueConstraint("pipeline_id", "version", name=op.f("uq_automation_versions_pipeline_id")),
    )
    op.create_index("ix_automation_versions_at", "automation_versions", ["at"], unique=False)
    with op.batch_alter_table("robot_runs") as batch:
        batch.add_column(sa.Column("automation_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("robot_runs") as batch:
        batch.drop_column("automation_version")
    op.drop_index("ix_automation_versions_at", table_name="automation_versions")
    op.drop_table("automation_versions")
