"""Row writers of the CSV import: validate a batch, look its keys up in a few queries, create or update rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kanban import clock
from kanban.models import Organization, Person

LIMITS = {"name": 200, "email": 320, "phone": 40, "language": 10, "external_id": 100, "organization": 200,
          "address": 500, "title": 300, "person_name": 200, "person_email": 320, "person_phone": 40,
          "lost_reason": 300, "stage": 200, "responsible": 320}


@dataclass(frozen=True)
class RowError:
    """A row that was not imported, and why."""

    row: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        """The API's error item."""
        return {"row": self.row, "field": self.field, "message": self.message}


def _too_long(line: int, values: dict[str, str]) -> RowError | None:
    for name, value in values.items():
        limit = LIMITS.get(name, 10_000)
        if len(value) > limit:
            return RowError(line, name, f"at most {limit} characters")
    return None


def _bad_email(line: int, name: str, value: str) -> RowError | None:
    return RowError(line, name, "not a valid email address") if value and "@" not in value else None


class Writer:
    """Writes one entity's rows; a dry run computes the same outcomes without adding anything to the session."""

    def __init__(self, session: Session, dry_run: bool, actor_id: int | None) -> None:
        self.session, self.dry_run, self.actor_id = session, dry_run, actor_id
        self.orgs = _Organizations(session, dry_run)

    def write(self, batch: list[tuple[int, dict[str, str]]]) -> Iterator[str | RowError]:
        """"created" | "updated" | "skipped" | RowError per row, in order."""
        raise NotImplementedError

    def _add(self, row: Any) -> None:
        if not self.dry_run:
            self.session.add(row)


def _link(values: dict[str, Any], name: str, row: Any) -> None:
    """Link a related row: by id when it exists, else by the object (saved with the row, no flush per row)."""
    if row is None:
        return
    if row.id is not None:
        values[f"{name}_id"] = row.id
    else:
        values[name] = row


def _assign(row: Any, values: dict[str, Any]) -> bool:
    """Set changed attributes; True when anything changed (a link to a new row always changes)."""
    changed = False
    for name, value in values.items():
        if name in ("person", "organization"):
            setattr(row, name, value)
            changed = True
        elif getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _differs(row: Any, values: dict[str, Any]) -> bool:
    """Whether assigning `values` would change the row (a dry run's "updated" vs "skipped")."""
    return any(k in ("person", "organization") or getattr(row, k) != v for k, v in values.items())


class _Organizations:
    """Organization ids by lower-cased name, created on first use (remembered for the whole import)."""

    def __init__(self, session: Session, dry_run: bool) -> None:
        self.session, self.dry_run, self.known = session, dry_run, {}  # type: dict[str, Organization]

    def prefetch(self, names: set[str]) -> None:
        missing = {n.lower() for n in names if n and n.lower() not in self.known}
        if missing:
            for org in self.session.scalars(select(Organization).where(func.lower(Organization.name).in_(missing))
                                            .order_by(Organization.id.desc())):
                self.known[org.name.lower()] = org

    def get(self, name: str) -> Organization | None:
        if not name:
            return None
        org = self.known.get(name.lower())
        if org is None:
            org = Organization(name=name, created_at=clock.now())
            if not self.dry_run:
                self.session.add(org)
            self.known[name.lower()] = org
        return org


class _People(Writer):
    """Shared person lookup by email (persons and the deals' persons)."""

    def __init__(self, session: Session, dry_run: bool, actor_id: int | None) -> None:
        super().__init__(session, dry_run, actor_id)
        self.by_email: dict[str, Person] = {}
        self.by_ext: dict[str, Person] = {}

    def prefetch_people(self, emails: set[str], exts: set[str]) -> None:
        emails = {e.lower() for e in emails if e and e.lower() not in self.by_email}
        exts = {x for x in exts if x and x not in self.by_ext}
        if emails:
            self.by_email.update({p.email_key: p for p in self.session.scalars(
                select(Person).where(Person.email_key.in_(emails)))})
        if exts:
            self.by_ext.update({p.external_id: p for p in self.session.scalars(
                select(Person).where(Person.external_id.in_(exts)))})

    def remember(self, person: Person) -> None:
        if person.email_key:
            self.by_email[person.email_key] = person
        if person.external_id:
            self.by_ext[person.external_id] = person


class PersonWriter(_People):
    """Persons: matched by external id, else by email (case-insensitive)."""

    def write(self, batch: list[tuple[int, dict[str, str]]]) -> Iterator[str | RowError]:
        """See Writer.write."""
        self.prefetch_people({v.get("email", "") for _, v in batch}, {v.get("external_id", "") for _, v in batch})
        self.orgs.prefetch({v.get("organization", "") for _, v in batch})
        for line, v in batch:
            error = (RowError(line, "name", "name is required") if not v.get("name") else _too_long(line, v)
                     or _bad_email(line, "email", v.get("email", "")))
            if error:
                yield error
                continue
            yield self._one(line, v)

    def _one(self, line: int, v: dict[str, str]) -> str | RowError:
        email = v.get("email") or None
        key = email.lower() if email else None
        by_ext = self.by_ext.get(v["external_id"]) if v.get("external_id") else None
        by_mail = self.by_email.get(key) if key else None
        if by_ext is not None and by_mail is not None and by_ext is not by_mail:
            return RowError(line, "email", f"already used by person {by_mail.id or 'earlier in the file'}")
        person = by_ext or by_mail
        values: dict[str, Any] = {name: v[name] or None for name in ("name", "phone", "language") if name in v}
        if "email" in v:
            values.update(email=email, email_key=key)
        if v.get("external_id"):
            values["external_id"] = v["external_id"]
        if v.get("organization"):
            _link(values, "organization", self.orgs.get(v["organization"]))
        if person is None:
            person = Person(**values, created_at=clock.now())
            self._add(person)
            self.remember(person)
            return "created"
        if self.dry_run:
            return "updated" if _differs(person, values) else "skipped"
        changed = _assign(person, values)
        self.remember(person)
        return "updated" if changed else "skipped"


class OrganizationWriter(Writer):
    """Organizations: matched by external id, else by name (case-insensitive)."""

    def write(self, batch: list[tuple[int, dict[str, str]]]) -> Iterator[str | RowError]:
        """See Writer.write."""
        exts = {v["external_id"] for _, v in batch if v.get("external_id")}
        by_ext = {o.external_id: o for o in self.session.scalars(
            select(Organization).where(Organization.external_id.in_(exts)))} if exts else {}
        self.orgs.prefetch({v.get("name", "") for _, v in batch})
        for line, v in batch:
            error = RowError(line, "name", "name is required") if not v.get("name") else _too_long(line, v)
            if error:
                yield error
                continue
            values = {k: v[k] or None for k in ("address",) if k in v}
            org = by_ext.get(v.get("external_id", "")) or self.orgs.known.get(v["name"].lower())
            if org is None:
                org = self.orgs.get(v["name"])
                assert org is not None
                _assign(org, {**values, "external_id": v.get("external_id") or None})
                by_ext[org.external_id or ""] = org
                yield "created"
                continue
            values["name"] = v["name"]
            if v.get("external_id"):
                values["external_id"] = v["external_id"]
            if self.dry_run:
                yield "updated" if _differs(org, values) else "skipped"
            else:
                yield "updated" if _assign(org, values) else "skipped"
