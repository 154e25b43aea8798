"""change_responsible: assign the first, the next (round robin) or a random active user from a list."""

from __future__ import annotations

import random
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import select

from kanban.i18n import N_, _
from kanban.models import User
from robots.context import RunContext
from robots.errors import PermanentError, core_refusals
from robots.models import Robot, RobotRun
from robots.registry import KindSettings, RobotKind, register


class ChangeResponsibleSettings(KindSettings):
    users: list[int] = Field(min_length=1, description=N_("Candidate users, in rotation order"))
    mode: Literal["first", "round_robin", "random"] = "first"


@register
class ChangeResponsible(RobotKind):
    """Make another user responsible for the deal; inactive users are skipped."""

    kind = "change_responsible"
    title = N_("Change the responsible")
    category = "deal"
    Settings = ChangeResponsibleSettings
    outputs = ("user_id",)

    def run(self, ctx: RunContext, settings: ChangeResponsibleSettings) -> dict[str, Any]:
        """Pick a user by mode and update the deal as this robot (field_changed triggers fire)."""
        found = {u.id: u for u in ctx.session.scalars(select(User).where(User.id.in_(settings.users)))}
        active = [uid for uid in dict.fromkeys(settings.users)
                  if uid in found and found[uid].active and found[uid].role != "system"]
        if not active:
            raise PermanentError(_("none of the configured users exists and is active"))
        if settings.mode == "random":
            chosen = random.choice(active)
        elif settings.mode == "round_robin":
            chosen = self._next_in_turn(ctx, settings.users, active)
        else:
            chosen = active[0]
        with core_refusals():
            ctx.update_deal({"responsible_id": chosen})
        return {"user_id": chosen}

    def _next_in_turn(self, ctx: RunContext, order: list[int], active: list[int]) -> int:
        """The active user after the one this robot assigned last (state lives in its finished runs)."""
        if ctx.session.get_bind().dialect.name == "postgresql":
            # Runs of this robot for other deals take turns here, so two of them never pick the same "next".
            ctx.session.execute(select(Robot.id).where(Robot.id == ctx.robot_id).with_for_update())
        last = ctx.session.scalars(
            select(RobotRun.outputs).where(RobotRun.robot_id == ctx.robot_id, RobotRun.status == "done",
                                           RobotRun.id != ctx.run_id)
            .order_by(RobotRun.finished_at.desc(), RobotRun.id.desc()).limit(1)
        ).first()
        previous = (last or {}).get("user_id")
        if previous not in order:
            return active[0]
        start = order.index(previous)
        for uid in order[start + 1:] + order[: start + 1]:
            if uid in active:
                return uid
        return active[0]
