"""CRM record tables beside the deals: notes, activities, lost reasons and import jobs."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, Time
from sqlalchemy.orm import Mapped, mapped_column

from kanban.clock import now
from kanban.models import Base

ACTIVITY_TYPES = ("call", "meeting", "task", "email", "deadline")


class Note(Base):
    """A rep's note on a deal (or a person / organization), with the users it mentions."""

    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    mentions: Mapped[list[Any]] = mapped_column(default=list)  # user ids
    created_at: Mapped[datetime] = mapped_column(default=now)
    edited_at: Mapped[datetime | None]


class Activity(Base):
    """A planned call, meeting, task, email or deadline, due on a date (and maybe at a time)."""

    __tablename__ = "activities"
    __table_args__ = (
        # next_activities(): the earliest open activity per deal is an index range read.
        Index("ix_activities_deal_open", "deal_id", "done", "due_date"),
        Index("ix_activities_assignee", "assignee_id", "done", "due_date"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(300))
    due_date: Mapped[date] = mapped_column(Date)
    due_time: Mapped[time | None] = mapped_column(Time)
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    done_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    run_id: Mapped[int | None] = mapped_column(unique=True)  # set when a robot run created it (exactly once)
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now)


class LostReason(Base):
    """An admin-edited reason a deal can be marked lost with."""

    __tablename__ = "lost_reasons"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now)


class ImportJob(Base):
    """A CSV import run in the background; the /imports page polls its progress."""

    __tablename__ = "import_jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))  # persons | organizations | deals
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued | running | done | failed
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    pipeline_id: Mapped[int | None] = mapped_column(ForeignKey("pipelines.id", ondelete="SET NULL"))
    mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)
    content: Mapped[str] = mapped_column(Text, default="")  # the uploaded CSV, dropped when done
    total: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)  # created, updated, skipped, errors
    created_at: Mapped[datetime] = mapped_column(default=now)
    finished_at: Mapped[datetime | None]
