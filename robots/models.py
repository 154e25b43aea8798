"""Robot configuration and robot runs (one run per robot per stage entry)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kanban.clock import now
from kanban.models import Base


class Robot(Base):
    __tablename__ = "robots"
    __table_args__ = (UniqueConstraint("stage_id", "key"), Index("ix_robots_stage", "stage_id", "position"))
    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(64))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    delay: Mapped[dict[str, Any]] = mapped_column(default=lambda: {"type": "now"})
    condition: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    after_previous: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class RobotRun(Base):
    __tablename__ = "robot_runs"
    __table_args__ = (
        UniqueConstraint("robot_id", "stage_entry_id"),
        Index("ix_robot_runs_due", "status", "due_at"),
        Index("ix_robot_runs_deal", "deal_id", "id"),
        Index("ix_robot_runs_entry", "stage_entry_id", "position"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    robot_id: Mapped[int] = mapped_column(ForeignKey("robots.id", ondelete="CASCADE"))
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    stage_entry_id: Mapped[int] = mapped_column(ForeignKey("stage_entries.id", ondelete="CASCADE"))
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
    created_at: Mapped[datetime] = mapped_column(default=now)


# The email template library lives in its own module; importing it here puts its table on the shared metadata.
from robots import email_templates  # noqa: E402,F401
