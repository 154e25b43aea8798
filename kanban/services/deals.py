"""Deal use cases: create, update, move (with the loop guard), reorder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

import kanban.stage_totals  # noqa: F401 - its session hooks keep stage_totals in step with every deal write
from kanban import clock, policy
from kanban.errors import ConflictError, NotFoundError, ValidationError
from kanban.events import Actor, DealDeleted, DealFieldsChanged, DealMoved, bus
from kanban.models import Contact, Deal, DealTag, Stage, StageEntry, TimelineEntry, User

MAX_CAUSE_DEPTH = 8
MAX_AUTO_MOVES = 10
AUTO_MOVE_WINDOW = timedelta(minutes=5)
CORE_FIELDS = ("title", "amount", "currency", "responsible_id")


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
        raise NotFoundError(f"deal {deal_id} not found")
    return deal


def _stage(session: Session, stage_id: int) -> Stage:
    stage = session.get(Stage, stage_id)
    if stage is None or stage.archived:
        raise ValidationError("unknown stage", {"stage_id": f"stage {stage_id} does not exist"})
    return stage


def _top_rank(session: Session, stage_id: int) -> float:
    lowest = session.scalar(select(func.min(Deal.rank)).where(Deal.stage_id == stage_id))
    return (lowest if lowest is not None else 0.0) - 1.0


def clean_tags(tags: Any) -> list[str]:
    """Normalise a tag list (strings, trimmed, unique, order kept) or raise ValidationError."""
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValidationError("tags must be a list of strings", {"tags": "must be a list of strings"})
    out: list[str] = []
    for tag in (t.strip() for t in tags):
        if len(tag) > 100:
            raise ValidationError("tag too long", {"tags": "each tag is at most 100 characters"})
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
            errors["title"] = "title is required"
        elif len(title) > 300:
            errors["title"] = "title is at most 300 characters"
    if "amount" in values:
        amount = values["amount"]
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            errors["amount"] = "amount is a non-negative integer in minor units"
        elif amount > 10**15:
            errors["amount"] = "amount is too large"
    if "currency" in values:
        cur = values["currency"]
        if not isinstance(cur, str) or len(cur) != 3 or not cur.isalpha():
            errors["currency"] = "currency is a 3-letter ISO code"
    if values.get("responsible_id") is not None:
        rid = values["responsible_id"]
        user = session.get(User, rid) if isinstance(rid, int) and not isinstance(rid, bool) else None
        if user is None or user.role == "system":
            errors["responsible_id"] = "unknown user"
        elif not user.active:
            errors["responsible_id"] = "user is inactive"
    if "fields" in values and not isinstance(values["fields"], dict):
        errors["fields"] = "fields must be an object"
    return errors


def _contact(session: Session, data: Any, errors: dict[str, str]) -> Contact | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        errors["contact"] = "contact must be an object with name, email, phone"
        return None
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        errors["contact.name"] = "contact name is required"
        return None
    if len(name.strip()) > 200:
        errors["contact.name"] = "contact name is at most 200 characters"
    company = data.get("company") or None
    if company is not None and (not isinstance(company, str) or len(company) > 200):
        errors["contact.company"] = "company is text of at most 200 characters"
    email = data.get("email") or None
    if email is not None and (not isinstance(email, str) or "@" not in email or len(email) > 320):
        errors["contact.email"] = "not a valid email address"
    phone = data.get("phone") or None
    if phone is not None and (not isinstance(phone, str) or len(phone) > 40):
        errors["contact.phone"] = "not a valid phone number"
    return Contact(name=name.strip(), email=email, phone=phone, company=company)


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
) -> Deal:
    """Create a deal in a stage (default: the pipeline's first); entering it starts its robots.

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
            errors["pipeline_id"] = "unknown pipeline, or it has no stages"
    else:
        stage = session.get(Stage, stage_id)
        if stage is None or stage.archived or stage.pipeline_id != pipeline_id:
            errors["stage_id"] = "stage is not in this pipeline"
    clean = clean_tags(tags or [])
    contact_row = _contact(session, contact, errors)
    if errors:
        raise ValidationError("invalid deal", errors)
    assert stage is not None
    if user is not None:
        policy.require(session, user, "create", Deal(pipeline_id=pipeline_id, responsible_id=responsible_id))
    if contact_row is not None:
        session.add(contact_row)
        session.flush()
    at = clock.now()
    deal = Deal(
        pipeline_id=pipeline_id,
        stage_id=stage.id,
        title=title.strip(),
        amount=amount,
        currency=currency.upper(),
        responsible_id=responsible_id,
        contact_id=contact_row.id if contact_row else None,
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
    bus.publish(session, DealMoved(deal.id, None, stage.id, entry.id, None, actor, (), created=True))
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
) -> MoveResult:
    """Move a deal to a stage of its pipeline in the caller's transaction."""
    deal = get_deal(session, deal_id, for_update=True)
    policy.authorize(session, actor, "move", deal)
    if expected_version is not None and expected_version != deal.version:
        raise ConflictError(
            "the deal was changed by someone else", current=deal, current_version=deal.version
        )
    target = _stage(session, stage_id)
    if target.pipeline_id != deal.pipeline_id:
        raise ValidationError("stage belongs to another pipeline", {"stage_id": "not in the deal's pipeline"})
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
    deal.current_entry_id = entry.id
    deal.rank = rank if rank is not None else _top_rank(session, target.id)
    _flush(session, deal)
    timeline(session, deal.id, "stage_changed",
             f"Moved from “{source.name if source else '?'}” to “{target.name}”", actor,
             from_stage_id=from_stage_id, to_stage_id=target.id, cause=list(cause))
    session.flush()
    bus.publish(session, DealMoved(deal.id, from_stage_id, target.id, entry.id, previous_entry_id, actor,
                                   tuple(cause)))
    return MoveResult(deal, moved=True, entry=entry)


def _flush(session: Session, deal: Deal) -> None:
    try:
        session.flush()
    except StaleDataError as exc:
        raise ConflictError("the deal was changed by someone else") from exc


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
        raise ConflictError("the deal was changed by someone else", current=deal,
                            current_version=deal.version)
    unknown = set(changes) - {*CORE_FIELDS, "fields", "tags", "contact"}
    if unknown:
        raise ValidationError("unknown fields", {k: "unknown field" for k in sorted(unknown)})
    errors = _validate_core(session, changes)
    if "title" in changes and "title" not in errors and changes["title"] is None:
        errors["title"] = "title is required"
    new_contact = _contact(session, changes.get("contact"), errors) if changes.get("contact") else None
    tags = clean_tags(changes["tags"]) if "tags" in changes else None
    if errors:
        raise ValidationError("invalid deal", errors)
    diff: dict[str, tuple[Any, Any]] = {}
    for name in CORE_FIELDS:
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
    if "contact" in changes:
        diff.update(_apply_contact(session, deal, new_contact))
    if not diff:
        return deal
    deal.updated_at = clock.now()
    _flush(session, deal)
    shown = ", ".join(sorted(diff))
    timeline(session, deal.id, "updated", f"Changed {shown}", actor,
             changes={k: [_plain(v[0]), _plain(v[1])] for k, v in diff.items()})
    session.flush()
    bus.publish(session, DealFieldsChanged(deal.id, diff, actor, tuple(cause)))
    return deal


def _apply_contact(session: Session, deal: Deal, new: Contact | None) -> dict[str, tuple[Any, Any]]:
    old = session.get(Contact, deal.contact_id) if deal.contact_id else None
    old_view = contact_view(old)
    if new is None:
        deal.contact_id = None
        return {"contact": (old_view, None)} if old else {}
    if old is not None:
        old.name, old.email, old.phone, old.company = new.name, new.email, new.phone, new.company
        return {"contact": (old_view, contact_view(old))} if old_view != contact_view(old) else {}
    session.add(new)
    session.flush()
    deal.contact_id = new.id
    return {"contact": (None, contact_view(new))}


def delete_deal(session: Session, deal_id: int, *, actor: Actor) -> None:
    """Delete a deal with its history (runs, entries, timeline); linked records keep a null deal_id."""
    deal = get_deal(session, deal_id, for_update=True)
    policy.authorize(session, actor, "delete", deal)
    pipeline_id, stage_id = deal.pipeline_id, deal.stage_id
    session.delete(deal)
    session.flush()
    bus.publish(session, DealDeleted(deal_id, pipeline_id, stage_id, actor))


def contact_view(contact: Contact | None) -> dict[str, Any] | None:
    """A contact as plain JSON."""
    if contact is None:
        return None
    return {"id": contact.id, "name": contact.name, "email": contact.email, "phone": contact.phone}


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None), list, dict)) else str(value)


def reorder_deal(session: Session, deal_id: int, *, before_id: int | None, after_id: int | None,
                 actor: Actor, expected_version: int | None = None) -> Deal:
    """Place a deal between two neighbours of its column (ids of the cards above and below)."""
    deal = get_deal(session, deal_id, for_update=True)
    policy.authorize(session, actor, "move", deal)
    if expected_version is not None and expected_version != deal.version:
        raise ConflictError("the deal was changed by someone else", current=deal)
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
