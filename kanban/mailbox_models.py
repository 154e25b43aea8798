"""The connected-mailbox table (its logic is kanban.mailboxes): registered with the models, so the outbox and
received email can point at it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kanban.clock import now
from kanban.models import Base


class UserMailbox(Base):
    """One user's connected mailbox: encrypted URLs, what may be shown of them, and its health."""

    __tablename__ = "user_mailboxes"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    address: Mapped[str] = mapped_column(String(320))  # the From address
    smtp_secret: Mapped[str] = mapped_column(Text)  # Fernet token of the SMTP URL (password included)
    imap_secret: Mapped[str] = mapped_column(Text)  # Fernet token of the IMAP URL
    smtp_shown: Mapped[dict[str, Any]] = mapped_column(default=dict)  # host, port, username, security
    imap_shown: Mapped[dict[str, Any]] = mapped_column(default=dict)  # host, port, username, security, folder
    verified_at: Mapped[datetime] = mapped_column(default=now)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    synced_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
