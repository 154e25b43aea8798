"""Background delivery of the email and SMS outboxes, and the outside-world services robots use."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from email.utils import parseaddr
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from kanban import clock, mailboxes, notifications, push
from kanban.channels import PushMessage, PushSubscription
from kanban.domain_events import EventRecorded
from kanban.events import SYSTEM, bus
from kanban.i18n import _
from kanban.mail import Mailer, RecipientRefusedError, from_header
from kanban.mailbox_models import UserMailbox
from kanban.models import EmailMessage, SmsMessage, User
from kanban.outbound import Http, OutboundError
from kanban.payments import make_payments
from kanban.services.deals import timeline
from kanban.services.documents import attachments_of
from kanban.sms import make_sms_provider

log = logging.getLogger(__name__)

Outbox = type[EmailMessage] | type[SmsMessage] | type[PushMessage]
LEASE = timedelta(minutes=2)  # a row still `sending` after this was lost with its process: send it again
BACKOFF = (timedelta(seconds=10), timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))
MAX_ATTEMPTS = len(BACKOFF) + 1
BATCH = 20


def _claimable(model: Outbox, at: Any) -> Any:
    return or_(
        and_(model.status == "queued", or_(model.next_attempt_at.is_(None), model.next_attempt_at <= at)),
        and_(model.status == "sending", model.next_attempt_at < at),
    )


def claim(sessions: sessionmaker[Session], model: Outbox, limit: int = BATCH) -> list[tuple[int, int]]:
    """Claim due rows (queued→sending, with a lease) by conditional UPDATE; returns (id, attempt) pairs."""
    at = clock.now()
    claimed: list[tuple[int, int]] = []
    with sessions() as session, session.begin():
        ids = session.scalars(select(model.id).where(_claimable(model, at)).order_by(model.id).limit(limit)).all()
        for row_id in ids:
            result = session.execute(
                update(model).where(model.id == row_id, _claimable(model, at))
                .values(status="sending", attempts=model.attempts + 1, next_attempt_at=at + LEASE)
                .returning(model.attempts)
            )
            attempt = result.scalar_one_or_none()
            if attempt is not None:  # another sender may have taken it between the select and the update
                claimed.append((row_id, attempt))
    return claimed


def _finish(sessions: sessionmaker[Session], model: Outbox, row_id: int, attempt: int,
            values: dict[str, Any]) -> None:
    with sessions() as session, session.begin():
        # Only the holder of this attempt's lease may record its outcome.
        session.execute(update(model).where(model.id == row_id, model.status == "sending",
                                            model.attempts == attempt).values(**values))


def _outcome(error: OutboundError | None, attempt: int, sent: dict[str, Any]) -> dict[str, Any]:
    at = clock.now()
    if error is None:
        return {"status": "sent", "sent_at": at, "error": None, "next_attempt_at": None, **sent}
    if error.transient and attempt < MAX_ATTEMPTS:
        return {"status": "queued", "error": str(error)[:2000], "next_attempt_at": at + BACKOFF[attempt - 1]}
    return {"status": "failed", "error": str(error)[:2000], "next_attempt_at": None}


def deliver_emails(sessions: sessionmaker[Session], mailer: Mailer, limit: int = BATCH,
                   senders: mailboxes.Senders | None = None) -> int:
    """Send due queued emails once; returns how many were attempted. A row for a user's connected mailbox goes
    through it; when that mailbox fails for good (gone, refused login, unreachable after the last attempt) the
    row falls back to the company sender, with the reason on the row and on the deal's timeline."""
    claimed = claim(sessions, EmailMessage, limit)
    for row_id, attempt in claimed:
        with sessions() as session:
            row = session.get(EmailMessage, row_id)
            attachments = attachments_of(session, row_id)
            box = session.get(UserMailbox, row.mailbox_id) if row is not None and row.mailbox_id else None
        error = None
        try:
            if row is not None and row.mailbox_id is not None:
                if box is None:
                    raise OutboundError(_("the mailbox was disconnected"), transient=False)
                if senders is None:
                    raise OutboundError(_("this process cannot send through users' mailboxes"), transient=False)
                senders.send(box, row, attachments)
            elif row is not None:
                mailer.send(row, attachments)
        except OutboundError as exc:
            error = exc
        if (row is not None and row.mailbox_id is not None and error is not None
                and not isinstance(error, RecipientRefusedError)
                and (not error.transient or attempt >= MAX_ATTEMPTS)):
            _fall_back(sessions, mailer, row_id, attempt, error)
            continue
        _finish(sessions, EmailMessage, row_id, attempt, _outcome(error, attempt, {}))
    return len(claimed)


def _fall_back(sessions: sessionmaker[Session], mailer: Mailer, row_id: int, attempt: int,
               error: OutboundError) -> None:
    """The user's mailbox failed for good: the row goes out from the company sender (queued again, or captured
    without SMTP), and the reason is written on the row, the mailbox and the deal's timeline."""
    with sessions() as session, session.begin():
        row = session.get(EmailMessage, row_id)
        if row is None:
            return
        mailbox_id = row.mailbox_id
        owner = session.get(UserMailbox, mailbox_id) if mailbox_id else None
        user = session.get(User, owner.user_id) if owner else None
        reason = _("%(who)s's mailbox failed: %(error)s", who=user.name if user else _("the user"),
                   error=str(error)[:500])
        name = parseaddr(row.from_address)[0] or (user.name if user else "")
        done = session.execute(
            update(EmailMessage).where(EmailMessage.id == row_id, EmailMessage.status == "sending",
                                       EmailMessage.attempts == attempt)
            .values(mailbox_id=None, from_address=from_header(name, mailer.mail_from), fallback_reason=reason,
                    status=mailer.initial_status(), attempts=0, next_attempt_at=None, error=None))
        if not done.rowcount:
            return  # another sender holds this row now
        if owner is not None:
            mailboxes.note_error(session, owner.id, str(error))
        if row.deal_id is not None:
            timeline(session, row.deal_id, "email",
                     _("Email “%(subject)s” goes out from the company address instead: %(reason)s",
                       subject=row.subject, reason=reason), SYSTEM, message_id=row.id, run_id=row.run_id,
                     fallback_reason=reason)


def deliver_sms(sessions: sessionmaker[Session], provider: Any, limit: int = BATCH) -> int:
    """Send due queued SMS once through the provider; returns how many were attempted."""
    claimed = claim(sessions, SmsMessage, limit)
    for row_id, attempt in claimed:
        with sessions() as session:
            row = session.get(SmsMessage, row_id)
        error, sent = None, {}
        try:
            if row is not None:
                sent = {"provider_message_id": provider.send(row)[:200]}
        except OutboundError as exc:
            error = exc
        _finish(sessions, SmsMessage, row_id, attempt, _outcome(error, attempt, sent))
    return len(claimed)


def deliver_push(sessions: sessionmaker[Session], http: Http, vapid: push.Vapid, *, allow_private: bool,
                 limit: int = BATCH) -> int:
    """Send due queued pushes once; a subscription the push service calls gone (404/410) is deleted."""
    claimed = claim(sessions, PushMessage, limit)
    for row_id, attempt in claimed:
        with sessions() as session:
            row = session.get(PushMessage, row_id)
            sub = session.get(PushSubscription, row.subscription_id) if row and row.subscription_id else None
        error = None
        try:
            if sub is None:
                raise OutboundError("the push subscription was removed", transient=False)
            push.send(http, vapid, sub, row.payload, clock.now(), allow_private=allow_private)
        except OutboundError as exc:
            error = exc
        if error is not None and error.status in push.GONE and sub is not None:
            with sessions() as session, session.begin():
                session.execute(delete(PushSubscription).where(PushSubscription.id == sub.id))
        _finish(sessions, PushMessage, row_id, attempt, _outcome(error, attempt, {}))
    return len(claimed)


def digest_step(sessions: sessionmaker[Session], settings: Any, mailer: Mailer) -> int:
    """Write the daily digest emails that are due (0 almost always: the loop then naps)."""
    with sessions() as session, session.begin():
        notifications.send_digests(session, settings, mailer, clock.now())
    return 0  # digests are written in one go; nothing left to hurry for


def delivery_loop(step: Callable[[], int], name: str, idle: float = 0.5) -> Callable[[threading.Event], None]:
    """A background loop calling `step` until stopped; it naps only when there was nothing to send."""

    def loop(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                busy = step()
            except Exception:  # noqa: BLE001 - loop boundary: a DB hiccup must not end delivery for good
                log.exception("%s delivery failed; retrying", name)
                busy = 0
            if not busy:
                stop.wait(idle)

    loop.__name__ = f"{name}_delivery_loop"
    return loop


def install(runtime: Any) -> None:
    """Build mailer, SMS, payments and HTTP services into runtime.extras and register the delivery loops."""
    settings = runtime.settings
    http = Http()
    mailer = Mailer(settings.smtp_url, settings.mail_from, settings.public_url)
    sms = make_sms_provider(settings.sms_url, settings.sms_token, http)
    payments = make_payments(settings.payments_kind, settings.public_url, settings.stripe_api_base,
                             settings.stripe_api_key, http)
    vapid = push.Vapid(settings)
    senders = mailboxes.Senders(settings)
    bus.subscribe(EventRecorded, notifications.notify_assignment(settings, mailer))
    runtime.extras["services"] = {"mailer": mailer, "sms": sms, "payments": payments, "http": http, "vapid": vapid,
                                "mailboxes": senders}
    runtime.background.append(delivery_loop(
        lambda: deliver_push(runtime.sessions, http, vapid, allow_private=settings.push_allow_private), "push"))
    runtime.background.append(delivery_loop(lambda: digest_step(runtime.sessions, settings, mailer), "digest",
                                            idle=60.0))
    # Always: even without a company SMTP server, emails sent through users' connected mailboxes are queued.
    runtime.background.append(delivery_loop(lambda: deliver_emails(runtime.sessions, mailer, senders=senders),
                                            "email"))
    if sms.delivers:
        runtime.background.append(delivery_loop(lambda: deliver_sms(runtime.sessions, sms), "sms"))
    runtime.shutdown.append(http.close)
