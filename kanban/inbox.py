"""Email received: mail fetched from a mailbox over IMAP, stored once per Message-ID, put on its people's deals."""

from __future__ import annotations

import email
import email.policy
import hashlib
import imaplib
import logging
import re
import ssl as tls
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from email.utils import getaddresses
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import ForeignKey, Integer, String, Text, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from kanban.clock import now
from kanban.domain_events import record_event
from kanban.events import SYSTEM
from kanban.i18n import _
from kanban.models import Base, Deal, EmailMessage, Person
from kanban.services.deals import timeline

log = logging.getLogger(__name__)
_MSGID = re.compile(r"<[^<>\s]{1,490}>")
_OUTBOX = re.compile(r"<outbox-(\d{1,12})@([^<>\s]+)>")


class InboundEmail(Base):
    """One received (or, from a connected mailbox's Sent folder, sent) message; the unique Message-ID makes
    fetching it twice harmless."""

    __tablename__ = "inbound_emails"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(500), unique=True)
    from_addr: Mapped[str] = mapped_column(String(320), default="")
    to_addrs: Mapped[list[Any]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    deal_ids: Mapped[list[Any]] = mapped_column(default=list)
    received_at: Mapped[datetime] = mapped_column(default=now)
    # The user's connected mailbox it came from (None: the shared KANBAN_IMAP_URL), "in" or "out" (Sent folder).
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("user_mailboxes.id", ondelete="SET NULL"))
    direction: Mapped[str] = mapped_column(String(3), default="in")


class InboundEmailPerson(Base):
    """A synced email names this person (sender or recipient): the person's page lists it, deals or not."""

    __tablename__ = "inbound_email_persons"
    inbound_email_id: Mapped[int] = mapped_column(ForeignKey("inbound_emails.id", ondelete="CASCADE"),
                                                  primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True,
                                           index=True)


class MailboxState(Base):
    """Where polling of one mailbox got to: its UIDVALIDITY and the highest UID already stored."""

    __tablename__ = "mailbox_states"
    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(400), unique=True)  # user@host:port/folder, never the password
    uidvalidity: Mapped[int] = mapped_column(Integer, default=0)
    last_uid: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


@dataclass(frozen=True)
class Mailbox:
    """A parsed KANBAN_IMAP_URL."""

    ssl: bool
    host: str
    port: int
    user: str
    password: str
    folder: str

    @property
    def key(self) -> str:
        """The mailbox's identity in mailbox_states (no password)."""
        return f"{self.user}@{self.host}:{self.port}/{self.folder}"[:400]


def parse_url(url: str) -> Mailbox:
    """imaps://user:pass@host[:port]/FOLDER (or imap://); the folder defaults to INBOX."""
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
        raise ValueError("KANBAN_IMAP_URL is imap[s]://user:password@host[:port]/FOLDER")
    ssl = parts.scheme == "imaps"
    return Mailbox(ssl, parts.hostname, parts.port or (993 if ssl else 143), unquote(parts.username),
                   unquote(parts.password or ""), unquote(parts.path.lstrip("/")) or "INBOX")


def connect(box: Mailbox, timeout: float = 30) -> imaplib.IMAP4:
    """An IMAP client logged in to the mailbox."""
    # An explicit context: imaplib's default one does not verify the server's certificate.
    client = (imaplib.IMAP4_SSL(box.host, box.port, timeout=timeout, ssl_context=tls.create_default_context())
              if box.ssl else imaplib.IMAP4(box.host, box.port, timeout=timeout))
    try:
        client.login(box.user, box.password)
    except BaseException:
        with suppress(imaplib.IMAP4.error, OSError):
            client.shutdown()
        raise
    return client


@dataclass(frozen=True)
class Source:
    """Which mailbox a folder belongs to: its key in mailbox_states, and for a user's connected mailbox its id,
    our Message-ID domain (to recognise replies to our own emails) and `private` (keep only mail that threads
    to ours or involves a known person: a rep's other mail is none of the CRM's business)."""

    key: str
    mailbox_id: int | None = None
    domain: str | None = None
    private: bool = False


def poll(runtime: Any, url: str) -> int:
    """Fetch the mail not yet seen (UID above the stored high-water mark) and store each message, with the new
    mark, in one transaction: a restart neither fetches a stored message again nor skips one. Returns how many."""
    box = parse_url(url)
    client = connect(box)
    try:
        return poll_folder(runtime, client, box.folder, Source(box.key))
    finally:
        with suppress(imaplib.IMAP4.error, OSError):
            client.logout()


def poll_folder(runtime: Any, client: imaplib.IMAP4, folder: str, source: Source, direction: str = "in") -> int:
    """Read one folder above its high-water mark (`direction` "out" for a Sent folder); returns how many."""
    typ, _data = client.select(quoted(folder), readonly=True)
    if typ != "OK":
        raise imaplib.IMAP4.error(f"cannot select {folder}")
    uidvalidity = int((client.response("UIDVALIDITY")[1] or [b"0"])[0])
    with runtime.sessions() as session, session.begin():
        state = _state(session, source.key)
        # A new UIDVALIDITY means the server renumbered the folder: read it all again (Message-IDs dedupe).
        last = state.last_uid if state.uidvalidity == uidvalidity else 0
    typ, data = client.uid("SEARCH", None, f"UID {last + 1}:*")
    uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > last)  # "n:*" always names the last
    for uid in uids:
        typ, fetched = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
        raw = next((part[1] for part in fetched if isinstance(part, tuple)), None)
        with runtime.sessions() as session, session.begin():
            state = _state(session, source.key, lock=True)
            if raw is not None:
                receive(session, raw, source=source, direction=direction)
            state.uidvalidity, state.last_uid, state.updated_at = uidvalidity, uid, now()
    return len(uids)


def quoted(folder: str) -> str:
    """A folder name as an IMAP quoted string."""
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _state(session: Session, key: str, *, lock: bool = False) -> MailboxState:
    stmt = select(MailboxState).where(MailboxState.mailbox == key)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()  # two workers polling one mailbox take turns per message
    state = session.scalars(stmt).first()
    if state is None:
        state = MailboxState(mailbox=key, uidvalidity=0, last_uid=0, updated_at=now())
        session.add(state)
        session.flush()
    return state


def _message_ids(value: str) -> list[str]:
    return _MSGID.findall(value or "")


def _threaded_deals(session: Session, refs: list[str], domain: str | None) -> list[int]:
    """Deals of the emails this message answers: our own outbox rows (<outbox-N@our domain>) and messages
    received before."""
    if not refs:
        return []
    ours = [int(m.group(1)) for ref in refs if (m := _OUTBOX.match(ref)) and domain and
            m.group(2).lower() == domain.lower()]
    found: list[int] = []
    if ours:
        found += [d for d in session.scalars(select(EmailMessage.deal_id).where(EmailMessage.id.in_(ours[:100])))
                  if d is not None]
    for deal_ids in session.scalars(select(InboundEmail.deal_ids).where(InboundEmail.message_id.in_(refs[:100]))):
        found += [int(d) for d in deal_ids or []]
    return list(dict.fromkeys(found))


def receive(session: Session, raw: bytes, *, source: Source | None = None, direction: str = "in"
            ) -> InboundEmail | None:
    """Store a message once (by Message-ID), link it to its persons, put it on the timeline of the deals it
    threads to and of its persons' open deals, and raise one email.received per deal — and one per person
    without an open deal (data.person_id: their automations act on the person) — not for mail the user sent;
    None when it was stored before or is none of the CRM's business."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    message_id = str(message.get("Message-ID") or "").strip() or "<sha256-" + hashlib.sha256(raw).hexdigest() + ">"
    if session.scalar(select(InboundEmail.id).where(InboundEmail.message_id == message_id[:500])) is not None:
        return None
    domain = source.domain if source else None
    own = _OUTBOX.match(message_id)
    if own and domain and own.group(2).lower() == domain.lower():
        return None  # our own email, in the Sent folder: it is on the timeline since it was written
    sender = [a for _name, a in getaddresses([str(message.get("From") or "")]) if a]
    recipients = [a for _name, a in getaddresses([str(message.get(h) or "") for h in ("To", "Cc")]) if a]
    refs = list(dict.fromkeys(_message_ids(str(message.get("In-Reply-To") or ""))
                              + _message_ids(str(message.get("References") or ""))))
    threaded = _threaded_deals(session, refs, domain)
    persons = _persons_of(session, [*sender, *recipients])
    by_address = _deals_of(session, persons)
    if source is not None and source.private and not threaded and not persons:
        return None
    deal_ids = list(dict.fromkeys([*threaded, *(d.id for d in by_address)]))
    deals = [deal for deal_id in deal_ids if (deal := session.get(Deal, deal_id)) is not None]
    body = message.get_body(preferencelist=("plain", "html"))
    stored = InboundEmail(message_id=message_id[:500], from_addr=(sender[0] if sender else "")[:320],
                          to_addrs=recipients, subject=str(message.get("Subject") or "")[:500],
                          body=(body.get_content() if body is not None else "")[:100_000], received_at=now(),
                          mailbox_id=source.mailbox_id if source else None, direction=direction)
    session.add(stored)
    session.flush()
    session.add_all([InboundEmailPerson(inbound_email_id=stored.id, person_id=p) for p in persons])
    stored.deal_ids = [deal.id for deal in deals]
    for deal in deals:
        if direction == "out":
            text = _("Email sent: %(subject)s", subject=stored.subject or _("(no subject)"))
            timeline(session, deal.id, "email", text, SYSTEM, inbound_email_id=stored.id,
                     from_addr=stored.from_addr, to=recipients)
            continue
        text = _("Email received: %(subject)s", subject=stored.subject or _("(no subject)"))
        timeline(session, deal.id, "email", text, SYSTEM, inbound_email_id=stored.id, from_addr=stored.from_addr)
        record_event(session, "email.received", entity_type="email", entity_id=stored.id, deal_id=deal.id,
                     pipeline_id=deal.pipeline_id, actor=SYSTEM,
                     new={"from": stored.from_addr, "to": recipients, "subject": stored.subject},
                     data={"message_id": message_id, "in_reply_to": refs[:1], "mailbox_id": stored.mailbox_id})
    with_deal = {deal.person_id for deal in deals}
    for person_id in persons if direction == "in" else ():
        if person_id not in with_deal:
            record_event(session, "email.received", entity_type="email", entity_id=stored.id, actor=SYSTEM,
                         new={"from": stored.from_addr, "to": recipients, "subject": stored.subject},
                         data={"message_id": message_id, "person_id": person_id, "in_reply_to": refs[:1],
                               "mailbox_id": stored.mailbox_id})
    session.flush()
    return stored


def _persons_of(session: Session, addresses: list[str]) -> list[int]:
    """Ids of the persons with one of these email addresses (emails are unique case-insensitively)."""
    wanted = {a.strip().lower() for a in addresses if "@" in a}
    if not wanted:
        return []
    return list(session.scalars(select(Person.id).where(Person.email_key.in_(wanted)).order_by(Person.id)))


def _deals_of(session: Session, person_ids: list[int]) -> list[Deal]:
    """Open deals of these persons."""
    if not person_ids:
        return []
    return list(session.scalars(select(Deal).where(Deal.person_id.in_(person_ids), Deal.status == "open")
                                .order_by(Deal.id)))


def emails_of_persons(session: Session, person_ids: list[int], *, limit: int = 50) -> list[InboundEmail]:
    """Received messages from or to these persons, newest first (the person's and organization's pages)."""
    if not person_ids:
        return []
    linked = select(InboundEmailPerson.inbound_email_id).where(InboundEmailPerson.person_id.in_(person_ids))
    return list(session.scalars(select(InboundEmail).where(InboundEmail.id.in_(linked))
                                .order_by(InboundEmail.received_at.desc(), InboundEmail.id.desc()).limit(limit)))


def make_loop(runtime: Any, url: str) -> Callable[[threading.Event], None]:
    """A background loop polling the mailbox every KANBAN_IMAP_INTERVAL seconds until stopped."""

    def imap_poller(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                poll(runtime, url)
            except (imaplib.IMAP4.error, OSError, SQLAlchemyError, ValueError):
                # The server or the database is away: nothing is lost, the high-water mark says where to resume.
                log.exception("imap poller: polling %s failed; retrying", parse_url(url).key)
            stop.wait(runtime.settings.imap_interval)

    return imap_poller


def install(runtime: Any) -> None:
    """Poll KANBAN_IMAP_URL in the worker's background loops (and embedded mode's), when it is set."""
    if runtime.settings.imap_url:
        parse_url(runtime.settings.imap_url)  # a malformed URL stops the process at start, not every poll
        runtime.background.append(make_loop(runtime, runtime.settings.imap_url))
