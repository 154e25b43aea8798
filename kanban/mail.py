"""The mailer: SMTP delivery when KANBAN_SMTP_URL is set, otherwise emails stay captured for the dev mailbox."""

from __future__ import annotations

import html
import re
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage as MimeMessage
from email.utils import formataddr, formatdate
from urllib.parse import parse_qs, unquote, urlsplit

from kanban.models import EmailMessage
from kanban.outbound import OutboundError

_TAGS = re.compile(r"<[^>]+>")
_BLOCKS = re.compile(r"<\s*(br|/p|/div|/li|/h[1-6]|/tr)\b[^>]*>", re.IGNORECASE)
_HIDDEN = re.compile(r"<(style|script|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_ANCHOR = re.compile(r"""<a\b[^>]*?\bhref\s*=\s*(["'])(https?://[^"'<>\s]+)\1[^>]*>(.*?)</a\s*>""",
                     re.IGNORECASE | re.DOTALL)


class RecipientRefusedError(OutboundError):
    """The server refused the recipient: another sender would be refused too."""


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to deliver: parsed from smtp://user:pass@host:port?starttls=1 (or smtps:// for TLS)."""

    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool
    starttls: bool
    timeout: float

    @classmethod
    def parse(cls, url: str) -> SmtpConfig:
        """Parse an SMTP URL; raises ValueError for anything that is not smtp:// or smtps://."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("KANBAN_SMTP_URL must look like smtp://user:pass@host:port or smtps://...")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
            starttls=query.get("starttls", "0").lower() in ("1", "true", "yes"),
            timeout=float(query.get("timeout", "20")),
        )


def html_to_text(body_html: str) -> str:
    """A plain-text alternative of an HTML body (tags dropped, block ends become line breaks, links keep
    their URL: "pay online (https://…)")."""
    text = _ANCHOR.sub(_link_text, _HIDDEN.sub("", body_html))
    text = _BLOCKS.sub("\n", text)
    text = html.unescape(_TAGS.sub("", text))
    return "\n".join(line.strip() for line in text.splitlines()).strip()


def _link_text(match: re.Match[str]) -> str:
    """An anchor as "label (URL)"; a label that already is the URL is not repeated."""
    label, url = match.group(3), match.group(2)
    if html.unescape(_TAGS.sub("", label)).strip() == html.unescape(url):
        return label
    return f"{label} ({url})"


def one_line(value: str, limit: int = 500) -> str:
    """A header-safe single line: line breaks folded into spaces (no header injection), capped."""
    return " ".join(value.split())[:limit]


def from_header(name: str, address: str) -> str:
    """A From value showing who it is from while sending from the CRM's own address (SPF/DKIM stay valid)."""
    return formataddr((one_line(name, 100), address))


class Mailer:
    """Builds MIME messages from outbox rows and sends them over SMTP when configured."""

    def __init__(self, smtp_url: str | None, mail_from: str, public_url: str) -> None:
        self.config = SmtpConfig.parse(smtp_url) if smtp_url else None
        self.mail_from = mail_from
        self.domain = urlsplit(public_url).hostname or "localhost"

    @property
    def configured(self) -> bool:
        """True when an SMTP server is configured (rows are queued for delivery, else captured)."""
        return self.config is not None

    def initial_status(self) -> str:
        """Status of a new outbox row: `queued` for the delivery loop, or `captured` for the dev mailbox."""
        return "queued" if self.configured else "captured"

    def build(self, row: EmailMessage, attachments: Sequence[tuple[str, bytes]] = ()) -> MimeMessage:
        """The MIME message for an outbox row (with PDF attachments); a stable Message-ID lets a resend be
        deduplicated."""
        msg = MimeMessage()
        msg["From"] = one_line(row.from_address, 320)
        msg["To"] = one_line(row.to_address, 320)
        msg["Subject"] = one_line(row.subject)
        msg["Date"] = formatdate(row.created_at.timestamp(), usegmt=True) if row.created_at else formatdate()
        msg["Message-ID"] = f"<outbox-{row.id}@{self.domain}>"
        msg.set_content(row.body_text or (html_to_text(row.body_html) if row.body_html else ""))
        if row.body_html:
            msg.add_alternative(row.body_html, subtype="html")
        for filename, content in attachments:
            msg.add_attachment(content, maintype="application", subtype="pdf", filename=filename)
        return msg

    def send(self, row: EmailMessage, attachments: Sequence[tuple[str, bytes]] = ()) -> None:
        """Deliver one outbox row; raises OutboundError (permanent for 5xx refusals, else transient)."""
        if self.config is None:
            raise OutboundError("no SMTP server is configured", transient=False)
        cfg = self.config
        message = self.build(row, attachments)
        try:
            if cfg.tls:
                client: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout,
                                                        context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
            with client:
                if cfg.starttls:
                    client.starttls(context=ssl.create_default_context())
                if cfg.username:
                    client.login(cfg.username, cfg.password or "")
                client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise RecipientRefusedError(f"recipient refused: {exc.recipients}",
                                        transient=not all(c >= 500 for c in codes)) from exc
        except smtplib.SMTPResponseException as exc:
            raise OutboundError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", transient=exc.smtp_code < 500) from exc
        except smtplib.SMTPNotSupportedError as exc:  # e.g. AUTH only after STARTTLS: a settings problem
            raise OutboundError(f"SMTP server: {exc}", transient=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise OutboundError(f"SMTP connection failed: {exc}", transient=True) from exc
