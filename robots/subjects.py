"""What an automation's actions act on — its subject — when an event has no deal to act on.

An execution's subject is a deal (the usual case: its runs are the deal's), a person or an organization (their
events when they have no open deal: person.created, organization.created, …), or a deal the event itself deleted
(deal.deleted: the row is gone, the event's `old` values are its snapshot). Runs without a deal keep one engine:
the same chain, conditions, outputs, retries and loop guard; only their template values come from the subject,
and actions that need the deal row (move it, change it, comment on it, …) are skipped, saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban.crm_models import Activity
from kanban.domain_events import DomainEvent
from kanban.i18n import _
from kanban.models import Deal, Organization, Person, Stage, User
from robots.models import AutomationExecution
from robots.registry import registry
from robots.templating import plain
from robots.values import _contact, _organization_values, _person, _person_values, format_amount

EMPTY_DEAL: dict[str, Any] = {"id": None, "title": "", "amount": "", "amount_minor": None, "currency": "",
                              "tags": [], "url": "", "created_at": None, "stage_entered_at": None, "fields": {},
                              "deleted": False}
EMPTY_ACTIVITY: dict[str, Any] = {"id": None, "type": "", "subject": "", "due_at": "", "state": ""}


@dataclass
class Subject:
    """One thing an event's actions act on. `deal` is the row when it exists (then type is "deal")."""

    type: str  # deal | person | organization
    id: int
    deal: Deal | None = None
    pipeline_id: int | None = None
    stage_id: int | None = None


def subjects_of(session: Session, event: DomainEvent) -> list[Subject]:
    """The subjects of an event's actions.

    - an event with a deal: that deal (deal.deleted: the deleted deal, by its snapshot);
    - a person's or organization's event: each of their open deals, else the person or organization itself;
    - an activity without a deal: its person (when it has one);
    - email received by a person without an open deal: that person.
    """
    if event.deal_id is not None:
        deal = session.get(Deal, event.deal_id)
        if deal is not None:
            return [Subject("deal", deal.id, deal, deal.pipeline_id, deal.stage_id)]
        if event.type == "deal.deleted":
            old = event.old or {}
            return [Subject("deal", event.deal_id, None, event.pipeline_id, old.get("stage_id"))]
        return []  # the deal was deleted since (in the same transaction): nothing left to act on
    entity_type, entity_id = event.entity_type, event.entity_id
    if entity_type == "activity" and entity_id is not None:
        activity = session.get(Activity, entity_id)
        person_id = activity.person_id if activity is not None else (event.new or event.old or {}).get("person_id")
        return [Subject("person", person_id)] if person_id is not None and session.get(Person, person_id) else []
    if entity_type == "email":  # received by a person without an open deal (kanban.inbox.receive)
        person_id = (event.data or {}).get("person_id")
        found = isinstance(person_id, int) and session.get(Person, person_id) is not None
        return [Subject("person", person_id)] if found else []
    column = {"person": Deal.person_id, "organization": Deal.organization_id}.get(entity_type)
    if column is None or entity_id is None:
        return []
    deals = list(session.scalars(select(Deal).where(column == entity_id, Deal.status == "open").order_by(Deal.id)))
    if deals:
        return [Subject("deal", deal.id, deal, deal.pipeline_id, deal.stage_id) for deal in deals]
    model = Person if entity_type == "person" else Organization
    return [Subject(entity_type, entity_id)] if session.get(model, entity_id) is not None else []


def values(session: Session, subject_type: str, subject_id: int, event: dict[str, Any] | None,
           outputs_by_key: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Template and condition values of a run without a deal: the same names as a deal's (robots.values), filled
    from the subject — a deleted deal's snapshot, or a person with their organization, or an organization."""
    deal, stage = dict(EMPTY_DEAL), {"id": None, "name": ""}
    person: Person | None = None
    org: Organization | None = None
    responsible: User | None = None
    if subject_type == "deal":  # deleted: the deal.deleted event's old values are all that is left
        old = _deleted_snapshot(session, subject_id, event)
        currency = str(old.get("currency") or "")
        amount = old.get("amount")
        deal.update(id=subject_id, title=old.get("title") or "", currency=currency, tags=list(old.get("tags") or []),
                    amount=format_amount(amount, currency) if isinstance(amount, int) else "",
                    amount_minor=amount, created_at=old.get("created_at"), fields=dict(old.get("fields") or {}),
                    deleted=True, status=old.get("status"))
        person = _get(session, Person, old.get("person_id"))
        org = _get(session, Organization, old.get("organization_id"))
        responsible = _get(session, User, old.get("responsible_id"))
        stage_row = _get(session, Stage, old.get("stage_id"))
        stage = {"id": old.get("stage_id"), "name": stage_row.name if stage_row is not None else ""}
    elif subject_type == "person":
        person = _get(session, Person, subject_id)
    elif subject_type == "organization":
        org = _get(session, Organization, subject_id)
    if org is None and person is not None and person.organization_id is not None:
        org = session.get(Organization, person.organization_id)
    result = {"deal": plain(deal), "contact": _contact(person, org), "person": _person_values(person),
              "organization": _organization_values(org), "next_activity": dict(EMPTY_ACTIVITY),
              "responsible": _person(responsible), "stage": stage,
              "robots": plain({key: dict(outputs or {}) for key, outputs in outputs_by_key.items()}),
              "subject": {"type": subject_type, "id": subject_id, "deleted": subject_type == "deal"}}
    if event is not None:
        result["event"] = event
    return result


def _deleted_snapshot(session: Session, deal_id: int, event: dict[str, Any] | None) -> dict[str, Any]:
    """The last values of a deleted deal: this event's when it is the deletion, else the deletion event's (an
    automation whose delete_deal action deleted the deal mid-chain)."""
    if event is not None and event.get("type") == "deal.deleted":
        return dict(event.get("old") or {})
    old = session.scalar(select(DomainEvent.old).where(DomainEvent.deal_id == deal_id,
                                                       DomainEvent.type == "deal.deleted")
                         .order_by(DomainEvent.id.desc()).limit(1))
    return dict(old or {})


def of_execution(session: Session, execution_id: int | None) -> tuple[str, int]:
    """(subject type, subject id) of an execution."""
    row = session.execute(select(AutomationExecution.subject_type, AutomationExecution.subject_id)
                          .where(AutomationExecution.id == execution_id)).first()
    return (row[0], row[1]) if row is not None else ("deal", 0)


def deal_required(kind: str, subject_type: str, subject_id: int) -> str | None:
    """Why an action cannot run without a deal (None: it can): a kind that needs the deal row is skipped."""
    try:
        needs = registry.get(kind).needs_deal
    except KeyError:
        return None  # the engine fails it as an unknown kind
    if not needs:
        return None
    if subject_type == "deal":
        return _("this action needs the deal, which the event deleted (deal #%(id)s)", id=subject_id)
    return _("this action needs a deal; the event's %(type)s #%(id)s has no open deal", type=subject_type,
             id=subject_id)


def target_activity(ctx: Any, template: str) -> Activity:
    """The activity an action acts on: the rendered template's id, or (empty) the event's activity."""
    from robots.errors import PermanentError

    event = ctx.values.get("event") or {}
    text = ctx.render(template).strip() if template.strip() else ""
    if not text:
        if event.get("entity_type") != "activity":
            raise PermanentError(_("no activity given, and the event is not an activity's"))
        text = str(event.get("entity_id"))
    activity = ctx.session.get(Activity, int(text)) if text.isdigit() and len(text) < 12 else None
    if activity is None:
        raise PermanentError(_("activity %(text)r does not exist", text=text[:40]))
    return activity


def _get(session: Session, model: Any, row_id: Any) -> Any:
    return session.get(model, row_id) if isinstance(row_id, int) and not isinstance(row_id, bool) else None
