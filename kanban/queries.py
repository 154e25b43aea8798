"""Read queries for the board and the deal page: filtered columns, SQL aggregates, keyset pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from kanban import clock, policy, stage_totals, timezones
from kanban.crm_models import Activity
from kanban.models import Deal, DealTag, Organization, Person, Pipeline, Stage, TimelineEntry, User

STATUSES = ("open", "won", "lost")
ACTIVITY_FILTERS = ("overdue", "due_today", "no_next_activity")


@dataclass(frozen=True)
class BoardFilters:
    """The board's URL filters: responsible, tag, free-text search, status, next-activity state and "mine"."""

    responsible_id: int | None = None
    tag: str | None = None
    q: str | None = None
    status: str | None = None  # open | won | lost
    activity: str | None = None  # overdue | due_today | no_next_activity
    mine_id: int | None = None  # deals this user is responsible for or has an open activity on

    @property
    def active(self) -> bool:
        """Whether any filter is set (unfiltered boards read the kept stage totals)."""
        return bool(self.params())

    def params(self) -> dict[str, str]:
        """The non-empty filters as query parameters."""
        out: dict[str, str] = {}
        if self.responsible_id is not None:
            out["responsible_id"] = str(self.responsible_id)
        for name in ("tag", "q", "status", "activity"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.mine_id is not None:
            out["mine"] = "1"
        return out


@dataclass
class Card:
    """What a board card shows."""

    id: int
    title: str
    amount: int
    currency: str
    stage_id: int
    rank: float
    version: int
    tags: list[str]
    stage_entered_at: datetime
    person_name: str | None
    responsible_name: str | None
    status: str = "open"
    last_activity_at: datetime | None = None
    organization_name: str | None = None
    responsible_id: int | None = None
    # Filled for a whole page at once by attach_card_extras (one query, no N+1).
    next_activity: dict[str, Any] | None = None
    rotting_days: int | None = None  # the stage's setting; None = never rots

    @property
    def rotting(self) -> bool:
        """Open, and no stage change, note or activity for longer than the stage allows."""
        return is_rotting(self.status, self.last_activity_at, self.rotting_days)

    @property
    def days_idle(self) -> int:
        """Whole days since the last stage change, note or activity."""
        return max(0, (clock.now() - (self.last_activity_at or self.stage_entered_at)).days)

    @property
    def days_in_stage(self) -> int:
        """Whole days since the deal entered its current stage."""
        return max(0, (clock.now() - self.stage_entered_at).days)


@dataclass
class Column:
    """One stage on the board: its first cards, the filtered count and the sums per currency."""

    stage: Stage
    count: int = 0
    sums: list[tuple[str, int]] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)
    more: bool = False
    converted: Any = None  # kanban.company.Converted: the sums in the company currency (None: nothing to convert)

    @property
    def weighted_sums(self) -> list[tuple[str, int]]:
        """Sum per currency × the stage's win probability (Pipedrive's weighted value), in minor units."""
        probability = self.stage.probability if self.stage.probability is not None else 100
        return [(currency, total * probability // 100) for currency, total in self.sums]

    @property
    def cursor(self) -> str | None:
        """Keyset cursor after the last shown card ("rank:id"), when there are more."""
        if not self.more or not self.cards:
            return None
        last = self.cards[-1]
        return f"{last.rank!r}:{last.id}"


def pipelines(session: Session, user: policy.Person | None = None) -> list[Pipeline]:
    """Pipelines in display order (those `user` may see, when given)."""
    stmt = select(Pipeline).order_by(Pipeline.position, Pipeline.id)
    if user is not None:
        stmt = stmt.where(Pipeline.id.not_in(sorted(policy.grant(session, user).hidden_pipelines)))
    return list(session.scalars(stmt))


def stages_of(session: Session, pipeline_id: int) -> list[Stage]:
    """The pipeline's live (non-archived) stages in order."""
    return list(session.scalars(
        select(Stage).where(Stage.pipeline_id == pipeline_id, Stage.archived.is_(False))
        .order_by(Stage.position, Stage.id)
    ))


def _conditions(session: Session, filters: BoardFilters,
                user: policy.Person | None = None) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if user is not None and not policy.grant(session, user).reads_everything:
        conds.append(policy.scope_clause(session, user, "read"))
    if filters.responsible_id is not None:
        conds.append(Deal.responsible_id == filters.responsible_id)
    if filters.tag:
        conds.append(Deal.id.in_(select(DealTag.deal_id).where(DealTag.tag == filters.tag)))
    if filters.q:
        conds.append(_text_search(session, filters.q))
    if filters.status in STATUSES:
        conds.append(Deal.status == filters.status)
    if filters.activity in ACTIVITY_FILTERS:
        conds.append(_activity_condition(filters.activity))
    if filters.mine_id is not None:
        assigned = select(Activity.deal_id).where(Activity.assignee_id == filters.mine_id, Activity.done.is_(False),
                                                  Activity.deal_id.is_not(None))
        conds.append(or_(Deal.responsible_id == filters.mine_id, Deal.id.in_(assigned)))
    return conds


def _activity_condition(kind: str | None) -> ColumnElement[bool]:
    """overdue / due today: an open activity due before / on today; no_next_activity: no open activity."""
    day = timezones.today()
    open_ = select(Activity.id).where(Activity.deal_id == Deal.id, Activity.done.is_(False))
    if kind == "overdue":
        return open_.where(Activity.due_date < day).exists()
    if kind == "due_today":
        return open_.where(Activity.due_date == day).exists()
    return ~open_.exists()


def is_rotting(status: str, last_activity_at: datetime | None, rotting_days: int | None) -> bool:
    """A deal rots when open and idle (no stage change, note or activity) for more than the stage's days."""
    if status != "open" or rotting_days is None or last_activity_at is None:
        return False
    return clock.now() - last_activity_at > timedelta(days=rotting_days)


def activity_view(activity: Activity, on: date | None = None) -> dict[str, Any]:
    """The short form a card or deal shows: id, type, subject, due_at, state."""
    on = on or timezones.today()
    return {"id": activity.id, "type": activity.type, "subject": activity.subject,
            "due_at": timezones.due_at(activity.due_date, activity.due_time),
            "state": timezones.activity_state(activity.due_date, activity.done, on)}


def next_activities(session: Session, deal_ids: list[int] | set[int]) -> dict[int, dict[str, Any]]:
    """Each deal's earliest open activity (by date, date-only first, then time), in ONE query."""
    if not deal_ids:
        return {}
    order = (Activity.due_date, Activity.due_time.is_not(None), Activity.due_time, Activity.id)
    ranked = (
        select(Activity.id, func.row_number().over(partition_by=Activity.deal_id, order_by=order).label("n"))
        .where(Activity.deal_id.in_(list(deal_ids)), Activity.done.is_(False))
        .subquery()
    )
    rows = session.scalars(select(Activity).join(ranked, ranked.c.id == Activity.id).where(ranked.c.n == 1))
    day = timezones.today()
    return {a.deal_id: activity_view(a, day) for a in rows if a.deal_id is not None}


def attach_card_extras(session: Session, cards_: list[Card], stages: list[Stage]) -> None:
    """Give a page of cards their next activity (one query for all) and their stage's rotting days."""
    rotting = {s.id: s.rotting_days for s in stages}
    nxt = next_activities(session, [c.id for c in cards_])
    for card in cards_:
        card.next_activity = nxt.get(card.id)
        card.rotting_days = rotting.get(card.stage_id)


def _text_search(session: Session, q: str) -> ColumnElement[bool]:
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    persons = select(Person.id).where(Person.name.ilike(pattern, escape="\\"))
    if session.get_bind().dialect.name == "postgresql":
        # `= ANY(ARRAY(subquery))` (not IN) lets PostgreSQL OR the title trigram index with the person_id
        # index in one bitmap scan instead of filtering every deal of the stage.
        matched = Deal.person_id == func.any(func.array(persons.scalar_subquery()))
        return or_(Deal.title.ilike(pattern, escape="\\"), matched)
    return or_(Deal.title.ilike(pattern, escape="\\"), Deal.person_id.in_(persons))


def aggregates(session: Session, stage_ids: list[int], filters: BoardFilters,
               user: policy.Person | None = None) -> dict[int, tuple[int, list]]:
    """Per stage: (deal count, [(currency, sum of amounts)]): kept totals unfiltered, else one GROUP BY.

    With a `user` whose read scope is narrower than everything, the GROUP BY counts only the deals they may
    read (the kept totals are global: they would reveal the others).
    """
    if not stage_ids:
        return {}
    if not filters.active and (user is None or policy.grant(session, user).reads_everything):
        # O(stages), not O(deals): what keeps the board time flat as the pipeline grows.
        return stage_totals.totals(session, stage_ids)
    # Filtering on stage_id (not pipeline_id) lets the (stage_id, currency, amount) index cover the scan.
    stmt = (
        select(Deal.stage_id, Deal.currency, func.count(), func.coalesce(func.sum(Deal.amount), 0))
        .where(Deal.stage_id.in_(stage_ids), *_conditions(session, filters, user))
        .group_by(Deal.stage_id, Deal.currency)
        .order_by(Deal.stage_id, Deal.currency)
    )
    out: dict[int, tuple[int, list[tuple[str, int]]]] = {}
    for stage_id, currency, count, total in session.execute(stmt):
        n, sums = out.get(stage_id, (0, []))
        sums.append((currency, int(total)))
        out[stage_id] = (n + int(count), sums)
    return out


def _card_query(session: Session, filters: BoardFilters, user: policy.Person | None) -> Any:
    responsible = aliased(User)
    return (
        select(Deal.id, Deal.title, Deal.amount, Deal.currency, Deal.stage_id, Deal.rank, Deal.version,
               Deal.tags, Deal.stage_entered_at, Person.name, responsible.name, Deal.status,
               Deal.last_activity_at, Organization.name, Deal.responsible_id)
        .outerjoin(Person, Person.id == Deal.person_id)
        .outerjoin(Organization, Organization.id == Deal.organization_id)
        .outerjoin(responsible, responsible.id == Deal.responsible_id)
        .where(*_conditions(session, filters, user))
    )


def parse_cursor(cursor: str | None) -> tuple[float, int] | None:
    """Decode a "rank:id" keyset cursor; None when absent or malformed."""
    if not cursor:
        return None
    rank, _, deal_id = cursor.rpartition(":")
    try:
        return float(rank), int(deal_id)
    except ValueError:
        return None


def cards(session: Session, stage: Stage, filters: BoardFilters, limit: int,
          after: tuple[float, int] | None = None, *, extras: bool = True,
          user: policy.Person | None = None) -> tuple[list[Card], bool]:
    """A page of a column's cards by (rank, id), after a keyset cursor; returns (cards, has_more).

    With `extras` the page gets its next activities and rotting state (one more query for the page). Pages pass
    the signed-in `user`: only deals they may read are shown (kanban.policy)."""
    stmt = _card_query(session, filters, user).where(Deal.pipeline_id == stage.pipeline_id, Deal.stage_id == stage.id)
    if after is not None:
        rank, deal_id = after
        stmt = stmt.where(or_(Deal.rank > rank, and_(Deal.rank == rank, Deal.id > deal_id)))
    rows = session.execute(stmt.order_by(Deal.rank, Deal.id).limit(limit + 1)).all()
    out = [Card(*row) for row in rows[:limit]]
    if extras:
        attach_card_extras(session, out, [stage])
    return out, len(rows) > limit


def column(session: Session, stage: Stage, filters: BoardFilters, limit: int,
           user: policy.Person | None = None) -> Column:
    """One column with its aggregates and first page of cards (of the deals `user` may read)."""
    count, sums = aggregates(session, [stage.id], filters, user).get(stage.id, (0, []))
    page, more = cards(session, stage, filters, limit, user=user)
    return Column(stage, count, sums, page, more, stage_totals.converted(session, {stage.id: sums}).get(stage.id))


def board(session: Session, pipeline_id: int, filters: BoardFilters, limit: int,
          user: policy.Person | None = None) -> list[Column]:
    """Every column of a pipeline: aggregates in one query, each column's first page (`user`'s deals), then next
    activities of every shown card in one query."""
    return columns_of(session, stages_of(session, pipeline_id), filters, limit, user)


def columns_of(session: Session, stages: list[Stage], filters: BoardFilters, limit: int,
               user: policy.Person | None = None) -> list[Column]:
    """These stages' columns (a whole board, or the two a move changed): aggregates in one query, each column's
    first page, then the next activities of every shown card in one query."""
    totals = aggregates(session, [s.id for s in stages], filters, user)
    columns = []
    converted = stage_totals.converted(session, {sid: sums for sid, (_n, sums) in totals.items()})
    for stage in stages:
        count, sums = totals.get(stage.id, (0, []))
        page, more = cards(session, stage, filters, limit, extras=False, user=user)
        columns.append(Column(stage, count, sums, page, more, converted.get(stage.id)))
    attach_card_extras(session, [c for col in columns for c in col.cards], stages)
    return columns


def people(session: Session) -> list[User]:
    """Active human users (the responsible picker), by name."""
    return list(session.scalars(
        select(User).where(User.active.is_(True), User.role != "system").order_by(User.name)
    ))


# A "loose index scan": one index probe per distinct tag, instead of reading every deal_tags row.
_DISTINCT_TAGS = text("""
    WITH RECURSIVE t(tag) AS (
        SELECT min(tag) FROM deal_tags
        UNION ALL
        SELECT (SELECT min(d.tag) FROM deal_tags d WHERE d.tag > t.tag) FROM t WHERE t.tag IS NOT NULL
    )
    SELECT tag FROM t WHERE tag IS NOT NULL LIMIT :limit
""")


def known_tags(session: Session, limit: int = 200) -> list[str]:
    """Distinct tags in use, alphabetical (the tag filter's options); cost grows with tags, not deals."""
    return list(session.scalars(_DISTINCT_TAGS, {"limit": limit}))


@dataclass
class TimelineItem:
    """A timeline entry with its actor's display name."""

    entry: TimelineEntry
    actor_name: str


def deal_timeline(session: Session, deal_id: int, limit: int = 200) -> list[TimelineItem]:
    """A deal's timeline, newest first, with actor names resolved."""
    entries = list(session.scalars(
        select(TimelineEntry).where(TimelineEntry.deal_id == deal_id).order_by(TimelineEntry.id.desc())
        .limit(limit)
    ))
    ids: dict[str, set[int]] = {}
    for e in entries:
        if e.actor_id is not None:
            ids.setdefault(e.actor_type, set()).add(e.actor_id)
    names: dict[str, dict[int, str]] = {"user": _user_names(session, ids.get("user", set()))}
    for actor_type, lookup in ACTOR_NAMES.items():
        if ids.get(actor_type):
            names[actor_type] = lookup(session, ids[actor_type])
    return [TimelineItem(e, _actor_name(e, names)) for e in entries]


# Display names of non-user actors ("robot", "trigger"), filled by the composition root's plug-ins:
# each maps a set of ids to {id: "Robot “Payment link”"}.
ACTOR_NAMES: dict[str, Callable[[Session, set[int]], dict[int, str]]] = {}


def _user_names(session: Session, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return {uid: name for uid, name in session.execute(select(User.id, User.name).where(User.id.in_(user_ids)))}


def _actor_name(entry: TimelineEntry, names: dict[str, dict[int, str]]) -> str:
    if entry.actor_id is None:
        return entry.actor_type
    known = names.get(entry.actor_type, {}).get(entry.actor_id)
    if known:
        return known
    return "deleted user" if entry.actor_type == "user" else f"{entry.actor_type} #{entry.actor_id}"
