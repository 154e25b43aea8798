"""access control: roles with per-action deal scopes, pipeline visibility by department

Revision ID: 0004
Revises: 0001
Create Date: 2026-12-02 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The built-in roles as shipped (kanban.policy.BUILTIN_ROLES holds the same; admins may edit scopes later).
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

BUILTIN = [
    {"name": "admin", "label": "Administrator", "builtin": True,
     "scopes": {"read": "all", "create": "all", "edit": "all", "move": "all", "delete": "all"}},
    {"name": "supervisor", "label": "Supervisor", "builtin": True,
     "scopes": {"read": "department", "create": "department", "edit": "department", "move": "department",
                "delete": "department"}},
    {"name": "rep", "label": "Sales rep", "builtin": True,
     "scopes": {"read": "all", "create": "all", "edit": "own", "move": "own", "delete": "own"}},
]


def upgrade() -> None:
    roles = op.create_table(
        "roles",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_roles")),
    )
    op.bulk_insert(roles, BUILTIN)
    with op.batch_alter_table("pipelines") as batch:
        batch.add_column(sa.Column("visible_to", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pipelines") as batch:
        batch.drop_column("visible_to")
    op.drop_table("roles")
