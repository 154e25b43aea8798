"""Activities: plan, change, complete, reschedule and delete calls, meetings, tasks, emails and deadlines."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from babel.dates import format_date
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from kanban import clock, live, timezones
from kanban.crm_models import ACTIVITY_TYPES, Activity
from kanban.domain_events import record_event
from kanban.errors import NotFoundError, ValidationError
from kanban.events import Actor
from kanban.i18n import _, current_language, label
from kanban.models import Deal, Person, User
from kanban.services.deals import timeline, touch_deal

FIELDS = ("type", "subject", "due_date", "due_time", "duration_minutes", "assignee_id", "deal_id", "person_id",
          "note", "done")
STATES = ("overdue", "today", "upcoming", "done")


def activity_snapshot(activity: Activity) -> dict[str, Any]:
    """An activity's plain values (events, the API)."""
    return {"id": activity.id, "type": activity.type, "subject": activity.subject,
            "due_date": activity.due_date.isoformat(),
            "due_time": activity.due_time.strftime("%H:%M") if activity.due_time else None,
            "duration_minutes": activity.duration_minutes, "assignee_id": activity.assignee_id,
            "deal_id": activity.deal_id, "person_id": activity.person_id, "note": activity.note,
            "done": activity.done}


def activity_json(activity: Activity) -> dict[str, Any]:
    """The API view: the snapshot plus state, due_at and times."""
    return {**activity_snapshot(activity),
            "state": timezones.activity_state(activity.due_date, activity.done, timezones.today()),
            "due_at": timezones.due_at(activity.due_date, activity.due_time),
            "done_at": activity.done_at.isoformat() if activity.done_at else None,
            "created_at": activity.created_at.isoformat()}


def get_activity(session: Session, activity_id: int) -> Activity:
    """Load an activity or raise NotFoundError."""
    activity = session.get(Activity, activity_id) if isinstance(activity_id, int) else None
    if activity is None:
        raise NotFoundError(_("activity %(activity_id)s not found", activity_id=activity_id))
    return activity


def _parse_date(value: Any, errors: dict[str, str]) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        errors["due_date"] = _("due_date is a date YYYY-MM-DD")
        return None


def _parse_time(value: Any, errors: dict[str, str]) -> time | None:
    if value is None or value == "" or isinstance(value, time):
        return value or None
    try:
        return time.fromisoformat(value).replace(second=0, microsecond=0)
    except (TypeError, ValueError):
        errors["due_time"] = _("due_time is a time HH:MM")
        return None


def _exists(session: Session, model: type, ref: Any) -> bool:
    return isinstance(ref, int) and not isinstance(ref, bool) and session.get(model, ref) is not None


def _clean(session: Session, values: dict[str, Any], creating: bool) -> dict[str, Any]:
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise ValidationError(_("unknown fields"), {k: "unknown field" for k in sorted(unknown)})
    out, errors = dict(values), {}
    if "type" in out or creating:
        if out.get("type") not in ACTIVITY_TYPES:
            errors["type"] = _("type is call, meeting, task, email or deadline")
    if "subject" in out or creating:
        subject = out.get("subject")
        if not isinstance(subject, str) or not subject.strip():
            errors["subject"] = _("subject is required")
        elif len(subject.strip()) > 300:
            errors["subject"] = _("subject is at most 300 characters")
        else:
            out["subject"] = subject.strip()
    if "due_date" in out or creating:
        out["due_date"] = _parse_date(out.get("due_date"), errors)
    if "due_time" in out:
        out["due_time"] = _parse_time(out["due_time"], errors)
    minutes = out.get("duration_minutes")
    if minutes is not None and (not isinstance(minutes, int) or isinstance(minutes, bool) or not 0 < minutes <= 10080):
        errors["duration_minutes"] = _("duration is 1 to 10080 minutes")
    if out.get("assignee_id") is not None and not _exists(session, User, out["assignee_id"]):
        errors["assignee_id"] = _("unknown user")
    if out.get("deal_id") is not None and not _exists(session, Deal, out["deal_id"]):
        errors["deal_id"] = _("unknown deal")
    if out.get("person_id") is not None and not _exists(session, Person, out["person_id"]):
        errors["person_id"] = _("unknown person")
    if out.get("note") is not None and (not isinstance(out["note"], str) or len(out["note"]) > 10_000):
        errors["note"] = _("note is text of at most 10000 characters")
    if "done" in out and not isinstance(out["done"], bool):
        errors["done"] = _("done is true or false")
    if errors:
        raise ValidationError(_("invalid activity"), errors)
    return out


def _on_deal(session: Session, activity: Activity, kind: str, text: str, actor: Actor) -> None:
    """A timeline row on the activity's deal, which restarts its rotting clock and refreshes open pages."""
    if activity.deal_id is None:
        return
    deal = session.get(Deal, activity.deal_id)
    if deal is None:
        return
    timeline(session, deal.id, kind, text, actor, activity_id=activity.id, type=activity.type)
    touch_deal(session, deal)
    live.publish_board_changed(session, deal.pipeline_id, [deal.stage_id], deal.id)
    live.publish_deal_changed(session, deal.id)


def _event(session: Session, type_: str, activity: Activity, actor: Actor, cause: tuple[dict[str, Any], ...],
           **kwargs: Any) -> None:
    deal = session.get(Deal, activity.deal_id) if activity.deal_id else None
    record_event(session, type_, entity_type="activity", entity_id=activity.id, deal_id=activity.deal_id,
                 pipeline_id=deal.pipeline_id if deal else None, actor=actor, cause=cause, **kwargs)


def create_activity(session: Session, values: dict[str, Any], *, actor: Actor, run_id: int | None = None,
                    cause: tuple[dict[str, Any], ...] = ()) -> Activity:
    """Plan an activity (assignee defaults to the acting user); timeline row and activity.created."""
    clean = _clean(session, values, True)
    if clean.get("assignee_id") is None and actor.type == "user":
        clean["assignee_id"] = actor.id
    if clean.get("person_id") is None and clean.get("deal_id") is not None:
        clean["person_id"] = session.get(Deal, clean["deal_id"]).person_id  # type: ignore[union-attr]
    done = clean.pop("done", False)
    at = clock.now()
    activity = Activity(**clean, done=done, done_at=at if done else None, run_id=run_id,
                        created_by_id=actor.id if actor.type == "user" else None, created_at=at, updated_at=at)
    session.add(activity)
    session.flush()
    _on_deal(session, activity, "activity", _("Planned %(type)s “%(subject)s” for %(due)s", type=_kind(activity),
                                              subject=activity.subject, due=_due_words(activity)), actor)
    _event(session, "activity.created", activity, actor, cause, new=activity_snapshot(activity))
    return activity


def update_activity(session: Session, activity_id: int, changes: dict[str, Any], *, actor: Actor,
                    cause: tuple[dict[str, Any], ...] = ()) -> Activity:
    """Change an activity; `done: true` completes it (activity.completed), other changes → activity.updated."""
    activity = get_activity(session, activity_id)
    clean = _clean(session, changes, False)
    done = clean.pop("done", None)
    old = activity_snapshot(activity)
    for name, value in clean.items():
        setattr(activity, name, value)
    new = activity_snapshot(activity)
    changed = sorted(k for k in new if new[k] != old[k])
    if changed:
        activity.updated_at = clock.now()
        session.flush()
        text = (_("Rescheduled %(type)s “%(subject)s” for %(due)s", type=_kind(activity), subject=activity.subject,
                  due=_due_words(activity)) if set(changed) <= {"due_date", "due_time"}
                else _("Changed %(type)s “%(subject)s”", type=_kind(activity), subject=activity.subject))
        _on_deal(session, activity, "activity_updated", text, actor)
        _event(session, "activity.updated", activity, actor, cause, changed=changed,
               old={k: old[k] for k in changed}, new={k: new[k] for k in changed})
    if done is not None and done != activity.done:
        _set_done(session, activity, done, actor, cause)
    return activity


def _set_done(session: Session, activity: Activity, done: bool, actor: Actor, cause: tuple[dict[str, Any], ...]
              ) -> None:
    activity.done, activity.done_at = done, clock.now() if done else None
    activity.updated_at = clock.now()
    session.flush()
    text = (_("Completed %(type)s “%(subject)s”", type=_kind(activity), subject=activity.subject) if done
            else _("Reopened %(type)s “%(subject)s”", type=_kind(activity), subject=activity.subject))
    _on_deal(session, activity, "activity_done" if done else "activity_updated", text, actor)
    kind = "activity.completed" if done else "activity.updated"
    _event(session, kind, activity, actor, cause, changed=["done"], old={"done": not done}, new={"done": done})


def complete_activity(session: Session, activity_id: int, *, actor: Actor) -> Activity:
    """Mark an activity done."""
    return update_activity(session, activity_id, {"done": True}, actor=actor)


def reschedule_activity(session: Session, activity_id: int, due_date: Any, due_time: Any = None, *,
                        actor: Actor) -> Activity:
    """Move an activity to another day (and time)."""
    return update_activity(session, activity_id, {"due_date": due_date, "due_time": due_time}, actor=actor)


def delete_activity(session: Session, activity_id: int, *, actor: Actor,
                    cause: tuple[dict[str, Any], ...] = ()) -> None:
    """Delete an activity; the deal's timeline says so."""
    activity = get_activity(session, activity_id)
    old = activity_snapshot(activity)
    text = _("Deleted %(type)s “%(subject)s”", type=_kind(activity), subject=activity.subject)
    _on_deal(session, activity, "activity_deleted", text, actor)
    _event(session, "activity.deleted", activity, actor, cause, old=old)
    session.delete(activity)
    session.flush()


def state_condition(state: str, on: date) -> ColumnElement[bool]:
    """SQL for one state (overdue | today | upcoming | done), `on` being the user's today."""
    if state == "done":
        return Activity.done.is_(True)
    open_ = Activity.done.is_(False)
    if state == "overdue":
        return open_ & (Activity.due_date < on)
    return open_ & ((Activity.due_date == on) if state == "today" else (Activity.due_date > on))


def activities_query(*, assignee_id: int | None = None, deal_id: int | None = None, person_id: int | None = None,
                     state: str | None = None, type_: str | None = None, user: Any = None) -> Any:
    """A SELECT of activities by assignee, deal, person, type and state (the caller orders and pages it)."""
    stmt = select(Activity)
    for column, value in ((Activity.assignee_id, assignee_id), (Activity.deal_id, deal_id),
                          (Activity.person_id, person_id), (Activity.type, type_)):
        if value is not None:
            stmt = stmt.where(column == value)
    if state is not None:
        if state not in STATES:
            raise ValidationError(_("invalid state"), {"state": _("overdue, today, upcoming or done")})
        stmt = stmt.where(state_condition(state, timezones.today(user)))
    return stmt


def _kind(activity: Activity) -> str:
    """The activity's type as a word of the sentence ("call", « appel »), in the writer's language."""
    return label(activity.type).lower()


def _due_words(activity: Activity) -> str:
    """The due date (and time) as people read it, in the writer's language: "7 Dec 2026, 10:30" — timeline
    texts are stored, so an absolute date, never "tomorrow"."""
    day = format_date(activity.due_date, "medium", locale=current_language())
    return f"{day}, {activity.due_time.strftime('%H:%M')}" if activity.due_time else day
