"""Deal use cases: create, update, move (with the loop guard), reorder, status, delete."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

import kanban.stage_totals  # noqa: F401 - its session hooks keep stage_totals in step with every deal write
from kanban import clock, live, policy
from kanban.domain_events import record_event
from kanban.errors import ConflictError, NotFoundError, ValidationError
from kanban.events import Actor, DealDeleted, DealFieldsChanged, DealMoved, bus
from kanban.i18n import _
from kanban.models import Deal, DealTag, Person, Stage, StageEntry, TimelineEntry, User
from kanban.services.deal_people import apply_contact, check_links, contact_values, person_for_contact

MAX_CAUSE_DEPTH = 8
MAX_AUTO_MOVES = 10
AUTO_MOVE_WINDOW = timedelta(minutes=5)
CORE_FIELDS = ("title", "amount", "currency", "responsible_id")
LINK_FIELDS = ("person_id", "organization_id")


@dataclass
class MoveResult:
    """What a move did: moved, no-op (same stage), or blocked by the loop guard."""

    deal: Deal
    moved: bool
    entry: StageEntry | None = None
    blocked: str | None = None


def get_deal(session: Session, deal_id: int, *, for_update: bool = False) -> Deal:
    """Load a deal or raise NotFoundError."""
    stmt = select(Deal).where(Deal.id == deal_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    deal = session.scalars(stmt).one_or_none()
    if deal is None:
        raise NotFoundError(_("deal %(deal_id)s not found", deal_id=deal_id))
    return deal


def _stage(session: Session, stage_id: int) -> Stage:
    stage = session.get(Stage, stage_id)
    if stage is None or stage.archived:
        raise ValidationError(_("unknown stage"), {"stage_id": _("stage %(stage_id)s does not exist",
                                                                  stage_id=stage_id)})
    return stage


def _top_rank(session: Session, stage_id: int) -> float:
    lowest = session.scalar(select(func.min(Deal.rank)).where(Deal.stage_id == stage_id))
    return (lowest if lowest is not None else 0.0) - 1.0


def clean_tags(tags: Any) -> list[str]:
    """Normalise a tag list (strings, trimmed, unique, order kept) or raise ValidationError."""
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValidationError(_("tags must be a list of strings"), {"tags": _("must be a list of strings")})
    out: list[str] = []
    for tag in (t.strip() for t in tags):
        if len(tag) > 100:
            raise ValidationError(_("tag too long"), {"tags": _("each tag is at most 100 characters")})
        if tag and tag not in out:
            out.append(tag)
    return out


def _set_tags(session: Session, deal: Deal, tags: list[str]) -> None:
    deal.tags = tags
    if deal.id is not None:
        session.execute(delete(DealTag).where(DealTag.deal_id == deal.id))
    session.flush()
    session.add_all([DealTag(deal_id=deal.id, tag=t) for t in tags])


def _validate_core(session: Session, values: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if "title" in values:
        title = values["title"]
        if not isinstance(title, str) or not title.strip():
            errors["title"] = _("title is required")
        elif len(title) > 300:
            errors["title"] = _("title is at most 300 characters (this one has %(n_title)s)", n_title=len(title))
    if "amount" in values:
        amount = values["amount"]
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            errors["amount"] = _("amount is a non-negative integer in minor units")
        elif amount > 10**15:
            errors["amount"] = _("amount is too large")
    if "currency" in values:
        cur = values["currency"]
        if not isinstance(cur, str) or len(cur) != 3 or not cur.isalpha():
            errors["currency"] = _("currency is a 3-letter ISO code")
    if values.get("responsible_id") is not None:
        rid = values["responsible_id"]
        user = session.get(User, rid) if isinstance(rid, int) and not isinstance(rid, bool) else None
        if user is None or user.role == "system":
            errors["responsible_id"] = _("unknown user")
        elif not user.active:
            errors["responsible_id"] = _("user is inactive")
    if "fields" in values and not isinstance(values["fields"], dict):
        errors["fields"] = _("fields must be an object")
    return errors


def timeline(session: Session, deal_id: int, kind: str, text: str, actor: Actor, **data: Any) -> TimelineEntry:
    """Append an entry to a deal's timeline."""
    entry = TimelineEntry(
        deal_id=deal_id, kind=kind, text=text, actor_type=actor.type, actor_id=actor.id, data=data
    )
    session.add(entry)
    return entry


def create_deal(
    session: Session,
    *,
    title: str,
    pipeline_id: int,
    actor: Actor,
    stage_id: int | None = None,
    amount: int = 0,
    currency: str = "USD",
    responsible_id: int | None = None,
    contact: dict[str, Any] | None = None,
    fields: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    person_id: int | None = None,
    organization_id: int | None = None,
    external_id: str | None = None,
    cause: tuple[dict[str, Any], ...] = (),
) -> Deal:
    """Create a deal in a stage (default: the pipeline's first); entering it starts its robots.

    `cause`: the automatic chain that created it (a create_deal robot), carried on for the loop guard.
    A person creating a deal without a responsible becomes its responsible (as in Bitrix24), so "own"
    scopes cover the deals one creates; their role must allow creating it (kanban.policy).
    """
    user = policy.acting_user(session, actor)
    if user is not None:
        policy.require_pipeline(session, user, pipeline_id)
        responsible_id = user.id if responsible_id is None else responsible_id
    values = {"title": title, "amount": amount, "currency": currency, "responsible_id": responsible_id}
    values["fields"] = fields if fields is not None else {}
    errors = _validate_core(session, values)
    stage = None
    if stage_id is None:
        stage = session.scalars(
            select(Stage)
            .where(Stage.pipeline_id == pipeline_id, Stage.archived.is_(False))
            .order_by(Stage.position)
            .limit(1)
        ).first()
        if stage is None:
            errors["pipeline_id"] = _("unknown pipeline, or it has no stages")
    else:
        stage = session.get(Stage, stage_id)
        if stage is None or stage.archived or stage.pipeline_id != pipeline_id:
            errors["stage_id"] = _("stage is not in this pipeline")
    clean = clean_tags(tags or [])
    wanted = contact_values(contact, errors)
    check_links(session, {"person_id": person_id, "organization_id": organization_id}, errors)
    if errors:
        raise ValidationError(_("invalid deal"), errors)
    assert stage is not None
    if user is not None:
        policy.require(session, user, "create", Deal(pipeline_id=pipeline_id, responsible_id=responsible_id))
    if wanted is not None:
        person = person_for_contact(session, wanted, None, actor)
        person_id = person.id
        organization_id = organization_id or person.organization_id
    elif person_id is not None and organization_id is None:
        organization_id = session.get(Person, person_id).organization_id  # type: ignore[union-attr]
    at = clock.now()
    deal = Deal(
        pipeline_id=pipeline_id,
        stage_id=stage.id,
        title=title.strip(),
        amount=amount,
        currency=currency.upper(),
        responsible_id=responsible_id,
        person_id=person_id,
        organization_id=organization_id,
        status=_status_of(stage),
        closed_at=at if stage.kind != "open" else None,
        last_activity_at=at,
        external_id=external_id,
        fields=dict(values["fields"]),
        tags=clean,
        rank=_top_rank(session, stage.id),
        stage_entered_at=at,
        created_at=at,
        updated_at=at,
    )
    session.add(deal)
    session.flush()
    session.add_all([DealTag(deal_id=deal.id, tag=t) for t in clean])
    entry = StageEntry(deal_id=deal.id, stage_id=stage.id, entered_at=at, actor_type=actor.type,
                       actor_id=actor.id)
    session.add(entry)
    session.flush()
    # A plain UPDATE: linking the first entry is part of creating the deal, not a new version of it.
    session.execute(update(Deal).where(Deal.id == deal.id).values(current_entry_id=entry.id)
                    .execution_options(synchronize_session=False))
    set_committed_value(deal, "current_entry_id", entry.id)
    timeline(session, deal.id, "created", f"Deal created in “{stage.name}”", actor, stage_id=stage.id)
    session.flush()
    bus.publish(session, DealMoved(deal.id, None, stage.id, entry.id, None, actor, tuple(cause), created=True))
    record_event(session, "deal.created", entity_type="deal", entity_id=deal.id, deal_id=deal.id,
                 pipeline_id=deal.pipeline_id, actor=actor, new=deal_snapshot(deal), data={"to": stage.id},
                 cause=cause)
    if responsible_id is not None:
        record_event(session, "deal.assigned", entity_type="deal", entity_id=deal.id, deal_id=deal.id,
                     pipeline_id=deal.pipeline_id, actor=actor, changed=["responsible_id"],
                     old={"responsible_id": None}, new={"responsible_id": responsible_id},
                     data={"to": responsible_id}, cause=cause)
    return deal


def _loop_check(session: Session, deal: Deal, actor: Actor, cause: tuple[dict[str, Any], ...]) -> str | None:
    if not actor.automatic:
        return None
    if len(cause) > MAX_CAUSE_DEPTH:
        return f"chain of automatic moves is {len(cause)} deep (limit {MAX_CAUSE_DEPTH})"
    since = clock.now() - AUTO_MOVE_WINDOW
    recent = session.scalar(
        select(func.count())
        .select_from(StageEntry)
        .where(
            StageEntry.deal_id == deal.id,
            StageEntry.actor_type.in_(("robot", "trigger")),
            StageEntry.entered_at >= since,
        )
    )
    if recent is not None and recent >= MAX_AUTO_MOVES:
        return f"{recent} automatic moves of this deal in the last 5 minutes (limit {MAX_AUTO_MOVES})"
    return None


def move_deal(
    session: Session,
    deal_id: int,
    stage_id: int,
    *,
    actor: Actor,
    expected_version: int | None = None,
    cause: tuple[dict[str, Any], ...] = (),
    rank: float | None = None,
    run_robots: bool = True,
    note: str = "",
) -> MoveResult:
    """Move a deal to a stage of its pipeline in the caller's transaction.

    run_robots=False enters the stage without starting its robots (said on the timeline); `note` says why
    the deal moved, on its timeline entry.
    """
    deal = get_deal(session, deal_id, for_update=True)
    policy.authorize(session, actor, "move", deal)
    if expected_version is not None and expected_version != deal.version:
        raise ConflictError(
            _("the deal was changed by someone else"), current=deal, current_version=deal.version
        )
    target = _stage(session, stage_id)
    if target.pipeline_id != deal.pipeline_id:
        raise ValidationError(_("stage belongs to another pipeline"), {"stage_id": _("not in the deal's pipeline")})
    if target.id == deal.stage_id:
        if rank is not None:
            deal.rank = rank
            _flush(session, deal)
        return MoveResult(deal, moved=False)
    blocked = _loop_check(session, deal, actor, cause)
    source = session.get(Stage, deal.stage_id)
    if blocked:
        timeline(session, deal.id, "loop_blocked", f"Move to “{target.name}” refused: {blocked}", actor,
                 to_stage_id=target.id, cause=list(cause))
        session.flush()
        return MoveResult(deal, moved=False, blocked=blocked)
    at = clock.now()
    previous_entry_id = deal.current_entry_id
    if previous_entry_id is not None:
        prev = session.get(StageEntry, previous_entry_id)
        if prev is not None:
            prev.left_at = at
    entry = StageEntry(deal_id=deal.id, stage_id=target.id, from_stage_id=deal.stage_id, entered_at=at,
                       actor_type=actor.type, actor_id=actor.id, cause=list(cause))
    session.add(entry)
    session.flush()
    from_stage_id = deal.stage_id
    deal.stage_id = target.id
    deal.stage_entered_at = at
    deal.last_activity_at = at
    deal.current_entry_id = entry.id
    deal.rank = rank if rank is not None else _top_rank(session, target.id)
    _flush(session, deal)
    notes = [n for n in (note, "" if run_robots else f"the robots of “{target.name}” were not run") if n]
    extra = {} if run_robots else {"run_robots": False}
    timeline(session, deal.id, "stage_changed",
             f"Moved from “{source.name if source else '?'}” to “{target.name}”"
             + (f" ({'; '.join(notes)})" if notes else ""), actor,
             from_stage_id=from_stage_id, to_stage_id=target.id, cause=list(cause), **extra)
    session.flush()
    bus.publish(session, DealMoved(deal.id, from_stage_id, target.id, entry.id, previous_entry_id, actor,
                                   tuple(cause), run_robots=run_robots))
    record_event(session, "deal.stage_changed", entity_type="deal", entity_id=deal.id, deal_id=deal.id,
                 pipeline_id=deal.pipeline_id, actor=actor, changed=["stage_id"],
                 old={"stage_id": from_stage_id}, new={"stage_id": target.id},
                 data={"to": target.id, "from": from_stage_id, **extra}, cause=cause)
    _status_on_entry(session, deal, source, target, actor, cause)
    return MoveResult(deal, moved=True, entry=entry)


def _status_on_entry(session: Session, deal: Deal, source: Stage | None, target: Stage, actor: Actor,
                     cause: tuple[dict[str, Any], ...]) -> None:
    """Entering a won/lost stage sets that status; leaving one for an open stage reopens the deal."""
    if target.kind in ("won", "lost"):
        apply_status(session, deal, target.kind, actor, cause=cause)
    elif source is not None and source.kind in ("won", "lost") and deal.status == source.kind:
        apply_status(session, deal, "open", actor, cause=cause)


_STATUS_TEXT = {"won": "Marked won", "lost": "Marked lost", "open": "Reopened"}


def apply_status(session: Session, deal: Deal, status: str, actor: Actor, *, reason: str | None = None,
                 cause: tuple[dict[str, Any], ...] = ()) -> bool:
    """Set open|won|lost (closed_at, lost_reason) with a timeline row and deal.status_changed; False if same."""
    reason = reason if status == "lost" else None
    if deal.status == status and deal.lost_reason == reason:
        return False
    old_status, old_reason, at = deal.status, deal.lost_reason, clock.now()
    deal.status, deal.lost_reason = status, reason
    deal.closed_at = None if status == "open" else at
    deal.updated_at = at
    _flush(session, deal)
    text = _STATUS_TEXT[status] + (f": {reason}" if reason else "")
    timeline(session, deal.id, "status_changed", text, actor, from_status=old_status, to_status=status,
             reason=reason, cause=list(cause))
    session.flush()
    record_event(session, "deal.status_changed", entity_type="deal", entity_id=deal.id, deal_id=deal.id,
                 pipeline_id=deal.pipeline_id, actor=actor, changed=["status", "lost_reason"],
                 old={"status": old_status, "lost_reason": old_reason}, new={"status": status, "lost_reason": reason},
                 data={"to": status, "from": old_status, "reason": reason}, cause=cause)
    live.publish_board_changed(session, deal.pipeline_id, [deal.stage_id], deal.id)
    live.publish_deal_changed(session, deal.id)
    return True


def touch_deal(session: Session, deal: Deal, at: datetime | None = None) -> None:
    """A note or activity on the deal: its last activity time restarts rotting (no new version of the deal)."""
    at = at or clock.now()
    session.execute(update(Deal).where(Deal.id == deal.id).values(last_activity_at=at)
                    .execution_options(synchronize_session=False))
    set_committed_value(deal, "last_activity_at", at)


def delete_deal(session: Session, deal_id: int, *, actor: Actor) -> None:
    """Delete a deal and what hangs off it (entries, timeline, notes, activities, runs); deal.deleted keeps the
    old values."""
    deal = get_deal(session, deal_id, for_update=True)
    policy.authorize(session, actor, "delete", deal)
    old = {**deal_snapshot(deal), "status": deal.status, "person_id": deal.person_id,
           "organization_id": deal.organization_id}
    pipeline_id, stage_id = deal.pipeline_id, deal.stage_id
    # The deal points at its current entry, which the cascade deletes: unlink first.
    session.execute(update(Deal).where(Deal.id == deal.id).values(current_entry_id=None)
                    .execution_options(synchronize_session=False))
    set_committed_value(deal, "current_entry_id", None)
    session.delete(deal)
    session.flush()
    bus.publish(session, DealDeleted(deal_id, pipeline_id, stage_id, actor))
    record_event(session, "deal.deleted", entity_type="deal", entity_id=deal_id, deal_id=deal_id,
                 pipeline_id=pipeline_id, actor=actor, old=old)


def _flush(session: Session, deal: Deal) -> None:
    try:
        session.flush()
    except StaleDataError as exc:
        raise ConflictError(_("the deal was changed by someone else")) from exc


def update_deal(
    session: Session,
    deal_id: int,
    changes: dict[str, Any],
    *,
    actor: Actor,
    expected_version: int | None = None,
    cause: tuple[dict[str, Any], ...] = (),
) -> Deal:
    """Change a deal's fields; `fields` merges (null removes a key); stage changes go through move."""
    deal = get_deal(session, deal_id, for_update=True)
    policy.authorize(session, actor, "edit", deal)
    if expected_version is not None and expected_version != deal.version:
        raise ConflictError(_("the deal was changed by someone else"), current=deal,
                            current_version=deal.version)
    unknown = set(changes) - {*CORE_FIELDS, *LINK_FIELDS, "fields", "tags", "contact"}
    if unknown:
        raise ValidationError(_("unknown fields"), {k: "unknown field" for k in sorted(unknown)})
    errors = _validate_core(session, changes)
    check_links(session, changes, errors)
    if "title" in changes and "title" not in errors and changes["title"] is None:
        errors["title"] = _("title is required")
    new_contact = contact_values(changes.get("contact"), errors) if changes.get("contact") else None
    tags = clean_tags(changes["tags"]) if "tags" in changes else None
    if errors:
        raise ValidationError(_("invalid deal"), errors)
    diff: dict[str, tuple[Any, Any]] = {}
    if "contact" in changes:
        diff.update(apply_contact(session, deal, new_contact, actor))
    for name in (*CORE_FIELDS, *LINK_FIELDS):
        if name in changes:
            value = changes[name].strip() if name == "title" else changes[name]
            value = value.upper() if name == "currency" else value
            if getattr(deal, name) != value:
                diff[name] = (getattr(deal, name), value)
                setattr(deal, name, value)
    if "fields" in changes:
        merged = dict(deal.fields or {})
        for key, value in changes["fields"].items():
            old = merged.get(key)
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
            if old != value:
                diff[f"fields.{key}"] = (old, value)
        deal.fields = merged
    if tags is not None and tags != list(deal.tags or []):
        diff["tags"] = (list(deal.tags or []), tags)
        _set_tags(session, deal, tags)
    if not diff:
        return deal
    deal.updated_at = clock.now()
    _flush(session, deal)
    shown = ", ".join(sorted(diff))
    timeline(session, deal.id, "updated", f"Changed {shown}", actor,
             changes={k: [_plain(v[0]), _plain(v[1])] for k, v in diff.items()})
    session.flush()
    bus.publish(session, DealFieldsChanged(deal.id, diff, actor, tuple(cause)))
    _record_update_events(session, deal, diff, actor, cause)
    return deal


def _record_update_events(session: Session, deal: Deal, diff: dict[str, tuple[Any, Any]], actor: Actor,
                          cause: tuple[dict[str, Any], ...]) -> None:
    """deal.updated for any change, plus deal.assigned / deal.unassigned when the responsible changed."""
    common = {"entity_type": "deal", "entity_id": deal.id, "deal_id": deal.id, "pipeline_id": deal.pipeline_id,
              "actor": actor, "cause": cause}
    record_event(session, "deal.updated", changed=sorted(diff), old={k: v[0] for k, v in diff.items()},
                 new={k: v[1] for k, v in diff.items()}, **common)
    if "responsible_id" in diff:
        old, new = diff["responsible_id"]
        kind = "deal.assigned" if new is not None else "deal.unassigned"
        record_event(session, kind, changed=["responsible_id"], old={"responsible_id": old},
                     new={"responsible_id": new}, data={"to": new, "from": old}, **common)


def deal_snapshot(deal: Deal) -> dict[str, Any]:
    """The plain values of a deal an event carries."""
    return {"title": deal.title, "amount": deal.amount, "currency": deal.currency, "stage_id": deal.stage_id,
            "pipeline_id": deal.pipeline_id, "responsible_id": deal.responsible_id,
            "fields": dict(deal.fields or {}), "tags": list(deal.tags or [])}


def _status_of(stage: Stage) -> str:
    """Stages of kind won / lost set the deal's status when it enters them."""
    return stage.kind if stage.kind in ("won", "lost") else "open"


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None), list, dict)) else str(value)


def reorder_deal(session: Session, deal_id: int, *, before_id: int | None, after_id: int | None,
                 actor: Actor, expected_version: int | None = None) -> Deal:
    """Place a deal between two neighbours of its column (ids of the cards above and below)."""
    deal = get_deal(session, deal_id, for_update=True)
    policy.authorize(session, actor, "move", deal)
    if expected_version is not None and expected_version != deal.version:
        raise ConflictError(_("the deal was changed by someone else"), current=deal)
    deal.rank = rank_between(session, deal.stage_id, before_id, after_id)
    _flush(session, deal)
    return deal


def rank_between(session: Session, stage_id: int, above_id: int | None, below_id: int | None) -> float:
    """A rank that sorts between the cards above and below (either may be absent)."""
    def rank_of(did: int | None) -> float | None:
        if did is None:
            return None
        return session.scalar(select(Deal.rank).where(Deal.id == did, Deal.stage_id == stage_id))

    above, below = rank_of(above_id), rank_of(below_id)
    if above is not None and below is not None:
        return (above + below) / 2
    if above is not None:
        return above + 1.0
    if below is not None:
        return below - 1.0
    return _top_rank(session, stage_id)
