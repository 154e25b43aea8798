"""Server-side login sessions (the cookie holds only a random id; its SHA-256 is stored) and login throttling."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from kanban import clock
from kanban.db import insert_ignoring_conflict
from kanban.i18n import _
from kanban.models import Base, User
from kanban.security import hash_password, hash_token, verify_password

TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most once a minute per session


class UserSession(Base):
    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_seen_at: Mapped[datetime] = mapped_column(default=clock.now)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")


class LoginFailure(Base):
    """Failed logins counted per key ("account:<email>" or "ip:<address>") within a window."""

    __tablename__ = "login_failures"
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime]
    blocked_until: Mapped[datetime | None]


@dataclass(frozen=True)
class Timeouts:
    """How long a session lives: since its last request (idle) and since login (absolute)."""

    idle: timedelta
    absolute: timedelta

    @classmethod
    def of(cls, settings: object) -> Timeouts:
        """From Settings (KANBAN_SESSION_IDLE_HOURS, KANBAN_SESSION_MAX_DAYS)."""
        return cls(timedelta(hours=settings.session_idle_hours),  # type: ignore[attr-defined]
                   timedelta(days=settings.session_max_days))  # type: ignore[attr-defined]


def start_session(session: Session, user: User, timeouts: Timeouts, user_agent: str = "",
                  ip: str = "") -> tuple[str, UserSession]:
    """A new session for the user: (the cookie value, the row). Only the value's hash is stored; the user's
    expired sessions are deleted on the way."""
    now = clock.now()
    session.execute(delete(UserSession).where(
        UserSession.user_id == user.id,
        (UserSession.last_seen_at < now - timeouts.idle) | (UserSession.created_at < now - timeouts.absolute),
    ).execution_options(synchronize_session=False))
    token = secrets.token_urlsafe(32)
    row = UserSession(user_id=user.id, token_hash=hash_token(token), user_agent=_clip(user_agent, 300),
                      ip=_clip(ip, 64))
    session.add(row)
    session.flush()
    return token, row


def _clip(value: str, size: int) -> str:
    # Headers may carry anything: keep printable text only, so it is storable and harmless to show.
    return "".join(ch for ch in value if ch.isprintable())[:size]


def active_session(session: Session, token: str | None, timeouts: Timeouts) -> UserSession | None:
    """The live session behind a cookie value (touched), or None (expired rows go at the user's next login)."""
    if not token or len(token) > 200:
        return None
    row = session.scalars(select(UserSession).where(UserSession.token_hash == hash_token(token))).first()
    return _live(row, timeouts)


def active_session_with_user(session: Session, token: str | None,
                             timeouts: Timeouts) -> tuple[UserSession, User] | None:
    """active_session and its user, read in one round trip."""
    if not token or len(token) > 200:
        return None
    found = session.execute(select(UserSession, User).join(User, User.id == UserSession.user_id)
                            .where(UserSession.token_hash == hash_token(token))).first()
    if found is None or _live(found[0], timeouts) is None:
        return None
    return found[0], found[1]


def _live(row: UserSession | None, timeouts: Timeouts) -> UserSession | None:
    if row is None:
        return None
    now = clock.now()
    if now - row.last_seen_at > timeouts.idle or now - row.created_at > timeouts.absolute:
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = now
    return row


def list_sessions(session: Session, user_id: int, timeouts: Timeouts) -> list[UserSession]:
    """The user's live sessions, most recently used first."""
    now = clock.now()
    rows = session.scalars(select(UserSession).where(UserSession.user_id == user_id)
                           .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc()))
    return [r for r in rows if now - r.last_seen_at <= timeouts.idle and now - r.created_at <= timeouts.absolute]


def end_session(session: Session, user_id: int, session_id: int) -> bool:
    """End one of the user's sessions; False when it is not theirs (or already ended)."""
    done = session.execute(delete(UserSession).where(UserSession.id == session_id, UserSession.user_id == user_id)
                           .execution_options(synchronize_session=False))
    return bool(done.rowcount)


def end_user_sessions(session: Session, user_id: int, except_id: int | None = None) -> int:
    """End every session of a user (but `except_id`): logout everywhere, password change, deactivation."""
    stmt = delete(UserSession).where(UserSession.user_id == user_id)
    if except_id is not None:
        stmt = stmt.where(UserSession.id != except_id)
    return int(session.execute(stmt.execution_options(synchronize_session=False)).rowcount or 0)


def change_password(session: Session, user: User, current: str, new: str,
                    keep_session_id: int | None) -> dict[str, str]:
    """Set a new password after checking the current one; ends the user's other sessions. Errors by field."""
    errors: dict[str, str] = {}
    if not verify_password(user.password_hash, current):
        errors["current_password"] = _("this is not your current password")
    if len(new) < 8:
        errors["new_password"] = _("the new password is at least 8 characters")
    if not errors:
        user.password_hash = hash_password(new)
        end_user_sessions(session, user.id, except_id=keep_session_id)
    return errors


@dataclass(frozen=True)
class Throttle:
    """Failures allowed per window before a key is blocked, and for how long."""

    limit: int
    window: timedelta
    block: timedelta


ACCOUNT_THROTTLE = Throttle(5, timedelta(minutes=15), timedelta(minutes=15))
IP_THROTTLE = Throttle(30, timedelta(minutes=15), timedelta(minutes=15))


def blocked_for(session: Session, keys: list[str]) -> int:
    """Seconds until all these keys may try again (0: not blocked)."""
    now = clock.now()
    rows = session.scalars(select(LoginFailure).where(LoginFailure.key.in_(keys), LoginFailure.blocked_until > now))
    return max((int((r.blocked_until - now).total_seconds()) + 1 for r in rows if r.blocked_until), default=0)


def record_failure(session: Session, key: str, rule: Throttle) -> None:
    """Count a failed login for a key; block it once the window holds `limit` failures."""
    now = clock.now()
    session.execute(insert_ignoring_conflict(session, LoginFailure, {
        "key": key, "failures": 0, "window_start": now, "blocked_until": None}, ["key"]))
    row = session.scalars(select(LoginFailure).where(LoginFailure.key == key).with_for_update()).one()
    if now - row.window_start > rule.window:
        row.failures, row.window_start = 0, now
    row.failures += 1
    if row.failures >= rule.limit:
        row.blocked_until = now + rule.block
        row.failures, row.window_start = 0, now


def clear_failures(session: Session, key: str) -> None:
    """A successful login forgets the account's failures."""
    session.execute(delete(LoginFailure).where(LoginFailure.key == key).execution_options(synchronize_session=False))
