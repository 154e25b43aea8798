"""Email received: mail fetched from a mailbox over IMAP, stored once per Message-ID, put on its people's deals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kanban.clock import now
from kanban.models import Base


class InboundEmail(Base):
    """One received message; the unique Message-ID makes fetching it twice harmless."""

    __tablename__ = "inbound_emails"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(500), unique=True)
    from_addr: Mapped[str] = mapped_column(String(320), default="")
    to_addrs: Mapped[list[Any]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    deal_ids: Mapped[list[Any]] = mapped_column(default=list)
    received_at: Mapped[datetime] = mapped_column(default=now)


class MailboxState(Base):
    """Where polling of one mailbox got to: its UIDVALIDITY and the highest UID already stored."""

    __tablename__ = "mailbox_states"
    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(400), unique=True)  # user@host:port/folder, never the password
    uidvalidity: Mapped[int] = mapped_column(Integer, default=0)
    last_uid: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
