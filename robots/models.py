"""Robot configuration and robot runs; a robot is owned by a stage or by an event automation (one engine, two
owners). A stage robot runs once per stage entry, an automation's robot once per execution (a matched event)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kanban.clock import now
from kanban.models import Base


class Automation(Base):
    """An event automation (noCRM / Pipedrive): when `event` happens and the filters hold, its robots run."""

    __tablename__ = "automations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(200), default="")
    event: Mapped[str] = mapped_column(String(40), index=True)
    pipeline_id: Mapped[int | None] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    condition: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    fields: Mapped[list[Any]] = mapped_column(default=list)  # deal.updated: only when one of these changed
    triggered_by: Mapped[dict[str, Any] | None] = mapped_column(default=None)  # {"user_ids": [...], "automatic"?}
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class AutomationExecution(Base):
    """One matched event of an automation: its robots' runs hang off this row (as a stage's hang off an entry)."""

    __tablename__ = "automation_executions"
    __table_args__ = (
        UniqueConstraint("automation_id", "event_id", "deal_id"),  # exactly once per event (and deal)
        # … and per subject, which also covers executions without a deal (robots.subjects)
        UniqueConstraint("automation_id", "event_id", "subject_type", "subject_id",
                         name="uq_automation_executions_subject"),
        Index("ix_automation_executions_automation", "automation_id", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    automation_id: Mapped[int] = mapped_column(ForeignKey("automations.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("domain_events.id", ondelete="CASCADE"))
    # The deal the actions act on; None when they act on a person or organization, or on a deal the event
    # deleted (its snapshot is the event's `old`).
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    subject_type: Mapped[str] = mapped_column(String(20), default="deal")  # deal | person | organization
    subject_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="scheduled")  # scheduled | blocked
    reason: Mapped[str | None] = mapped_column(Text)
    cause: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=now)


class Robot(Base):
    __tablename__ = "robots"
    __table_args__ = (
        UniqueConstraint("stage_id", "key"),
        UniqueConstraint("automation_id", "key", name="uq_robots_automation_key"),
        Index("ix_robots_stage", "stage_id", "position"),
        Index("ix_robots_automation", "automation_id", "position"),
        CheckConstraint("(stage_id IS NULL) <> (automation_id IS NULL)", name="one_owner"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("stages.id", ondelete="CASCADE"))
    automation_id: Mapped[int | None] = mapped_column(ForeignKey("automations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(64))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    delay: Mapped[dict[str, Any]] = mapped_column(default=lambda: {"type": "now"})
    condition: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    after_previous: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Standard Webhooks signing secret of an outgoing `webhook` robot: shown once to admins, never in views.
    secret: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
    # Who last saved it (an admin): the "owner" an email robot of a stage sends as (`send_as: owner`).
    saved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class RobotRun(Base):
    __tablename__ = "robot_runs"
    __table_args__ = (
        UniqueConstraint("robot_id", "stage_entry_id"),
        UniqueConstraint("robot_id", "execution_id", name="uq_robot_runs_robot_execution"),
        Index("ix_robot_runs_due", "status", "due_at"),
        Index("ix_robot_runs_deal", "deal_id", "id"),
        Index("ix_robot_runs_entry", "stage_entry_id", "position"),
        Index("ix_robot_runs_execution", "execution_id", "position"),
        CheckConstraint("(stage_entry_id IS NULL) <> (execution_id IS NULL)", name="one_group"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    robot_id: Mapped[int] = mapped_column(ForeignKey("robots.id", ondelete="CASCADE"))
    # None for an automation's run without a deal (a person's or organization's event, a deleted deal).
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    # An automation run records the deal's stage when its event was matched (its {{ stage.* }} values).
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("stages.id"))
    stage_entry_id: Mapped[int | None] = mapped_column(ForeignKey("stage_entries.id", ondelete="CASCADE"))
    execution_id: Mapped[int | None] = mapped_column(ForeignKey("automation_executions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(50))
    robot_key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    # scheduled | waiting | running | done | skipped | cancelled | failed | blocked
    status: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime | None]
    enqueued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    outputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    cause: Mapped[list[Any]] = mapped_column(default=list)
    # The pipeline's automation version (kanban.automation_versions) when the run was scheduled.
    automation_version: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=now)


# The email template library lives in its own module; importing it here puts its table on the shared metadata.
from robots import email_templates  # noqa: E402,F401
