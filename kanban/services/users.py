"""User, department and API token use cases; invitations (signed set-password links) and user admin."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kanban import clock
from kanban.company import check_time_zone
from kanban.db import insert_ignoring_conflict
from kanban.errors import NotFoundError, ValidationError
from kanban.i18n import LANGUAGES, _, company_language, use_language
from kanban.logins import end_user_sessions
from kanban.models import ApiToken, Department, EmailMessage, User
from kanban.security import hash_password, new_api_token, signer, unsign
from kanban.services.roles import role_names

SYSTEM_EMAIL = "butler@system.local"
INVITE_SALT = "invitation"
INVITE_MAX_AGE = 7 * 24 * 3600


def get_or_create_department(session: Session, name: str) -> Department:
    """The department with this name, created if missing."""
    dept = session.scalars(select(Department).where(Department.name == name)).one_or_none()
    if dept is None:
        dept = Department(name=name)
        session.add(dept)
        session.flush()
    return dept


def create_user(session: Session, *, email: str, name: str, role: str = "rep", password: str | None = None,
                phone: str | None = None, department: str | None = None) -> User:
    """Create a user; the email is unique (case-insensitive)."""
    errors: dict[str, str] = {}
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 320:
        errors["email"] = _("not a valid email address")
    elif session.scalars(select(User).where(User.email == email)).first():
        errors["email"] = _("a user with this email exists")
    if not (name or "").strip():
        errors["name"] = _("name is required")
    elif len(name.strip()) > 200:
        errors["name"] = _("name is at most 200 characters")
    if phone and len(phone) > 40:
        errors["phone"] = _("phone is at most 40 characters")
    if department and len(department) > 200:
        errors["department"] = _("department is at most 200 characters")
    if role not in role_names(session):
        errors["role"] = "role is one of " + ", ".join(role_names(session))
    if password is not None and len(password) < 8:
        errors["password"] = _("password is at least 8 characters")
    if errors:
        raise ValidationError(_("invalid user"), errors)
    user = User(email=email, name=name.strip(), role=role, phone=phone or None,
                password_hash=hash_password(password) if password else None)
    if department:
        user.department_id = get_or_create_department(session, department).id
    session.add(user)
    session.flush()
    return user


def system_user(session: Session) -> User:
    """The named system actor ("the Butler") robots act as by default."""
    found = select(User).where(User.email == SYSTEM_EMAIL)
    user = session.scalars(found).one_or_none()
    if user is None:
        # Two first uses can race (web and worker): the loser's insert does nothing and it reads the winner's row.
        session.execute(insert_ignoring_conflict(session, User, {
            "email": SYSTEM_EMAIL, "name": "Butler (automation)", "role": "system", "active": True,
            "created_at": clock.now()}, ["email"]))
        user = session.scalars(found).one()
    return user


def create_token(session: Session, email: str, name: str = "cli", expires_days: int | None = None) -> str:
    """Create an API token for a user and return it (only the hash is stored); optionally expiring."""
    user = session.scalars(select(User).where(User.email == email.strip().lower())).one_or_none()
    if user is None:
        raise NotFoundError(_("no user with email %(email)s", email=email))
    if expires_days is not None and not 1 <= expires_days <= 3650:
        raise ValidationError(_("invalid expiry"), {"expires_days": _("between 1 and 3650 days")})
    token, digest = new_api_token()
    expires = clock.now() + timedelta(days=expires_days) if expires_days is not None else None
    session.add(ApiToken(user_id=user.id, token_hash=digest, name=name[:200], expires_at=expires))
    session.flush()
    return token


def list_tokens(session: Session, user_id: int) -> list[ApiToken]:
    """A user's API tokens (expired ones included, so they can be cleaned up), oldest first."""
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)))


def revoke_token(session: Session, token_id: int, user_id: int | None = None) -> None:
    """Delete a token (only the user's own when user_id is given); NotFoundError otherwise."""
    stmt = delete(ApiToken).where(ApiToken.id == token_id)
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    if not session.execute(stmt.execution_options(synchronize_session=False)).rowcount:
        raise NotFoundError(_("token %(token_id)s not found", token_id=token_id))


def _password_marker(user: User) -> str:
    # Part of the hash in the link: once a password is set the link is used up.
    return (user.password_hash or "")[-16:]


def invitation_token(secret: str, user: User) -> str:
    """A signed set-password token for a user (expires after INVITE_MAX_AGE; single use)."""
    return signer(secret, INVITE_SALT).dumps({"u": user.id, "p": _password_marker(user)})


def invited_user(session: Session, secret: str, token: str) -> User | None:
    """The active user a set-password token was made for, or None when forged, expired or used."""
    data = unsign(secret, INVITE_SALT, token, max_age=INVITE_MAX_AGE)
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = session.get(User, data["u"])
    if user is None or not user.active or data.get("p") != _password_marker(user):
        return None
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """Set a user's password (at least 8 characters)."""
    if len(password) < 8:
        raise ValidationError(_("password too short"), {"password": _("password is at least 8 characters")})
    if len(password) > 1000:
        raise ValidationError(_("password too long"), {"password": _("password is at most 1000 characters")})
    user.password_hash = hash_password(password)
    session.flush()


def invite_user(session: Session, *, email: str, name: str, role: str, department_id: int | None,
                secret: str, public_url: str, mail_from: str, mail_status: str) -> User:
    """Create a user without a password and put an invitation with a set-password link in the outbox."""
    _check_department(session, department_id)
    user = create_user(session, email=email, name=name, role=role)
    user.department_id = department_id
    link = f"{public_url.rstrip('/')}/invitation/{invitation_token(secret, user)}"
    days = INVITE_MAX_AGE // 86400
    with use_language(company_language()):  # the invitee has chosen no language yet
        subject = _("You are invited to the CRM")
        body = _("Hello %(name)s,\n\nyou have an account in the CRM. Choose your password here "
                 "(the link works once, for %(days)s days):\n%(link)s\n", name=user.name, days=days, link=link)
    session.add(EmailMessage(
        kind="invitation", from_address=mail_from, to_address=user.email, status=mail_status,
        subject=subject, body_text=body))
    session.flush()
    return user


def _check_department(session: Session, department_id: Any) -> None:
    if department_id is not None and (not isinstance(department_id, int) or isinstance(department_id, bool)
                                      or session.get(Department, department_id) is None):
        raise ValidationError(_("unknown department"), {"department_id": _("unknown department")})


def update_me(session: Session, user: User, changes: dict[str, Any]) -> User:
    """A user's own settings: today their interface language (None: the company's)."""
    unknown = sorted(set(changes) - {"language"})
    if unknown:
        raise ValidationError(_("invalid settings"), {name: _("not a setting you can change") for name in unknown})
    language = changes.get("language", user.language)
    if language is not None and language not in LANGUAGES:
        raise ValidationError(_("invalid settings"),
                              {"language": _("one of %(choices)s, or null", choices=", ".join(LANGUAGES))})
    user.language = language
    session.flush()
    return user


def update_user(session: Session, actor: User, user_id: int, changes: dict[str, Any]) -> User:
    """Change a user's role, department, time zone (None: the company's) or active flag; deactivating revokes
    their API tokens.

    Deactivating also ends the user's web sessions (and kanban.web.deps refuses inactive users anyway).
    Nobody demotes or deactivates themselves: that is how the last admin locks everyone out.
    """
    user = session.get(User, user_id)
    if user is None or user.role == "system":
        raise NotFoundError(_("user %(user_id)s not found", user_id=user_id))
    errors: dict[str, str] = {}
    if "role" in changes and changes["role"] not in role_names(session):
        errors["role"] = _("unknown role")
    if "active" in changes and not isinstance(changes["active"], bool):
        errors["active"] = _("true or false")
    if user.id == actor.id and (changes.get("role", user.role) != user.role or changes.get("active") is False):
        errors["role" if "role" in changes else "active"] = _("you cannot demote or deactivate yourself")
    if "language" in changes and changes["language"] is not None and changes["language"] not in LANGUAGES:
        errors["language"] = _("one of %(choices)s, or null", choices=", ".join(LANGUAGES))
    if "department_id" in changes:
        try:
            _check_department(session, changes["department_id"])
        except ValidationError as exc:
            errors.update(exc.fields)
    if changes.get("time_zone") is not None:
        try:
            check_time_zone(changes["time_zone"])
        except ValidationError as exc:
            errors.update(exc.fields)
    if errors:
        raise ValidationError(_("invalid user"), errors)
    for name in ("role", "department_id", "active", "time_zone", "language"):
        if name in changes:
            setattr(user, name, changes[name])
    if changes.get("active") is False:
        session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
        end_user_sessions(session, user.id)
    session.flush()
    return user
