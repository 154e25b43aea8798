"""User, department and API token use cases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kanban import clock
from kanban.db import insert_ignoring_conflict
from kanban.errors import NotFoundError, ValidationError
from kanban.models import ApiToken, Department, User
from kanban.security import hash_password, new_api_token

ROLES = ("admin", "rep")
SYSTEM_EMAIL = "butler@system.local"


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
        errors["email"] = "not a valid email address"
    elif session.scalars(select(User).where(User.email == email)).first():
        errors["email"] = "a user with this email exists"
    if not (name or "").strip():
        errors["name"] = "name is required"
    elif len(name.strip()) > 200:
        errors["name"] = "name is at most 200 characters"
    if phone and len(phone) > 40:
        errors["phone"] = "phone is at most 40 characters"
    if department and len(department) > 200:
        errors["department"] = "department is at most 200 characters"
    if role not in ROLES:
        errors["role"] = "role is admin or rep"
    if password is not None and len(password) < 8:
        errors["password"] = "password is at least 8 characters"
    if errors:
        raise ValidationError("invalid user", errors)
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
        raise NotFoundError(f"no user with email {email}")
    if expires_days is not None and not 1 <= expires_days <= 3650:
        raise ValidationError("invalid expiry", {"expires_days": "between 1 and 3650 days"})
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
        raise NotFoundError(f"token {token_id} not found")
