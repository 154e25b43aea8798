"""Notification channels: each user's choice per kind (in-app, email now or in a daily digest, browser push),
and `deliver_notification`, the one function that sends a notification the way its recipient chose."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from kanban import timezones
from kanban.channels import DigestItem, NotificationSetting, PushMessage, PushSubscription
from kanban.config import Settings
from kanban.domain_events import EventRecorded
from kanban.errors import ValidationError
from kanban.i18n import N_, _, language_of, ngettext, use_language
from kanban.mail import Mailer, from_header, one_line
from kanban.models import Deal, EmailMessage, Notification, User

# Kinds of notification a user can route; `default` applies to every kind without its own choice.
KINDS = {
    "default": N_("Every notification (unless chosen below)"),
    "robot": N_("Robot notifications (“Notify”)"),
    "supervisor": N_("Control notifications to a department head"),
    "mention": N_("Someone mentioned me"),
    "assignment": N_("A deal was assigned to me"),
    "failure": N_("A robot failed (admins)"),
}
CHANNELS = {"in_app": N_("In the app (bell)"), "email": N_("Email, at once"), "email_digest": N_("Email, daily digest"),
            "push": N_("Browser push")}
DEFAULT_CHANNELS = ["in_app"]  # what users had before channels existed
# Kinds that did not exist before channels stay silent until the user chooses (own choice or `default`).
OPT_IN = {"assignment": []}
# Kinds with their own default, whatever `default` says: failures reach admins in the bell and the daily digest
# instead of waiting to be found (each admin can still choose otherwise for this kind).
KIND_DEFAULTS = {"failure": ["in_app", "email_digest"]}


@dataclass
class Delivered:
    """What one notification produced, per channel (ids of the rows written)."""

    notification_id: int | None = None
    email_id: int | None = None
    digest_item_id: int | None = None
    push_ids: list[int] = field(default_factory=list)


def settings_view(session: Session, user_id: int) -> dict[str, Any]:
    """A user's choices: `default` always, and each kind that has its own."""
    rows = session.scalars(select(NotificationSetting).where(NotificationSetting.user_id == user_id))
    channels = {"default": list(DEFAULT_CHANNELS)}
    channels.update({row.kind: list(row.channels) for row in rows})
    return {"channels": channels, "kinds": KINDS, "available": CHANNELS}


def save_settings(session: Session, user_id: int, data: Any) -> dict[str, Any]:
    """Replace a user's choices with `{"channels": {kind: [channel, ...]}}`; 422 naming each bad entry."""
    channels = data.get("channels") if isinstance(data, dict) else None
    if not isinstance(channels, dict):
        raise ValidationError(_("channels is an object of kind → list of channels"), {"channels": _("required")})
    errors: dict[str, str] = {}
    for kind, chosen in channels.items():
        problem = _problem(kind, chosen)
        if problem:
            errors[f"channels.{kind}"] = problem
    if errors:
        raise ValidationError(_("invalid notification settings"), errors)
    session.execute(delete(NotificationSetting).where(NotificationSetting.user_id == user_id))
    session.add_all(NotificationSetting(user_id=user_id, kind=kind, channels=list(dict.fromkeys(chosen)))
                    for kind, chosen in channels.items())
    session.flush()
    return settings_view(session, user_id)


def _problem(kind: Any, chosen: Any) -> str | None:
    if kind not in KINDS:
        return _("unknown kind; one of: %(kinds)s", kinds=', '.join(KINDS))
    if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
        return "a list of channels"
    unknown = [c for c in chosen if c not in CHANNELS]
    if unknown:
        return _("unknown channel %(unknown)s; one of: %(channels)s",
                  unknown=repr(unknown[0]), channels=', '.join(CHANNELS))
    if "email" in chosen and "email_digest" in chosen:
        return _("choose email at once or the daily digest, not both")
    return None


def channels_for(session: Session, user_id: int, kind: str) -> list[str]:
    """The channels a notification of this kind goes to for this user (own choice, else default, else in-app)."""
    rows = {row.kind: row.channels for row in session.scalars(
        select(NotificationSetting).where(NotificationSetting.user_id == user_id,
                                          NotificationSetting.kind.in_((kind, "default"))))}
    if kind in KIND_DEFAULTS:
        return list(rows.get(kind, KIND_DEFAULTS[kind]))
    return list(rows.get(kind, rows.get("default", OPT_IN.get(kind, DEFAULT_CHANNELS))))


def deliver_notification(session: Session, settings: Settings, mailer: Mailer, *, user: User, kind: str, text: str,
                         at: datetime, deal_id: int | None = None, run_id: int | None = None,
                         sender: User | None = None) -> Delivered:
    """Write the rows of one notification for the channels its recipient chose, in the caller's transaction.

    Robot runs pass their run id: every row is unique per (run, user) (per subscription for push), so a run
    notifies each person at most once per channel. Mentions and assignments (run_id None) call it once.
    """
    with use_language(language_of(user)):  # the texts we add (email subject) in the recipient's language
        return _deliver(session, settings, mailer, user=user, kind=kind, text=text, at=at, deal_id=deal_id,
                        run_id=run_id, sender=sender)


def _deliver(session: Session, settings: Settings, mailer: Mailer, *, user: User, kind: str, text: str,
             at: datetime, deal_id: int | None, run_id: int | None, sender: User | None) -> Delivered:
    chosen = channels_for(session, user.id, kind)
    out = Delivered()
    if "in_app" in chosen:
        note = Notification(user_id=user.id, sender_id=sender.id if sender else None, deal_id=deal_id,
                            run_id=run_id, text=text, created_at=at)
        session.add(note)
        session.flush()
        out.notification_id = note.id
    if "email" in chosen and user.email:
        out.email_id = _email(session, settings, mailer, user, text, at, deal_id, run_id, sender)
    if "email_digest" in chosen:
        item = DigestItem(user_id=user.id, run_id=run_id, deal_id=deal_id, kind=kind, text=text, created_at=at)
        session.add(item)
        session.flush()
        out.digest_item_id = item.id
    if "push" in chosen:
        out.push_ids = _push(session, settings, user, text, at, deal_id, run_id)
    return out


def notify_assignment(settings: Settings, mailer: Mailer) -> Callable[[Session, EventRecorded], None]:
    """A bus handler: the new responsible of a deal hears of it (kind `assignment`) unless they did it."""

    def handle(session: Session, recorded: EventRecorded) -> None:
        event = recorded.event
        to = event.data.get("to")
        if event.type != "deal.assigned" or not isinstance(to, int):
            return
        if event.actor_type == "user" and event.actor_id == to:
            return
        user, deal = session.get(User, to), session.get(Deal, event.deal_id)
        if user is None or not user.active or deal is None:
            return
        sender = session.get(User, event.actor_id) if event.actor_type == "user" and event.actor_id else None
        with use_language(language_of(user)):  # in the recipient's language
            deliver_notification(session, settings, mailer, user=user, kind="assignment", at=event.created_at,
                                 text=_("Deal “%(title)s” was assigned to you", title=deal.title), deal_id=deal.id,
                                 sender=sender)

    return handle


def deal_link(settings: Settings, deal_id: int | None) -> str:
    """The absolute URL of a deal page (or of the notifications page when there is no deal)."""
    base = settings.public_url.rstrip("/")
    return f"{base}/deals/{deal_id}" if deal_id else f"{base}/notifications"


def _email(session: Session, settings: Settings, mailer: Mailer, user: User, text: str, at: datetime,
           deal_id: int | None, run_id: int | None, sender: User | None) -> int:
    row = EmailMessage(run_id=run_id, user_id=user.id, deal_id=deal_id, kind="notification",
                       from_address=from_header(sender.name if sender else "CRM", settings.mail_from),
                       to_address=user.email, subject=one_line(_("Notification: %(text)s", text=text), 150),
                       body_text=f"{text}\n\n{deal_link(settings, deal_id)}\n", status=mailer.initial_status(),
                       created_at=at)
    session.add(row)
    session.flush()
    return row.id


def _push(session: Session, settings: Settings, user: User, text: str, at: datetime, deal_id: int | None,
          run_id: int | None) -> list[int]:
    subscriptions = session.scalars(select(PushSubscription).where(PushSubscription.user_id == user.id)
                                    .order_by(PushSubscription.id))
    payload = {"title": "CRM", "body": text[:1000], "url": deal_link(settings, deal_id)}
    rows = [PushMessage(user_id=user.id, subscription_id=sub.id, run_id=run_id, deal_id=deal_id, payload=payload,
                        created_at=at) for sub in subscriptions]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def digest_cutoff(at: datetime, hour: int, zone: tzinfo = UTC) -> datetime:
    """The latest daily digest moment (hour:00 in `zone`, the reader's) at or before `at`."""
    local = at.astimezone(zone)
    today = timezones.localize(local.date(), time(hour), zone)
    return today if at >= today else timezones.localize(local.date() - timedelta(days=1), time(hour), zone)


def send_digests(session: Session, settings: Settings, mailer: Mailer, at: datetime) -> int:
    """One digest email per user with items older than the latest digest moment; returns emails written.

    Items are claimed with a conditional UPDATE: two workers running this at once cannot email an item twice
    (the loser's email row is rolled back with its transaction by the caller).
    """
    # Each reader's digest goes at the digest hour of their own time zone (kanban.timezones.zone_of).
    latest = at + timedelta(days=1)  # no zone's cutoff is later than this: fetch what may be due, filter per user
    pending = list(session.scalars(select(DigestItem).where(DigestItem.email_id.is_(None),
                                                            DigestItem.created_at < latest)
                                   .order_by(DigestItem.user_id, DigestItem.id)))
    written = 0
    for user_id in dict.fromkeys(item.user_id for item in pending):
        user = session.get(User, user_id)
        if user is None or not user.active or not user.email:
            continue
        cutoff = digest_cutoff(at, settings.digest_hour, timezones.zone_of(user))
        items = [item for item in pending if item.user_id == user_id and _aware(item.created_at) < cutoff]
        if not items:
            continue
        lines = [f"- {item.text}\n  {deal_link(settings, item.deal_id)}" for item in items]
        with use_language(language_of(user)):
            subject = ngettext("Your daily digest: %(num)d notification", "Your daily digest: %(num)d notifications",
                               len(items))
        email = EmailMessage(user_id=user.id, kind="digest", to_address=user.email,
                             from_address=from_header("CRM", settings.mail_from), subject=subject,
                             body_text="\n".join(lines) + "\n", status=mailer.initial_status(), created_at=at)
        session.add(email)
        session.flush()
        ids = [item.id for item in items]
        claimed = session.execute(update(DigestItem).where(DigestItem.id.in_(ids), DigestItem.email_id.is_(None))
                                  .values(email_id=email.id).execution_options(synchronize_session=False))
        if claimed.rowcount != len(ids):
            raise RuntimeError("digest items were claimed by another worker")
        written += 1
    return written


def _aware(value: datetime) -> datetime:
    """A stored instant as an aware UTC datetime (SQLite returns naive UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
