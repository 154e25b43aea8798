"""Deal rows of the CSV import: new deals get their stage entry and an "imported" timeline row, nothing fires."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from kanban import clock
from kanban.errors import ValidationError
from kanban.i18n import _
from kanban.import_rows import RowError, _assign, _bad_email, _differs, _link, _People, _too_long
from kanban.models import Deal, DealTag, Person, Pipeline, StageEntry, TimelineEntry, User
from kanban.pricing import check_currency, exponent

STATUSES = ("open", "won", "lost")


def parse_amount(raw: str, currency: str = "USD") -> int | None:
    """A major-unit amount ("1,250.50") as minor units of the currency (125050; JPY has none, KWD three
    decimals); None when it is not one."""
    try:
        value = Decimal(raw.replace(",", "").replace(" ", "")) if raw else Decimal(0)
    except InvalidOperation:
        return None
    places = exponent(currency)
    if not value.is_finite() or value < 0 or value > Decimal(10) ** 13 or \
            value != value.quantize(Decimal(1).scaleb(-places)):
        return None
    return int(value.scaleb(places))


def _iso_currency(raw: str) -> str | None:
    try:
        return check_currency(raw)
    except ValidationError:
        return None


class DealWriter(_People):
    """Deals of one pipeline: matched by external id (else always new); stage by name, responsible by email."""

    def __init__(self, session: Session, dry_run: bool, actor_id: int | None, pipeline: Pipeline) -> None:
        super().__init__(session, dry_run, actor_id)
        self.pipeline = pipeline
        self.stages = {s.name.lower(): s for s in pipeline.stages}
        self.first = pipeline.stages[0]
        self.users = {email: uid for uid, email in session.execute(
            select(User.id, User.email).where(User.active.is_(True), User.role != "system"))}
        self.ranks: dict[int, float] = {}

    def _check(self, line: int, v: dict[str, str]) -> tuple[dict[str, Any], RowError | None]:
        if not v.get("title"):
            return {}, RowError(line, "title", "title is required")
        error = _too_long(line, v) or _bad_email(line, "person_email", v.get("person_email", ""))
        if error:
            return {}, error
        out: dict[str, Any] = {"title": v["title"]}
        checks = (
            ("amount", lambda x: parse_amount(x, v.get("currency") or "USD"), "an amount like 1250.50"),
            ("currency", _iso_currency, "an ISO 4217 currency code such as EUR"),
            ("stage", lambda x: self.stages.get(x.lower()), "no such stage in the pipeline"),
            ("responsible", lambda x: self.users.get(x.lower()), "no active user with this email"),
            ("status", lambda x: x.lower() if x.lower() in STATUSES else None, "open, won or lost"),
        )
        for name, parse, message in checks:
            if v.get(name):
                value = parse(v[name])
                if value is None:
                    return {}, RowError(line, name, message)
                out[name] = value
        return out, None

    def write(self, batch: list[tuple[int, dict[str, str]]]) -> Iterator[str | RowError]:
        """See Writer.write: validate, look up persons / organizations / deals of the batch, then write."""
        self.prefetch_people({v.get("person_email", "") for _, v in batch}, set())
        self.orgs.prefetch({v.get("organization", "") for _, v in batch})
        exts = {v["external_id"] for _, v in batch if v.get("external_id")}
        existing = {d.external_id: d for d in self.session.scalars(
            select(Deal).where(Deal.external_id.in_(exts)))} if exts else {}
        created: list[tuple[Deal, list[str]]] = []
        for line, v in batch:
            parsed, error = self._check(line, v)
            if error:
                yield error
                continue
            values = self._values(v, parsed)
            deal = existing.get(v.get("external_id", ""))
            if deal is None:
                deal = self._new(values)
                created.append((deal, values["tags"]))
                if deal.external_id:
                    existing[deal.external_id] = deal
                yield "created"
            elif self.dry_run:
                yield "updated" if _differs(deal, {k: x for k, x in values.items() if k != "tags"}) else "skipped"
            else:
                yield "updated" if self._update(deal, values) else "skipped"
        if created and not self.dry_run:
            self._enter_stages(created)

    def _values(self, v: dict[str, str], parsed: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {"title": parsed["title"]}
        for name in ("amount", "currency", "status"):
            if name in parsed:
                values[name] = parsed[name]
        if "responsible" in parsed:
            values["responsible_id"] = parsed["responsible"]
        if "stage" in parsed:
            values["stage_id"] = parsed["stage"].id
        person = self._person(v)
        _link(values, "person", person)
        org = self.orgs.get(v.get("organization", "")) if v.get("organization") else None
        if org is not None:
            _link(values, "organization", org)
        elif person is not None and person.organization_id:
            values["organization_id"] = person.organization_id
        if v.get("lost_reason"):
            values["lost_reason"] = v["lost_reason"]
        if v.get("external_id"):
            values["external_id"] = v["external_id"]
        extra = {k[7:]: val for k, val in v.items() if k.startswith("fields.") and val}
        if extra:
            values["fields"] = extra
        values["tags"] = [t for t in dict.fromkeys(x.strip() for x in v.get("tags", "").replace(";", ",").split(","))
                          if t][:50]
        return values

    def _person(self, v: dict[str, str]) -> Person | None:
        email = v.get("person_email") or None
        if not email and not v.get("person_name"):
            return None
        person = self.by_email.get(email.lower()) if email else None
        if person is None:
            person = Person(name=v.get("person_name") or email, email=email, email_key=email.lower() if email else None,
                            phone=v.get("person_phone") or None, created_at=clock.now())
            self._add(person)
            self.remember(person)
        return person

    def _new(self, values: dict[str, Any]) -> Deal:
        at = clock.now()
        stage_id = values.get("stage_id", self.first.id)
        kind = next((s.kind for s in self.stages.values() if s.id == stage_id), "open")
        status = values.get("status") or (kind if kind in ("won", "lost") else "open")
        rest = {k: v for k, v in values.items() if k not in ("stage_id", "status")}
        deal = Deal(pipeline_id=self.pipeline.id, **rest, stage_id=stage_id, status=status,
                    closed_at=at if status != "open" else None,
                    rank=self._rank(stage_id), stage_entered_at=at, last_activity_at=at, created_at=at, updated_at=at)
        self._add(deal)
        return deal

    def _rank(self, stage_id: int) -> float:
        if stage_id not in self.ranks:
            lowest = self.session.scalar(select(func.min(Deal.rank)).where(Deal.stage_id == stage_id))
            self.ranks[stage_id] = lowest if lowest is not None else 0.0
        self.ranks[stage_id] -= 1.0
        return self.ranks[stage_id]

    def _update(self, deal: Deal, values: dict[str, Any]) -> bool:
        tags = values.pop("tags")
        values.pop("stage_id", None)  # re-imports do not move deals: a move is the rep's (or a robot's) act
        if "fields" in values:
            values["fields"] = {**(deal.fields or {}), **values["fields"]}
        changed = _assign(deal, values)
        if tags and tags != list(deal.tags or []):
            deal.tags = tags
            self.session.execute(DealTag.__table__.delete().where(DealTag.deal_id == deal.id))
            self.session.add_all([DealTag(deal_id=deal.id, tag=t) for t in tags])
            changed = True
        if changed:
            deal.updated_at = clock.now()
        return changed

    def _enter_stages(self, created: list[tuple[Deal, list[str]]]) -> None:
        """Stage entries, tags and the "imported" timeline row of the batch's new deals (no DealMoved)."""
        self.session.flush()
        entries = [StageEntry(deal_id=d.id, stage_id=d.stage_id, entered_at=d.stage_entered_at, actor_type="system")
                   for d, _tags in created]
        self.session.add_all(entries)
        names = {s.id: s.name for s in self.stages.values()}
        actor_type = "user" if self.actor_id else "system"
        self.session.add_all([TimelineEntry(deal_id=d.id, kind="created", actor_type=actor_type, actor_id=self.actor_id,
                                            text=_("Imported into “%(stage)s”", stage=names.get(d.stage_id)),
                                            data={"stage_id": d.stage_id, "imported": True}) for d, _tags in created])
        self.session.add_all([DealTag(deal_id=d.id, tag=t) for d, tags in created for t in tags])
        self.session.flush()
        # A plain UPDATE, as create_deal does: linking the first entry is not a new version of the deal.
        table = Deal.__table__
        self.session.execute(update(table).where(table.c.id == bindparam("did"))
                             .values(current_entry_id=bindparam("eid")),
                             [{"did": d.id, "eid": e.id} for (d, _tags), e in zip(created, entries, strict=True)])
        for (deal, _tags), entry in zip(created, entries, strict=True):
            set_committed_value(deal, "current_entry_id", entry.id)
