"""Read queries for the board and the deal page: filtered columns, SQL aggregates, keyset pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from kanban import clock, policy, stage_totals
from kanban.models import Contact, Deal, DealTag, Pipeline, Stage, TimelineEntry, User


@dataclass(frozen=True)
class BoardFilters:
    """The board's URL filters: responsible, tag and free-text search."""

    responsible_id: int | None = None
    tag: str | None = None
    q: str | None = None

    @property
    def active(self) -> bool:
        """Whether any filter is set (unfiltered boards read the kept stage totals)."""
        return self.responsible_id is not None or bool(self.tag) or bool(self.q)

    def params(self) -> dict[str, str]:
        """The non-empty filters as query parameters."""
        out: dict[str, str] = {}
        if self.responsible_id is not None:
            out["responsible_id"] = str(self.responsible_id)
        if self.tag:
            out["tag"] = self.tag
        if self.q:
            out["q"] = self.q
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
    contact_name: str | None
    responsible_name: str | None

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
    return conds


def _text_search(session: Session, q: str) -> ColumnElement[bool]:
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    contacts = select(Contact.id).where(Contact.name.ilike(pattern, escape="\\"))
    if session.get_bind().dialect.name == "postgresql":
        # `= ANY(ARRAY(subquery))` (not IN) lets PostgreSQL OR the title trigram index with the contact_id
        # index in one bitmap scan instead of filtering every deal of the stage.
        matched = Deal.contact_id == func.any(func.array(contacts.scalar_subquery()))
        return or_(Deal.title.ilike(pattern, escape="\\"), matched)
    return or_(Deal.title.ilike(pattern, escape="\\"), Deal.contact_id.in_(contacts))


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
               Deal.tags, Deal.stage_entered_at, Contact.name, responsible.name)
        .outerjoin(Contact, Contact.id == Deal.contact_id)
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
          after: tuple[float, int] | None = None, user: policy.Person | None = None) -> tuple[list[Card], bool]:
    """A page of a column's cards by (rank, id), after a keyset cursor; returns (cards, has_more).

    Pages pass the signed-in `user`: only deals they may read are shown (kanban.policy).
    """
    stmt = _card_query(session, filters, user).where(Deal.pipeline_id == stage.pipeline_id, Deal.stage_id == stage.id)
    if after is not None:
        rank, deal_id = after
        stmt = stmt.where(or_(Deal.rank > rank, and_(Deal.rank == rank, Deal.id > deal_id)))
    rows = session.execute(stmt.order_by(Deal.rank, Deal.id).limit(limit + 1)).all()
    out = [Card(*row) for row in rows[:limit]]
    return out, len(rows) > limit


def column(session: Session, stage: Stage, filters: BoardFilters, limit: int,
           user: policy.Person | None = None) -> Column:
    """One column with its aggregates and first page of cards (of the deals `user` may read)."""
    count, sums = aggregates(session, [stage.id], filters, user).get(stage.id, (0, []))
    page, more = cards(session, stage, filters, limit, user=user)
    return Column(stage, count, sums, page, more)


def board(session: Session, pipeline_id: int, filters: BoardFilters, limit: int,
          user: policy.Person | None = None) -> list[Column]:
    """Every column of a pipeline: aggregates in one query, then each column's first page (`user`'s deals)."""
    stages = stages_of(session, pipeline_id)
    totals = aggregates(session, [s.id for s in stages], filters, user)
    columns = []
    for stage in stages:
        count, sums = totals.get(stage.id, (0, []))
        page, more = cards(session, stage, filters, limit, user=user)
        columns.append(Column(stage, count, sums, page, more))
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
