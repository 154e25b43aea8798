"""Person and organization use cases: create, update, delete, search; the deal's `contact` maps onto a person."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from kanban.domain_events import record_event
from kanban.errors import ConflictError, NotFoundError, ValidationError
from kanban.events import Actor
from kanban.i18n import _
from kanban.models import Deal, Organization, Person

PERSON_FIELDS = ("name", "email", "phone", "organization_id", "language")
ORGANIZATION_FIELDS = ("name", "address")


def person_snapshot(person: Person) -> dict[str, Any]:
    """The plain values of a person (events, the API, robot templates)."""
    return {"id": person.id, "name": person.name, "email": person.email, "phone": person.phone,
            "organization_id": person.organization_id, "language": person.language}


def organization_snapshot(org: Organization) -> dict[str, Any]:
    """The plain values of an organization."""
    return {"id": org.id, "name": org.name, "address": org.address}


def get_person(session: Session, person_id: int) -> Person:
    """Load a person or raise NotFoundError."""
    person = session.get(Person, person_id) if isinstance(person_id, int) else None
    if person is None:
        raise NotFoundError(_("person %(person_id)s not found", person_id=person_id))
    return person


def get_organization(session: Session, organization_id: int) -> Organization:
    """Load an organization or raise NotFoundError."""
    org = session.get(Organization, organization_id) if isinstance(organization_id, int) else None
    if org is None:
        raise NotFoundError(_("organization %(organization_id)s not found", organization_id=organization_id))
    return org


def person_by_email(session: Session, email: str | None) -> Person | None:
    """The person with this email, compared case-insensitively."""
    if not email:
        return None
    return session.scalars(select(Person).where(Person.email_key == email.strip().lower())).first()


def _text(values: dict[str, Any], name: str, limit: int, errors: dict[str, str], *, required: bool = False) -> None:
    value = values.get(name)
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        values[name] = None
        if required:
            errors[name] = _("%(name)s is required", name=name)
        return
    if not isinstance(value, str) or (required and not value.strip()):
        errors[name] = _("%(name)s is required", name=name) if required else f"{name} must be text"
    elif len(value.strip()) > limit:
        errors[name] = _("%(name)s is at most %(limit)s characters", name=name, limit=limit)
    else:
        values[name] = value.strip()


def _clean_person(session: Session, values: dict[str, Any], person_id: int | None) -> dict[str, Any]:
    unknown = set(values) - set(PERSON_FIELDS)
    if unknown:
        raise ValidationError(_("unknown fields"), {k: "unknown field" for k in sorted(unknown)})
    values = dict(values)
    errors: dict[str, str] = {}
    if "name" in values or person_id is None:
        _text(values, "name", 200, errors, required=True)
    for name, limit in (("email", 320), ("phone", 40), ("language", 10)):
        if name in values:
            _text(values, name, limit, errors)
    if values.get("email") and "@" not in values["email"] and "email" not in errors:
        errors["email"] = _("not a valid email address")
    org_id = values.get("organization_id")
    if org_id is not None and (not isinstance(org_id, int) or session.get(Organization, org_id) is None):
        errors["organization_id"] = _("unknown organization")
    if errors:
        raise ValidationError(_("invalid person"), errors)
    existing = person_by_email(session, values.get("email"))
    if existing is not None and existing.id != person_id:
        raise ConflictError(_("a person with this email exists"), {"email": _("already used by another person")},
                            existing_id=existing.id)
    return values


def create_person(session: Session, values: dict[str, Any], *, actor: Actor,
                  external_id: str | None = None) -> Person:
    """Create a person; a duplicate email (case-insensitive) → ConflictError naming the existing one."""
    clean = _clean_person(session, values, None)
    person = Person(**clean, external_id=external_id)
    person.email_key = person.email.lower() if person.email else None
    session.add(person)
    session.flush()
    record_event(session, "person.created", entity_type="person", entity_id=person.id, actor=actor,
                 new=person_snapshot(person))
    return person


def update_person(session: Session, person_id: int, changes: dict[str, Any], *, actor: Actor,
                  cause: tuple[dict[str, Any], ...] = ()) -> Person:
    """Change a person's fields (PATCH semantics); records person.updated when anything changed."""
    person = get_person(session, person_id)
    clean = _clean_person(session, changes, person.id)
    old = person_snapshot(person)
    for name, value in clean.items():
        setattr(person, name, value)
    person.email_key = person.email.lower() if person.email else None
    new = person_snapshot(person)
    changed = sorted(k for k in new if new[k] != old[k])
    if changed:
        session.flush()
        record_event(session, "person.updated", entity_type="person", entity_id=person.id, actor=actor,
                     changed=changed, old={k: old[k] for k in changed}, new={k: new[k] for k in changed},
                     cause=cause)
    return person


def delete_person(session: Session, person_id: int, *, actor: Actor, cause: tuple[dict[str, Any], ...] = ()) -> None:
    """Delete a person; their deals keep going without one."""
    person = get_person(session, person_id)
    old = person_snapshot(person)
    session.execute(update(Deal).where(Deal.person_id == person.id).values(person_id=None)
                    .execution_options(synchronize_session=False))
    session.delete(person)
    session.flush()
    record_event(session, "person.deleted", entity_type="person", entity_id=old["id"], actor=actor, old=old,
                 cause=cause)


def _clean_organization(values: dict[str, Any], creating: bool) -> dict[str, Any]:
    unknown = set(values) - set(ORGANIZATION_FIELDS)
    if unknown:
        raise ValidationError(_("unknown fields"), {k: "unknown field" for k in sorted(unknown)})
    values, errors = dict(values), {}
    if "name" in values or creating:
        _text(values, "name", 200, errors, required=True)
    if "address" in values:
        _text(values, "address", 500, errors)
    if errors:
        raise ValidationError(_("invalid organization"), errors)
    return values


def create_organization(session: Session, values: dict[str, Any], *, actor: Actor,
                        external_id: str | None = None, cause: tuple[dict[str, Any], ...] = ()) -> Organization:
    """Create an organization."""
    org = Organization(**_clean_organization(values, True), external_id=external_id)
    session.add(org)
    session.flush()
    record_event(session, "organization.created", entity_type="organization", entity_id=org.id, actor=actor,
                 new=organization_snapshot(org), cause=cause)
    return org


def update_organization(session: Session, organization_id: int, changes: dict[str, Any], *,
                        actor: Actor, cause: tuple[dict[str, Any], ...] = ()) -> Organization:
    """Change an organization's name or address."""
    org = get_organization(session, organization_id)
    old = organization_snapshot(org)
    for name, value in _clean_organization(changes, False).items():
        setattr(org, name, value)
    new = organization_snapshot(org)
    changed = sorted(k for k in new if new[k] != old[k])
    if changed:
        session.flush()
        record_event(session, "organization.updated", entity_type="organization", entity_id=org.id, actor=actor,
                     changed=changed, old={k: old[k] for k in changed}, new={k: new[k] for k in changed},
                     cause=cause)
    return org


def delete_organization(session: Session, organization_id: int, *, actor: Actor) -> None:
    """Delete an organization; its persons and deals lose the link (SET NULL)."""
    org = get_organization(session, organization_id)
    old = organization_snapshot(org)
    for model in (Deal, Person):
        session.execute(update(model).where(model.organization_id == org.id).values(organization_id=None)
                        .execution_options(synchronize_session=False))
    session.delete(org)
    session.flush()
    record_event(session, "organization.deleted", entity_type="organization", entity_id=old["id"], actor=actor,
                 old=old)


def _pattern(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_persons(session: Session, q: str | None = None, *, organization_id: int | None = None) -> Any:
    """A SELECT of persons matching `q` in name or email (the caller pages it)."""
    stmt = select(Person)
    if q:
        stmt = stmt.where(or_(Person.name.ilike(_pattern(q), escape="\\"),
                              Person.email_key.like(_pattern(q.lower()), escape="\\")))
    if organization_id is not None:
        stmt = stmt.where(Person.organization_id == organization_id)
    return stmt


def search_organizations(session: Session, q: str | None = None) -> Any:
    """A SELECT of organizations whose name matches `q`."""
    stmt = select(Organization)
    if q:
        stmt = stmt.where(Organization.name.ilike(_pattern(q), escape="\\"))
    return stmt


def organization_named(session: Session, name: str, *, actor: Actor) -> Organization:
    """The organization with exactly this name (case-insensitive), created when missing."""
    org = session.scalars(select(Organization).where(func.lower(Organization.name) == name.strip().lower())
                          .order_by(Organization.id).limit(1)).first()
    return org or create_organization(session, {"name": name}, actor=actor)
