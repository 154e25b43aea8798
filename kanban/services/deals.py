"""Deal use cases: create, update, move (with the loop guard), reorder, status, delete."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.orm import Session, SessionTransaction, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from kanban import clock, live, policy, stage_totals  # stage_totals' session hooks follow every ORM deal write
from kanban.domain_events import record_event
from kanban.errors import ConflictError, NotFoundError, ValidationError
from kanban.events import Actor, DealDeleted, DealFieldsChanged, DealMoved, DealsMoved, bus
from kanban.i18n import _
from kanban.models import Deal, DealTag, Person, Stage, StageEntry, TimelineEntry, User
from kanban.pricing import check_currency
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


_LOCKED = "locked_deals"
_HELD = "held_stages"  # stages a move loaded, kept alive until the transaction ends


def _innermost(session: Session) -> SessionTransaction | None:
    return session.get_nested_transaction() or session.get_transaction()


def _holds_lock(session: Session, deal_id: int) -> bool:
    """True when this transaction (or a savepoint still open around the current one) locked the deal."""
    locked_in = session.info.get(_LOCKED, {}).get(deal_id)
    tx = _innermost(session)
    while tx is not None:
        if tx is locked_in:
            return True
        tx = tx.parent
    return False


def get_deal(session: Session, deal_id: int, *, for_update: bool = False) -> Deal:
    """Load a deal or raise NotFoundError.

    for_update locks its row (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers). A deal this
    transaction has already locked is taken from the session without another round trip (the endpoint's access
    check and the service share one SELECT … FOR UPDATE).
    """
    if _holds_lock(session, deal_id):
        deal = session.get(Deal, deal_id)
        if deal is None:
            raise NotFoundError(_("deal %(deal_id)s not found", deal_id=deal_id))
        return deal
    stmt = select(Deal).where(Deal.id == deal_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    deal = session.scalars(stmt).one_or_none()
    if deal is None:
        raise NotFoundError(_("deal %(deal_id)s not found", deal_id=deal_id))
    if for_update:
        session.info.setdefault(_LOCKED, {})[deal_id] = _innermost(session)
    return deal


@event.listens_for(Session, "after_commit")
def _forget_locks(session: Session) -> None:
    session.info.pop(_LOCKED, None)
    session.info.pop(_HELD, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_locks_on_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_LOCKED, None)  # a rolled-back savepoint's entries fail _holds_lock by themselves
        session.info.pop(_HELD, None)


def _stage(session: Session, stage_id: int) -> Stage:
    stage = session.get(Stage, stage_id)
    if stage is None or stage.archived:
        raise ValidationError(_("unknown stage"), {"stage_id": _("stage %(stage_id)s does not exist",
                                                                  stage_id=stage_id)})
    return stage


def _stages(session: Session, *stage_ids: int | None) -> dict[int, Stage]:
    """Several stages by id in one query (those already in the session cost nothing)."""
    wanted = {i for i in stage_ids if i is not None}
    found: dict[int, Stage] = {}
    for stage_id in wanted:
        stage = session.identity_map.get(Session.identity_key(Stage, stage_id))
        if stage is not None:
            found[stage_id] = stage
    missing = wanted - set(found)
    if missing:
        found.update((s.id, s) for s in session.scalars(select(Stage).where(Stage.id.in_(sorted(missing)))))
    # The identity map holds objects weakly: keep these until the transaction ends, so the reply (deal view,
    # re-rendered columns) finds them without reading them again.
    session.info.setdefault(_HELD, {}).update(found)
    return found


def _top_rank_expr(stage_id: int) -> Any:
    """The rank that puts a deal on top of a column, as a SQL expression evaluated inside the deal's UPDATE."""
    return func.coalesce(select(func.min(Deal.rank)).where(Deal.stage_id == stage_id).scalar_subquery(), 0.0) - 1.0


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
        try:
            check_currency(values["currency"])
        except ValidationError as exc:
            errors.update(exc.fields)
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
    timeline(session, deal.id, "created", _("Deal created in “%(stage)s”", stage=stage.name), actor, stage_id=stage.id)
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
    stages = _stages(session, stage_id, deal.stage_id)
    target = stages.get(stage_id)
    if target is None or target.archived:
        raise ValidationError(_("unknown stage"),
                              {"stage_id": _("stage %(stage_id)s does not exist", stage_id=stage_id)})
    if target.pipeline_id != deal.pipeline_id:
        raise ValidationError(_("stage belongs to another pipeline"), {"stage_id": _("not in the deal's pipeline")})
    if target.id == deal.stage_id:
        if rank is not None:
            deal.rank = rank
            _flush(session, deal)
        return MoveResult(deal, moved=False)
    blocked = _loop_check(session, deal, actor, cause)
    source = stages.get(deal.stage_id)
    if blocked:
        timeline(session, deal.id, "loop_blocked",
                 _("Move to “%(stage)s” refused: %(why)s", stage=target.name, why=blocked), actor,
                 to_stage_id=target.id, cause=list(cause))
        session.flush()
        return MoveResult(deal, moved=False, blocked=blocked)
    at = clock.now()
    previous_entry_id = deal.current_entry_id
    from_stage_id = deal.stage_id
    _flush(session, deal)  # the caller's pending changes first: they may bump the version checked below
    if previous_entry_id is not None:
        # One UPDATE, no SELECT of the entry first (a loaded copy is kept in step). Statements on the tables,
        # not the mapped classes, skip the ORM's bulk-statement machinery: this is the hot path.
        entries = StageEntry.__table__
        session.execute(update(entries).where(entries.c.id == previous_entry_id).values(left_at=at))
        loaded = session.identity_map.get(Session.identity_key(StageEntry, previous_entry_id))
        if loaded is not None:
            set_committed_value(loaded, "left_at", at)
    entry = _insert_entry(session, deal.id, target.id, from_stage_id, at, actor, cause)
    _write_move(session, deal, target.id, entry.id, at, rank)
    skipped = "" if run_robots else _("the robots of “%(stage)s” were not run", stage=target.name)
    notes = [n for n in (note, skipped) if n]
    extra = {} if run_robots else {"run_robots": False}
    text = (_("Moved from “%(source)s” to “%(target)s”", source=source.name if source else "?", target=target.name)
            + (f" ({'; '.join(notes)})" if notes else ""))
    # Core INSERT: nothing reads this row back in the move (the ORM's unit of work would cost more than the SQL).
    session.execute(insert(TimelineEntry.__table__).values(
        deal_id=deal.id, kind="stage_changed", at=at, text=text, actor_type=actor.type, actor_id=actor.id,
        data={"from_stage_id": from_stage_id, "to_stage_id": target.id, "cause": list(cause), **extra}))
    bus.publish(session, DealMoved(deal.id, from_stage_id, target.id, entry.id, previous_entry_id, actor,
                                   tuple(cause), run_robots=run_robots))
    record_event(session, "deal.stage_changed", entity_type="deal", entity_id=deal.id, deal_id=deal.id,
                 pipeline_id=deal.pipeline_id, actor=actor, changed=["stage_id"],
                 old={"stage_id": from_stage_id}, new={"stage_id": target.id},
                 data={"to": target.id, "from": from_stage_id, **extra}, cause=cause)
    _status_on_entry(session, deal, source, target, actor, cause)
    return MoveResult(deal, moved=True, entry=entry)


def _insert_entry(session: Session, deal_id: int, stage_id: int, from_stage_id: int | None, at: datetime,
                  actor: Actor, cause: tuple[dict[str, Any], ...]) -> StageEntry:
    """INSERT … RETURNING id of the new stage entry, added to the session as a loaded row (no flush, no reload)."""
    values = {"deal_id": deal_id, "stage_id": stage_id, "from_stage_id": from_stage_id, "entered_at": at,
              "left_at": None, "actor_type": actor.type, "actor_id": actor.id, "cause": list(cause)}
    table = StageEntry.__table__
    entry_id = session.execute(insert(table).values(**values).returning(table.c.id)).scalar_one()
    entry = StageEntry(id=entry_id, **values)
    make_transient_to_detached(entry)
    session.add(entry)
    return entry


def _write_move(session: Session, deal: Deal, stage_id: int, entry_id: int, at: datetime,
                rank: float | None) -> None:
    """The deal's one UPDATE of a move, with the version check (0 rows: someone else changed it → 409), the top
    rank computed in it, RETURNING that rank; the loaded deal is brought in step and the stage totals' delta
    recorded (the ORM's flush hook does not see Core statements)."""
    old_stage, version = deal.stage_id, deal.version
    values = {"stage_id": stage_id, "stage_entered_at": at, "last_activity_at": at, "current_entry_id": entry_id,
              "rank": rank if rank is not None else _top_rank_expr(stage_id), "version": version + 1,
              "updated_at": at}
    table = Deal.__table__
    row = session.execute(update(table).where(table.c.id == deal.id, table.c.version == version).values(**values)
                          .returning(table.c.rank)).first()
    if row is None:
        raise ConflictError(_("the deal was changed by someone else"))
    values["rank"] = row[0]
    for name, value in values.items():
        set_committed_value(deal, name, value)
    stage_totals.record_stage_change(session, deal.id, deal.currency, deal.amount, old_stage, stage_id)
BULK_MAX = 1000  # deals one bulk move may name
BULK_CHUNK = 100  # deals moved per transaction: row locks are held for one chunk, not for the whole bulk move
BULK_RESULTS = ("moved", "unchanged", "conflict", "forbidden", "not_found", "invalid", "blocked")


@dataclass
class BulkItem:
    """What a bulk move did to one deal: one of BULK_RESULTS, the deal's version after it, and why."""

    deal_id: int
    result: str
    version: int | None = None
    detail: str | None = None
    from_stage_id: int | None = None  # the stage the deal was in (None: not found)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"deal_id": self.deal_id, "result": self.result}
        if self.from_stage_id is not None:
            out["from_stage_id"] = self.from_stage_id
        if self.version is not None:
            out["version"] = self.version
        if self.detail is not None:
            out["detail"] = self.detail
        return out


def bulk_chunks(deal_ids: list[int]) -> list[list[int]]:
    """The distinct ids in order, cut into chunks of BULK_CHUNK (one transaction each); ValidationError when
    there are none or more than BULK_MAX."""
    ids = list(dict.fromkeys(deal_ids))
    if not ids:
        raise ValidationError(_("choose at least one deal"), {"deal_ids": _("choose at least one deal")})
    if len(ids) > BULK_MAX:
        raise ValidationError(_("at most %(max)s deals at once", max=BULK_MAX),
                              {"deal_ids": _("at most %(max)s deals at once (got %(got)s)", max=BULK_MAX,
                                             got=len(ids))})
    return [ids[i:i + BULK_CHUNK] for i in range(0, len(ids), BULK_CHUNK)]


def bulk_move_chunk(session: Session, deal_ids: list[int], stage_id: int, *, actor: Actor,
                    versions: dict[int, int] | None = None) -> list[BulkItem]:
    """Move up to BULK_CHUNK deals to a stage in the caller's transaction, each with a single move's guarantees.

    Every deal is checked by the access policy (unreadable: not_found; readable but not movable: forbidden)
    and, when `versions` names it, against its version (conflict); deals of another pipeline are invalid and
    deals already there unchanged. The moved ones get a stage entry, a timeline row and a domain event each,
    like move_deal, but set-wise: the deals are read and locked in one statement (id order, so two bulk moves
    cannot deadlock), their previous entries closed in one, the new entries and timeline rows inserted in
    one each, the deals written in one flush; the stage's robots are scheduled in this transaction through
    one DealsMoved event (their runs yield to single moves), live notices and messages go after commit.
    """
    target = _stage(session, stage_id)
    versions = versions or {}
    user = policy.acting_user(session, actor)
    stmt = select(Deal).where(Deal.id.in_(deal_ids)).order_by(Deal.id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    found = {deal.id: deal for deal in session.scalars(stmt)}
    items: dict[int, BulkItem] = {}
    moving: list[Deal] = []
    for deal_id in deal_ids:
        deal = found.get(deal_id)
        if deal is None or (user is not None and not policy.can(session, user, "read", deal)):
            items[deal_id] = BulkItem(deal_id, "not_found")
        elif user is not None and not policy.can(session, user, "move", deal):
            items[deal_id] = BulkItem(deal_id, "forbidden", detail=_("your role may not move this deal"))
        elif deal.pipeline_id != target.pipeline_id:
            items[deal_id] = BulkItem(deal_id, "invalid", deal.version, _("the stage belongs to another pipeline"))
        elif versions.get(deal_id) is not None and versions[deal_id] != deal.version:
            items[deal_id] = BulkItem(deal_id, "conflict", deal.version, _("the deal was changed by someone else"))
        elif deal.stage_id == target.id:
            items[deal_id] = BulkItem(deal_id, "unchanged", deal.version)
        elif (blocked := _loop_check(session, deal, actor, ())) is not None:
            items[deal_id] = BulkItem(deal_id, "blocked", deal.version, blocked)
        else:
            moving.append(deal)
    before = {deal.id: deal.stage_id for deal in moving}
    if moving:
        _bulk_write(session, moving, target, actor)
        for deal in moving:
            items[deal.id] = BulkItem(deal.id, "moved", deal.version)
    for deal_id, item in items.items():
        if deal_id in found and item.result != "not_found":
            item.from_stage_id = before.get(deal_id, found[deal_id].stage_id)
    return [items[deal_id] for deal_id in deal_ids]


def _bulk_write(session: Session, moving: list[Deal], target: Stage, actor: Actor) -> None:
    """The writes of bulk_move_chunk for the deals that move (locked, allowed, all in target's pipeline)."""
    at = clock.now()
    sources = {s.id: s for s in session.scalars(select(Stage).where(Stage.id.in_({d.stage_id for d in moving})))}
    previous = {deal.id: deal.current_entry_id for deal in moving}
    closing = [entry_id for entry_id in previous.values() if entry_id is not None]
    if closing:
        session.execute(update(StageEntry).where(StageEntry.id.in_(closing)).values(left_at=at)
                        .execution_options(synchronize_session=False))
    entries: dict[int, int] = {deal_id: entry_id for deal_id, entry_id in session.execute(
        insert(StageEntry).returning(StageEntry.deal_id, StageEntry.id),
        [{"deal_id": d.id, "stage_id": target.id, "from_stage_id": d.stage_id, "entered_at": at,
          "actor_type": actor.type, "actor_id": actor.id, "cause": []} for d in moving],
    )}
    # The first deal named ends on top of the column, the others below it in the order given.
    top = _top_rank(session, target.id)
    from_stage = {deal.id: deal.stage_id for deal in moving}
    for index, deal in enumerate(moving):
        deal.stage_id = target.id
        deal.stage_entered_at = at
        deal.last_activity_at = at
        deal.current_entry_id = entries[deal.id]
        deal.rank = top - (len(moving) - 1 - index)
    _flush(session, deal)  # one flush: version check and bump per deal, stage totals kept in step
    session.execute(insert(TimelineEntry), [
        {"deal_id": d.id, "kind": "stage_changed", "at": at, "actor_type": actor.type, "actor_id": actor.id,
         "text": _("Moved from “%(source)s” to “%(target)s” (bulk move)", source=_name(sources.get(from_stage[d.id])),
                   target=target.name),
         "data": {"from_stage_id": from_stage[d.id], "to_stage_id": target.id, "cause": [], "bulk": True}}
        for d in moving
    ])
    bus.publish(session, DealsMoved(tuple(
        DealMoved(d.id, from_stage[d.id], target.id, entries[d.id], previous[d.id], actor) for d in moving)))
    for deal in moving:
        record_event(session, "deal.stage_changed", entity_type="deal", entity_id=deal.id, deal_id=deal.id,
                     pipeline_id=deal.pipeline_id, actor=actor, changed=["stage_id"],
                     old={"stage_id": from_stage[deal.id]}, new={"stage_id": target.id},
                     data={"to": target.id, "from": from_stage[deal.id], "bulk": True})
        _status_on_entry(session, deal, sources.get(from_stage[deal.id]), target, actor, ())


def _name(stage: Stage | None) -> str:
    return stage.name if stage is not None else "?"


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


def delete_deal(session: Session, deal_id: int, *, actor: Actor, cause: tuple[dict[str, Any], ...] = ()) -> None:
    """Delete a deal and what hangs off it (entries, timeline, notes, activities, runs); deal.deleted keeps the
    old values (the snapshot its automations act on)."""
    deal = get_deal(session, deal_id, for_update=True)
    policy.authorize(session, actor, "delete", deal)
    old = {**deal_snapshot(deal), "status": deal.status, "person_id": deal.person_id,
           "organization_id": deal.organization_id, "created_at": deal.created_at}
    pipeline_id, stage_id = deal.pipeline_id, deal.stage_id
    # The deal points at its current entry, which the cascade deletes: unlink first.
    session.execute(update(Deal).where(Deal.id == deal.id).values(current_entry_id=None)
                    .execution_options(synchronize_session=False))
    set_committed_value(deal, "current_entry_id", None)
    session.delete(deal)
    session.flush()
    bus.publish(session, DealDeleted(deal_id, pipeline_id, stage_id, actor))
    record_event(session, "deal.deleted", entity_type="deal", entity_id=deal_id, deal_id=deal_id,
                 pipeline_id=pipeline_id, actor=actor, old=old, cause=cause)


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
    timeline(session, deal.id, "updated", _("Changed %(fields)s", fields=shown), actor,
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
