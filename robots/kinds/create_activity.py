"""create_activity: plan a call, meeting, task, email or deadline on the deal, due relative to now."""

from __future__ import annotations

from datetime import UTC, timedelta
from datetime import time as clock_time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kanban import company, timezones
from kanban.crm_models import Activity
from kanban.i18n import N_
from kanban.services.activities import create_activity
from robots.context import RunContext
from robots.errors import core_refusals
from robots.recipients import Recipient, resolve
from robots.registry import KindSettings, RobotKind, register

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Due(BaseModel):
    """When: in N days, in N business days (the company's) or on the next given weekday; optionally at a time
    of day, in `time_zone` (IANA name) or else the company's zone."""

    model_config = ConfigDict(extra="forbid", title=N_("Due"))
    in_days: int | None = Field(default=None, ge=0, le=3650)
    in_business_days: int | None = Field(default=None, ge=0, le=2600)
    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] | None = None
    time: clock_time | None = None
    time_zone: str | None = Field(default=None, max_length=64, description="Time zone (default: the company's)")

    @model_validator(mode="after")
    def _one_rule(self) -> Due:
        if self.time_zone is not None and timezones.zone_named(self.time_zone) is None:
            raise ValueError("time_zone is an IANA time zone name such as Europe/Paris")
        if sum(v is not None for v in (self.in_days, self.in_business_days, self.weekday)) > 1:
            raise ValueError("give one of in_days, in_business_days or weekday")
        return self


class CreateActivitySettings(KindSettings):
    type: Literal["call", "meeting", "task", "email", "deadline"] = "task"
    subject: str = Field(min_length=1, max_length=300, description=N_("Subject"))
    due: Due = Field(default_factory=Due)
    assignee: Recipient | None = Field(default=None, description=N_("Assignee (default: the deal's responsible)"))
    note: str | None = Field(default=None, description=N_("Note"))


@register
class CreateActivityKind(RobotKind):
    """Plan an activity on the deal for its responsible or another user."""

    kind = "create_activity"
    title = N_("Plan an activity")
    category = "deal"
    Settings = CreateActivitySettings
    outputs = ("activity_id",)
    templates = {"subject": "text", "note": "text"}
    needs_deal = False  # also acts without a deal (robots.subjects)

    def run(self, ctx: RunContext, settings: CreateActivitySettings) -> dict[str, Any]:
        """One activity per run (activities.run_id is unique), counted in the company's calendar (or the named
        zone's); stored as the company's wall-clock date and time, as every activity's due moment is."""
        ref = settings.assignee or Recipient(type="responsible")
        assignee = resolve(ctx, [ref], "assignee")[0]
        due = settings.due
        firm = company.settings(ctx.session)
        company_zone = timezones.zone_named(firm.time_zone) or UTC
        zone = timezones.zone_named(due.time_zone) or company_zone
        day = ctx.now.astimezone(zone).date()
        if due.in_days is not None:
            day += timedelta(days=due.in_days)
        elif due.in_business_days is not None:
            day = timezones.add_business_days(day, due.in_business_days, firm.business_days)
        elif due.weekday is not None:
            day = timezones.next_weekday(day, WEEKDAYS.index(due.weekday))
        due_time = due.time
        if due_time is not None and zone is not company_zone:
            moment = timezones.localize(day, due_time, zone).astimezone(company_zone)
            day, due_time = moment.date(), moment.time().replace(tzinfo=None)
        values = {"type": settings.type, "subject": ctx.render(settings.subject)[:300], "due_date": day,
                  "due_time": due_time, "assignee_id": assignee.id, "deal_id": ctx.deal_id,
                  "person_id": ctx.person_id(),
                  "note": ctx.render(settings.note) if settings.note else None}
        with core_refusals():
            activity: Activity = create_activity(ctx.session, values, actor=ctx.actor, run_id=ctx.run_id,
                                                 cause=ctx.next_cause())
        return {"activity_id": activity.id}
