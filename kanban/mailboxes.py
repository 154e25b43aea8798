"""Connected mailboxes: a user's own SMTP + IMAP account, tested on save, credentials encrypted at rest.

Emails can go out through the user's SMTP server (robots' `send_as`, a rep writing from the deal page), and the
worker polls the user's INBOX and Sent folders into the deal timelines (kanban.inbox does the polling).

The credentials (the two URLs, passwords included) are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a
key derived by HKDF from KANBAN_MAILBOX_KEY, else from KANBAN_SECRET_KEY; the embedded SQLite mode may derive it
from the data directory's generated secret file (the page says so). Production without either refuses to store
credentials with a clear error. Nothing ever returns a password: views show host, port, user name and folder.
"""

from __future__ import annotations

import base64
import imaplib
import logging
import smtplib
import ssl
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import Any
from urllib.parse import quote

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from kanban import inbox
from kanban.clock import now
from kanban.config import Settings
from kanban.errors import UnavailableError, ValidationError
from kanban.i18n import _
from kanban.mail import Mailer, SmtpConfig, from_header
from kanban.mailbox_models import UserMailbox
from kanban.models import EmailMessage, User
from kanban.outbound import OutboundError, public_addresses

log = logging.getLogger(__name__)
TIMEOUT = 15.0  # seconds for each connection test and each sync connection
SENT_NAMES = ("Sent", "Sent Items", "Sent Messages", "INBOX.Sent", "INBOX/Sent")


class MailboxKeyMissingError(UnavailableError):
    """Production without KANBAN_MAILBOX_KEY or KANBAN_SECRET_KEY: credentials cannot be stored safely."""

    code = "mailbox_key_missing"


# --- the key --------------------------------------------------------------------------------------------------


def key_source(settings: Settings) -> str | None:
    """Where the encryption key comes from: the variable's name, "embedded" (the data dir's secret), or None."""
    if settings.mailbox_key and settings.mailbox_key.strip(" ,"):
        return "KANBAN_MAILBOX_KEY"
    if settings.secret_key:
        return "KANBAN_SECRET_KEY"
    return "embedded" if settings.is_sqlite else None


def _derive(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"kanban-mailbox-credentials",
               info=b"fernet").derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def cipher(settings: Settings) -> MultiFernet:
    """The Fernet keys (the first encrypts; all decrypt, so an old key can stay listed during a rotation)."""
    source = key_source(settings)
    if source == "KANBAN_MAILBOX_KEY":
        secrets = [k.strip() for k in (settings.mailbox_key or "").split(",") if k.strip()]
    elif source == "KANBAN_SECRET_KEY":
        secrets = [settings.secret_key or ""]
    elif source == "embedded":
        secrets = [settings.secret]
    else:
        raise MailboxKeyMissingError(_("Connected mailboxes need an encryption key: set KANBAN_MAILBOX_KEY (or "
                                       "KANBAN_SECRET_KEY) in the environment of every web and worker process."))
    return MultiFernet([_derive(s) for s in secrets])


def encrypt(settings: Settings, value: str) -> str:
    return cipher(settings).encrypt(value.encode()).decode()


def decrypt(settings: Settings, token: str) -> str:
    """The stored URL; a permanent OutboundError when the key changed (the user has to connect again)."""
    try:
        return cipher(settings).decrypt(token.encode()).decode()
    except InvalidToken:
        raise OutboundError(_("the mailbox's credentials cannot be decrypted with the current key (was "
                              "KANBAN_MAILBOX_KEY changed?): connect the mailbox again"), transient=False) from None


# --- checking and testing a connection ------------------------------------------------------------------------


def guard(settings: Settings, host: str, port: int) -> None:
    """Refuse mail servers on private, loopback or reserved addresses unless KANBAN_MAILBOX_ALLOW_PRIVATE."""
    if not settings.mailbox_allow_private:
        public_addresses(host, port)


def _security(tls: bool, starttls: bool) -> str:
    return "ssl" if tls else ("starttls" if starttls else "none")


def parse(smtp_url: str, imap_url: str) -> tuple[SmtpConfig, inbox.Mailbox]:
    """Both URLs parsed, with a message per field for what is wrong."""
    errors: dict[str, str] = {}
    smtp = box = None
    try:
        smtp = SmtpConfig.parse(smtp_url)
        if not smtp.username:
            errors["smtp_url"] = _("give the user name and password: smtp://user:password@host:port")
    except ValueError:
        errors["smtp_url"] = _("must look like smtp://user:password@host:587?starttls=1 or smtps://…@host:465")
    try:
        box = inbox.parse_url(imap_url)
    except ValueError:
        errors["imap_url"] = _("must look like imaps://user:password@host[:port] (or imap://), optionally /FOLDER")
    if errors or smtp is None or box is None:
        raise ValidationError(_("the mailbox settings are not valid"), errors)
    return smtp, box


def _smtp_client(cfg: SmtpConfig, timeout: float) -> smtplib.SMTP:
    if cfg.tls:
        return smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=timeout, context=ssl.create_default_context())
    return smtplib.SMTP(cfg.host, cfg.port, timeout=timeout)


def _answer(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {text}".strip()
    if isinstance(exc, imaplib.IMAP4.error) and exc.args:
        first = exc.args[0]
        return first.decode(errors="replace") if isinstance(first, bytes) else str(first)
    return str(exc) or type(exc).__name__


def try_smtp(settings: Settings, cfg: SmtpConfig, timeout: float = TIMEOUT) -> None:
    """Connect, STARTTLS when asked, log in; ValidationError on `smtp_url` with the server's answer otherwise."""
    try:
        guard(settings, cfg.host, cfg.port)
        with _smtp_client(cfg, timeout) as client:
            if cfg.starttls:
                client.starttls(context=ssl.create_default_context())
            client.login(cfg.username or "", cfg.password or "")
    except smtplib.SMTPAuthenticationError as exc:
        raise _refused("smtp_url", _("the SMTP server refused the login: %(answer)s", answer=_answer(exc))) from None
    except (smtplib.SMTPException, OutboundError, OSError) as exc:
        raise _refused("smtp_url", _("SMTP %(host)s:%(port)s: %(answer)s", host=cfg.host, port=cfg.port,
                                     answer=_answer(exc))) from None


def try_imap(settings: Settings, box: inbox.Mailbox, timeout: float = TIMEOUT) -> None:
    """Connect, log in and select the folder; ValidationError on `imap_url` with the server's answer otherwise."""
    try:
        guard(settings, box.host, box.port)
        client = inbox.connect(box, timeout=timeout)
    except (imaplib.IMAP4.error, OutboundError, OSError) as exc:
        raise _refused("imap_url", _("IMAP %(host)s:%(port)s: %(answer)s", host=box.host, port=box.port,
                                     answer=_answer(exc))) from None
    try:
        typ, data = client.select(inbox.quoted(box.folder), readonly=True)
        if typ != "OK":
            answer = b" ".join(d for d in data if isinstance(d, bytes)).decode(errors="replace")
            raise _refused("imap_url", _("IMAP: cannot open the folder %(folder)s: %(answer)s", folder=box.folder,
                                         answer=answer))
    except (imaplib.IMAP4.error, OSError) as exc:
        raise _refused("imap_url", _("IMAP: cannot open the folder %(folder)s: %(answer)s", folder=box.folder,
                                     answer=_answer(exc))) from None
    finally:
        with suppress(imaplib.IMAP4.error, OSError):
            client.logout()


def _refused(field: str, message: str) -> ValidationError:
    error = ValidationError(message, {field: message})
    error.code = "mailbox_connection_failed"
    return error


# --- the service ------------------------------------------------------------------------------------------------


def mailbox_of(session: Session, user_id: int) -> UserMailbox | None:
    return session.scalars(select(UserMailbox).where(UserMailbox.user_id == user_id)).first()


def view(settings: Settings, row: UserMailbox | None) -> dict[str, Any]:
    """What GET /me/mailbox shows: never a password nor the encrypted URLs."""
    base = {"connected": row is not None, "key_source": key_source(settings)}
    if row is None:
        return base
    return {**base, "address": row.address, "smtp": row.smtp_shown, "imap": row.imap_shown,
            "verified_at": _iso(row.verified_at), "last_error": row.last_error,
            "last_error_at": _iso(row.last_error_at), "synced_at": _iso(row.synced_at)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def check(settings: Settings, user: User, data: dict[str, Any]) -> tuple[str, str, str]:
    """Validate and test a PUT body; returns (smtp_url, imap_url, address). Makes network calls: run it with no
    transaction holding locks."""
    smtp_url, imap_url = str(data.get("smtp_url") or "").strip(), str(data.get("imap_url") or "").strip()
    missing = {name: _("required") for name, value in (("smtp_url", smtp_url), ("imap_url", imap_url)) if not value}
    if missing:
        raise ValidationError(_("give the SMTP and the IMAP URL of your mailbox"), missing)
    address = str(data.get("address") or "").strip()
    smtp, box = parse(smtp_url, imap_url)
    if not address:
        address = smtp.username if smtp.username and "@" in smtp.username else user.email
    if "@" not in parseaddr(address)[1] or len(address) > 320 or any(c in address for c in "\r\n<>,"):
        raise ValidationError(_("not an email address"), {"address": _("not an email address")})
    cipher(settings)  # a missing key is said before anyone's password travels anywhere
    try_smtp(settings, smtp)
    try_imap(settings, box)
    return smtp_url, imap_url, address


def save(session: Session, settings: Settings, user_id: int, smtp_url: str, imap_url: str,
         address: str) -> UserMailbox:
    """Store (or replace) the user's tested mailbox, encrypted."""
    smtp, box = parse(smtp_url, imap_url)
    row = mailbox_of(session, user_id)
    if row is None:
        row = UserMailbox(user_id=user_id, created_at=now())
        session.add(row)
    row.address = address
    row.smtp_secret, row.imap_secret = encrypt(settings, smtp_url), encrypt(settings, imap_url)
    row.smtp_shown = {"host": smtp.host, "port": smtp.port, "username": smtp.username,
                      "security": _security(smtp.tls, smtp.starttls)}
    row.imap_shown = {"host": box.host, "port": box.port, "username": box.user, "folder": box.folder,
                      "security": "ssl" if box.ssl else "none"}
    row.verified_at, row.last_error, row.last_error_at, row.updated_at = now(), None, None, now()
    session.flush()
    return row


def retest(settings: Settings, smtp_secret: str, imap_secret: str) -> None:
    """Test a stored connection again (the page's "Test" button); ValidationError with the server's answer."""
    try:
        smtp_url, imap_url = decrypt(settings, smtp_secret), decrypt(settings, imap_secret)
    except OutboundError as exc:
        raise ValidationError(str(exc), {"smtp_url": str(exc)}) from None
    smtp, box = parse(smtp_url, imap_url)
    try_smtp(settings, smtp)
    try_imap(settings, box)


def urls_from_form(form: dict[str, str]) -> dict[str, str]:
    """The page's fields (address, user name, password, hosts, ports, security) as the API's URLs."""
    user = (form.get("username") or form.get("address") or "").strip()
    password = form.get("password") or ""
    cred = f"{quote(user, safe='')}:{quote(password, safe='')}@"
    smtp_security = form.get("smtp_security") or "starttls"
    smtp_scheme = "smtps" if smtp_security == "ssl" else "smtp"
    smtp_port = (form.get("smtp_port") or "").strip() or ("465" if smtp_security == "ssl" else "587")
    query = "?starttls=1" if smtp_security == "starttls" else ""
    imap_ssl = (form.get("imap_security") or "ssl") == "ssl"
    imap_port = (form.get("imap_port") or "").strip() or ("993" if imap_ssl else "143")
    folder = quote((form.get("folder") or "").strip() or "INBOX", safe="")
    smtp_host, imap_host = (form.get("smtp_host") or "").strip(), (form.get("imap_host") or "").strip()
    return {"smtp_url": f"{smtp_scheme}://{cred}{smtp_host}:{smtp_port}{query}" if smtp_host else "",
            "imap_url": f"{'imaps' if imap_ssl else 'imap'}://{cred}{imap_host}:{imap_port}/{folder}"
            if imap_host else "",
            "address": (form.get("address") or "").strip()}


def disconnect(session: Session, settings: Settings, user_id: int) -> bool:
    """Forget the user's mailbox; emails still queued through it go out from the company's sender, saying why."""
    row = mailbox_of(session, user_id)
    if row is None:
        return False
    reason = _("the mailbox %(address)s was disconnected", address=row.address)
    for queued in session.scalars(select(EmailMessage).where(EmailMessage.mailbox_id == row.id,
                                                             EmailMessage.status == "queued")):
        queued.from_address = from_header(parseaddr(queued.from_address)[0], settings.mail_from)
        queued.mailbox_id, queued.fallback_reason = None, reason
        queued.status = "queued" if settings.smtp_url else "captured"
    session.delete(row)
    session.flush()
    return True


def note_error(session: Session, mailbox_id: int, message: str) -> None:
    row = session.get(UserMailbox, mailbox_id)
    if row is not None:
        row.last_error, row.last_error_at = message[:2000], now()


def note_ok(session: Session, mailbox_id: int) -> None:
    row = session.get(UserMailbox, mailbox_id)
    if row is not None:
        row.verified_at, row.last_error, row.last_error_at = now(), None, None


# --- sending ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Senders:
    """Sends outbox rows through their user's mailbox (the delivery loop's helper)."""

    settings: Settings

    def send(self, box: UserMailbox, row: EmailMessage, attachments: Sequence[tuple[str, bytes]] = ()) -> None:
        """Deliver through the user's SMTP server; OutboundError like the company mailer's."""
        url = decrypt(self.settings, box.smtp_secret)
        mailer = Mailer(url, box.address, self.settings.public_url)
        assert mailer.config is not None
        try:
            guard(self.settings, mailer.config.host, mailer.config.port)
        except OutboundError as exc:
            raise OutboundError(str(exc), transient=exc.transient) from exc
        mailer.send(row, attachments)


# --- syncing ----------------------------------------------------------------------------------------------------


def sent_folder(client: imaplib.IMAP4) -> str | None:
    """The Sent folder: the one flagged \\Sent (RFC 6154), else a usual name; None when there is none."""
    typ, data = client.list()
    if typ != "OK":
        return None
    names: list[tuple[str, str]] = []
    for line in data:
        if not isinstance(line, bytes):
            continue
        text = line.decode(errors="replace")
        flags, _sep, rest = text.partition(")")
        name = rest.strip().split(" ", 1)[-1].strip()
        if name.startswith('"') and name.endswith('"'):
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        names.append((flags, name))
    for flags, name in names:
        if "\\sent" in flags.lower():
            return name
    found = {name.lower(): name for _flags, name in names}
    return next((found[n.lower()] for n in SENT_NAMES if n.lower() in found), None)


def sync(runtime: Any, mailbox_id: int) -> int:
    """Poll one connected mailbox (its folder, INBOX by default, and Sent when present); returns messages read."""
    settings = runtime.settings
    with runtime.sessions() as session:
        row = session.get(UserMailbox, mailbox_id)
        if row is None:
            return 0
        user_id, secret = row.user_id, row.imap_secret
    box = inbox.parse_url(decrypt(settings, secret))
    guard(settings, box.host, box.port)
    domain = Mailer(None, settings.mail_from, settings.public_url).domain
    source = inbox.Source(key=f"user:{user_id}:{box.key}", mailbox_id=mailbox_id, domain=domain,
                          private=True)
    client = inbox.connect(box, timeout=TIMEOUT)
    try:
        count = inbox.poll_folder(runtime, client, box.folder, source, direction="in")
        sent = sent_folder(client)
        if sent and sent != box.folder:
            sent_source = inbox.Source(key=f"user:{user_id}:{box.user}@{box.host}:{box.port}/{sent}"[:400],
                                       mailbox_id=mailbox_id, domain=domain, private=True)
            count += inbox.poll_folder(runtime, client, sent, sent_source, direction="out")
    finally:
        with suppress(imaplib.IMAP4.error, OSError):
            client.logout()
    with runtime.sessions() as session, session.begin():
        row = session.get(UserMailbox, mailbox_id)
        if row is not None:
            row.synced_at = now()
    return count


def sync_all(runtime: Any) -> int:
    """Poll every connected mailbox once; a failing one is noted on it and the others go on."""
    with runtime.sessions() as session:
        ids = list(session.scalars(select(UserMailbox.id).order_by(UserMailbox.id)))
    total = 0
    for mailbox_id in ids:
        try:
            total += sync(runtime, mailbox_id)
        except (imaplib.IMAP4.error, OSError, OutboundError, ValueError) as exc:
            log.warning("mailbox %s: sync failed: %s", mailbox_id, exc)
            with suppress(SQLAlchemyError), runtime.sessions() as session, session.begin():
                note_error(session, mailbox_id, _("sync: %(answer)s", answer=_answer(exc)))
    return total


def make_loop(runtime: Any) -> Callable[[threading.Event], None]:
    """The worker's loop syncing connected mailboxes every KANBAN_IMAP_INTERVAL seconds."""

    def mailbox_sync(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                sync_all(runtime)
            except SQLAlchemyError:
                log.exception("mailbox sync: the database is away; retrying")
            stop.wait(runtime.settings.imap_interval)

    return mailbox_sync


def install(runtime: Any) -> None:
    """Sync connected mailboxes in the worker's background loops (and embedded mode's)."""
    runtime.background.append(make_loop(runtime))
