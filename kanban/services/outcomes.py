"""Won / lost / reopen with the admin-edited lost reasons, and the pipeline's "reason required" rule."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kanban import policy
from kanban.crm_models import LostReason
from kanban.errors import ConflictError, NotFoundError, ValidationError
from kanban.events import Actor
from kanban.i18n import _
from kanban.models import Deal, Pipeline
from kanban.services.deals import apply_status, get_deal


def lost_reasons(session: Session) -> list[LostReason]:
    """The lost reasons, alphabetical."""
    return list(session.scalars(select(LostReason).order_by(LostReason.name)))


def create_lost_reason(session: Session, name: Any) -> LostReason:
    """Add a lost reason (names are unique, case-insensitively)."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(_("invalid lost reason"), {"name": _("name is required")})
    if len(name.strip()) > 200:
        raise ValidationError(_("invalid lost reason"), {"name": _("name is at most 200 characters")})
    same = session.scalars(select(LostReason).where(func.lower(LostReason.name) == name.strip().lower())).first()
    if same is not None:
        raise ConflictError(_("this lost reason exists"), {"name": _("already exists")}, existing_id=same.id)
    reason = LostReason(name=name.strip())
    session.add(reason)
    session.flush()
    return reason


def delete_lost_reason(session: Session, reason_id: int) -> None:
    """Remove a lost reason (deals lost with it keep its text)."""
    reason = session.get(LostReason, reason_id)
    if reason is None:
        raise NotFoundError(_("lost reason %(reason_id)s not found", reason_id=reason_id))
    session.delete(reason)
    session.flush()


def mark_won(session: Session, deal_id: int, *, actor: Actor, cause: tuple[dict[str, Any], ...] = ()) -> Deal:
    """Mark a deal won (it keeps its stage)."""
    deal = get_deal(session, deal_id, for_update=True)
    policy.authorize(session, actor, "edit", deal)
    apply_status(session, deal, "won", actor, cause=cause)
    return deal


def _reason_text(session: Session, reason_id: Any, reason: Any) -> str | None:
    if reason_id is not None:
        row = session.get(LostReason, reason_id) if isinstance(reason_id, int) else None
        if row is None:
            raise ValidationError(_("unknown lost reason"), {"reason_id": _("unknown lost reason")})
        return row.name
    if reason is None or (isinstance(reason, str) and not reason.strip()):
        return None
    if not isinstance(reason, str) or len(reason.strip()) > 300:
        raise ValidationError(_("invalid lost reason"), {"reason": _("reason is text of at most 300 characters")})
    return reason.strip()


def mark_lost(session: Session, deal_id: int, *, actor: Actor, reason_id: int | None = None,
              reason: str | None = None, cause: tuple[dict[str, Any], ...] = ()) -> Deal:
    """Mark a deal lost with a listed reason or free text; 422 when the pipeline requires one and none is given."""
    deal = get_deal(session, deal_id, for_update=True)
    policy.authorize(session, actor, "edit", deal)
    text = _reason_text(session, reason_id, reason)
    pipeline = session.get(Pipeline, deal.pipeline_id)
    if text is None and pipeline is not None and pipeline.lost_reason_required:
        raise ValidationError(_("a lost reason is required in this pipeline"), {"reason_id": _("choose a reason")})
    apply_status(session, deal, "lost", actor, reason=text, cause=cause)
    return deal


def reopen(session: Session, deal_id: int, *, actor: Actor, cause: tuple[dict[str, Any], ...] = ()) -> Deal:
    """Back to open (closed_at and the lost reason cleared)."""
    deal = get_deal(session, deal_id, for_update=True)
    policy.authorize(session, actor, "edit", deal)
    apply_status(session, deal, "open", actor, cause=cause)
    return deal


def set_status(session: Session, deal_id: int, status: str, *, actor: Actor, reason: str | None = None,
               cause: tuple[dict[str, Any], ...] = ()) -> Deal:
    """won | lost | open by name (robots and automations)."""
    if status == "won":
        return mark_won(session, deal_id, actor=actor, cause=cause)
    if status == "lost":
        return mark_lost(session, deal_id, actor=actor, reason=reason, cause=cause)
    if status == "open":
        return reopen(session, deal_id, actor=actor, cause=cause)
    raise ValidationError(_("invalid status"), {"status": _("won, lost or open")})
