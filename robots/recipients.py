"""Recipient references in robot settings: users, roles, departments, the responsible, the supervisor, everyone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kanban.i18n import N_, _
from kanban.models import User
from robots.errors import PermanentError

if TYPE_CHECKING:
    from robots.context import RunContext


class Recipient(BaseModel):
    """One recipient ref, e.g. {"type": "user", "id": 3} or {"type": "role", "role": "admin"}."""

    model_config = ConfigDict(extra="forbid", title=N_("Recipient"))

    type: Literal["user", "role", "department", "responsible", "supervisor", "everyone"]
    id: int | None = None
    role: Literal["admin", "rep"] | None = None

    @model_validator(mode="after")
    def _complete(self) -> Recipient:
        if self.type in ("user", "department") and self.id is None:
            raise ValueError(f"a {self.type} recipient needs an id")
        if self.type == "role" and self.role is None:
            raise ValueError("a role recipient needs a role (admin or rep)")
        return self


Recipients = Annotated[list[Recipient], Field(min_length=1, description=N_("Who receives it"))]


def resolve(ctx: RunContext, refs: list[Recipient], what: str = "recipients") -> list[User]:
    """Active users the refs name; none at all is a permanent error (the robot would do nothing)."""
    users = ctx.recipients([ref.model_dump(exclude_none=True) for ref in refs])
    if not users:
        raise PermanentError(_("no active user matches the %(what)s", what=what))
    return users
