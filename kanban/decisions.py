"""Decisions: why each robot, trigger and automation did or did not act on a deal ("Why?" on the deal page).

Most decisions already leave a row of their own: a robot run says ran / scheduled / skipped / cancelled / blocked,
an automation execution says scheduled or blocked. Those are read where they are (robots and triggers register a
*source* here at install time; the core never imports them). What used to leave no trace is stored in the
`decisions` table, written in the transaction of the change that was considered: a field change that matched no
trigger, a trigger that lost to an earlier stage or whose condition failed, a disabled robot, an inactive or
non-matching automation.

Storage is bounded: a row is a one-line summary (reason and the compared values, never a payload), rows older than
KANBAN_DECISION_RETENTION_DAYS are pruned, and each deal keeps at most KANBAN_DECISION_CAP of them (the oldest
go first). Both prunes run on the deal's own rows, in the writing transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, delete, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from kanban import clock
from kanban.clock import now
from kanban.models import Base

SOURCES_KINDS = ("robot", "trigger", "automation")
OUTCOMES = ("ran", "scheduled", "skipped", "not_matched", "lost_to_earlier", "inactive", "blocked", "cancelled")
MAX_REASON = 500
MAX_VALUE_TEXT = 200

# Set from the settings by kanban.bootstrap (KANBAN_DECISION_RETENTION_DAYS, KANBAN_DECISION_CAP).
retention_days = 30
cap_per_deal = 200

# (session, deal_id, since) -> decision dicts; robots register their run log here (kanban.bootstrap's plug-ins).
sources: list[Callable[[Session, int, datetime], list[dict[str, Any]]]] = []


class Decision(Base):
    """One considered-and-declined (or otherwise traceless) decision about a deal."""

    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_deal", "deal_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(20))  # robot | trigger | automation
    source_id: Mapped[int | None] = mapped_column(Integer)  # no FK: a deleted robot's decision still explains
    name: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=now)


def configure(retention: int, cap: int) -> None:
    """Retention (days) and the per-deal cap, from the settings."""
    global retention_days, cap_per_deal
    retention_days, cap_per_deal = max(1, retention), max(1, cap)


def summary(value: Any) -> Any:
    """A compared value as stored: scalars as they are, long texts and containers cut to a short text."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= MAX_VALUE_TEXT else text[: MAX_VALUE_TEXT - 1] + "…"


def record(session: Session, deal_id: int, source: str, source_id: int | None, name: str, outcome: str,
           reason: str, values: dict[str, Any] | None = None) -> None:
    """Store one decision in the caller's transaction and keep the deal's rows within retention and cap."""
    if source not in SOURCES_KINDS or outcome not in OUTCOMES:
        raise ValueError(f"unknown decision {source!r}/{outcome!r}")
    session.add(Decision(deal_id=deal_id, source=source, source_id=source_id, name=name[:200], outcome=outcome,
                         reason=reason[:MAX_REASON],
                         values={str(k)[:100]: summary(v) for k, v in (values or {}).items()},
                         at=clock.now()))
    session.flush()
    prune(session, deal_id)


def prune(session: Session, deal_id: int) -> None:
    """Drop the deal's decisions beyond the cap (oldest first) and older than the retention."""
    cutoff = clock.now() - timedelta(days=retention_days)
    oldest_kept = session.scalar(select(Decision.id).where(Decision.deal_id == deal_id)
                                 .order_by(Decision.id.desc()).offset(cap_per_deal - 1).limit(1))
    condition = Decision.at < cutoff if oldest_kept is None else or_(Decision.at < cutoff, Decision.id < oldest_kept)
    session.execute(delete(Decision).where(Decision.deal_id == deal_id, condition)
                    .execution_options(synchronize_session=False))


def stored(session: Session, deal_id: int, since: datetime) -> list[dict[str, Any]]:
    """The deal's stored decisions within the retention, newest first."""
    rows = session.scalars(select(Decision).where(Decision.deal_id == deal_id, Decision.at >= since)
                           .order_by(Decision.id.desc()).limit(cap_per_deal))
    return [{"at": r.at, "source": r.source, "source_id": r.source_id, "name": r.name, "outcome": r.outcome,
             "reason": r.reason, "values": dict(r.values or {})} for r in rows]


def for_deal(session: Session, deal_id: int, limit: int | None = None) -> list[dict[str, Any]]:
    """Every decision about the deal within the retention, newest first: stored ones and the sources'."""
    since = clock.now() - timedelta(days=retention_days)
    items = stored(session, deal_id, since)
    for source in sources:
        items.extend(source(session, deal_id, since))
    items.sort(key=lambda item: item["at"], reverse=True)
    return items[: limit or cap_per_deal]
