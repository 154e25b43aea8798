"""A team for access tests: two departments, one user per role, deals owned by each of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from kanban.events import SYSTEM
from kanban.models import Role
from kanban.services.deals import create_deal
from tests.conftest import make_user, token_for


@dataclass
class Team:
    """Users by name, their tokens, and deals by owner."""

    users: dict[str, Any]
    tokens: dict[str, str]
    deals: dict[str, int]
    pipeline: Any

    def h(self, name: str) -> dict[str, str]:
        """Authorization header of a user."""
        return {"Authorization": f"Bearer {self.tokens[name]}"}


@pytest.fixture
def team(runtime: Any, pipeline: Any) -> Team:
    """admin, supervisor, rep, mate (the rep's department: Sales) and other (Support); one deal each plus an
    unowned one, all in the pipeline's first stage."""
    users = {
        "admin": make_user(runtime, "admin@example.com", "admin", "Ada Admin", department="Sales"),
        "supervisor": make_user(runtime, "sup@example.com", "supervisor", "Sue Supervisor", department="Sales"),
        "rep": make_user(runtime, "rep@example.com", "rep", "Rex Rep", department="Sales"),
        "mate": make_user(runtime, "mate@example.com", "rep", "Mia Mate", department="Sales"),
        "other": make_user(runtime, "other@example.com", "rep", "Otto Other", department="Support"),
    }
    deals = {}
    with runtime.sessions() as s, s.begin():
        for owner in ("rep", "mate", "other", None):
            deal = create_deal(s, title=f"Deal of {owner or 'nobody'}", pipeline_id=pipeline.id, actor=SYSTEM,
                               amount=1000, responsible_id=users[owner].id if owner else None)
            deals[owner or "nobody"] = deal.id
    return Team(users, {n: token_for(runtime, u.email) for n, u in users.items()}, deals, pipeline)


def set_scopes(runtime: Any, role: str, **scopes: str) -> None:
    """Store a role's scopes directly (the matrix sets every combination)."""
    from kanban.policy import BUILTIN_ROLES

    with runtime.sessions() as s, s.begin():
        row = s.get(Role, role) or Role(name=role, label=role, builtin=True, scopes={})
        row.scopes = {**BUILTIN_ROLES.get(role, {}), **(row.scopes or {}), **scopes}
        s.add(row)
