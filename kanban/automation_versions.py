"""Automation versions: every committed save of a pipeline's robots, triggers or automations (UI, API, import,
restore) stores the pipeline's exported document with who, when and the diff from the previous version.

Saves are noticed on the session, not in each route: a flush that touches a row of a registered section
(kanban.automation_code.SECTIONS) marks its pipeline, and just before the commit one version per marked pipeline
is written if its document changed. The first time a pipeline is touched without any version, the document as
it was before (read from the database, not the identity map) becomes version 1, so the first change can be
restored too. Who: `session.info["user_id"]`, set where the web edge authenticates the user (or by the CLI).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, event, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from kanban import automation_code
from kanban.clock import now
from kanban.errors import NotFoundError
from kanban.i18n import _
from kanban.models import Base, Pipeline

TOUCHED = "automation_touched"
BEFORE = "automation_before"
SOURCE = "automation_source"


class AutomationVersion(Base):
    """One saved state of a pipeline's automation document."""

    __tablename__ = "automation_versions"
    __table_args__ = (UniqueConstraint("pipeline_id", "version"), Index("ix_automation_versions_at", "at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=now)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(40), default="")  # ui | api | import | restore of vN | baseline
    summary: Mapped[str] = mapped_column(Text, default="")
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"added","changed","removed"}
    document: Mapped[dict[str, Any]] = mapped_column(default=dict)


def current_version(session: Session, pipeline_id: int | None) -> int | None:
    """The pipeline's latest version number (None before its first recorded save)."""
    if pipeline_id is None:
        return None
    return session.scalar(select(func.max(AutomationVersion.version))
                          .where(AutomationVersion.pipeline_id == pipeline_id))


def history(session: Session, pipeline_id: int, *, limit: int = 100) -> list[AutomationVersion]:
    """A pipeline's versions, newest first."""
    return list(session.scalars(select(AutomationVersion).where(AutomationVersion.pipeline_id == pipeline_id)
                                .order_by(AutomationVersion.version.desc()).limit(limit)))


def get_version(session: Session, pipeline_id: int, version: int) -> AutomationVersion:
    """One version of a pipeline, or NotFoundError."""
    row = session.scalar(select(AutomationVersion).where(AutomationVersion.pipeline_id == pipeline_id,
                                                         AutomationVersion.version == version))
    if row is None:
        raise NotFoundError(_("version %(version)s of pipeline %(pipeline_id)s not found", version=version,
                               pipeline_id=pipeline_id))
    return row


def restore(session: Session, pipeline_id: int, version: int) -> dict[str, list[dict[str, Any]]]:
    """Make the pipeline's automation what it was at a version; the commit records it as a new version."""
    row = get_version(session, pipeline_id, version)
    return automation_code.import_document(session, pipeline_id, row.document, dry_run=False,
                                           source=f"restore of v{version}")


def version_view(row: AutomationVersion) -> dict[str, Any]:
    """The API shape of a version (the document itself is served by the export of that version)."""
    return {"version": row.version, "at": row.at.isoformat(), "user_id": row.user_id, "source": row.source,
            "summary": row.summary, "changes": row.changes}


def _watched() -> dict[type, Any]:
    return {model: section.pipeline_of for section in automation_code.SECTIONS for model in section.models
            if section.pipeline_of is not None}


@event.listens_for(Session, "before_flush")
def _notice(session: Session, _context: Any, _instances: Any) -> None:
    """Mark the pipelines whose robots, triggers or automations this flush writes."""
    watched = _watched()
    if not watched:
        return
    rows = [obj for obj in (*session.new, *session.dirty, *session.deleted) if type(obj) in watched]
    if not rows:
        return
    touched: set[int] = session.info.setdefault(TOUCHED, set())
    before: dict[int, dict[str, Any]] = session.info.setdefault(BEFORE, {})
    for obj in rows:
        if obj in session.dirty and not session.is_modified(obj):
            continue
        pipeline_id = watched[type(obj)](session, obj)
        if pipeline_id is None or pipeline_id in touched:
            continue
        touched.add(pipeline_id)
        if current_version(session, pipeline_id) is None:
            before[pipeline_id] = automation_code.export_document(session, pipeline_id)


@event.listens_for(Session, "before_commit")
def _record(session: Session) -> None:
    """Write one version per touched pipeline whose document changed."""
    touched = session.info.pop(TOUCHED, set())
    if not touched:
        return
    session.flush()
    touched |= session.info.pop(TOUCHED, set())
    before = session.info.pop(BEFORE, {})
    source = session.info.pop(SOURCE, None) or session.info.get("via", "")
    for pipeline_id in sorted(touched):
        record(session, pipeline_id, source=source, before=before.get(pipeline_id))


def record(session: Session, pipeline_id: int, *, source: str, before: dict[str, Any] | None = None) -> None:
    """Add a version if the pipeline's document differs from its latest one."""
    # Two admins saving the same pipeline at once: the row lock makes the second wait and number after the first.
    # FOR NO KEY UPDATE: deals being inserted meanwhile (their foreign key takes KEY SHARE) are not blocked.
    locked = select(Pipeline.id).where(Pipeline.id == pipeline_id).with_for_update(key_share=True)
    if session.scalar(locked) is None:
        return  # the pipeline itself was deleted in this transaction
    after = automation_code.export_document(session, pipeline_id)
    last = session.scalar(select(AutomationVersion).where(AutomationVersion.pipeline_id == pipeline_id)
                          .order_by(AutomationVersion.version.desc()).limit(1))
    number = last.version if last is not None else 0
    previous = last.document if last is not None else before
    if last is None and before is not None and before != after:
        number += 1
        session.add(AutomationVersion(pipeline_id=pipeline_id, version=number, at=now(), user_id=None,
                                      source="baseline", summary="as it was before the first recorded change",
                                      changes={"added": [], "changed": [], "removed": []}, document=before))
    if previous == after:
        return
    changes = automation_code.diff(previous or {}, after)
    session.add(AutomationVersion(pipeline_id=pipeline_id, version=number + 1, at=now(),
                                  user_id=session.info.get("user_id"), source=source[:40],
                                  summary=automation_code.summary(changes), changes=changes, document=after))
    session.flush()


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous: Any) -> None:
    if previous.nested:
        return  # a savepoint (a dry run): what the outer transaction touched still counts
    for key in (TOUCHED, BEFORE, SOURCE):
        session.info.pop(key, None)
