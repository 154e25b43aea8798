"""Role use cases: list the permission sets and change their scopes (kanban.policy applies them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban import policy
from kanban.errors import NotFoundError, ValidationError
from kanban.i18n import _
from kanban.models import Role

LABELS = {"admin": "Administrator", "supervisor": "Supervisor", "rep": "Sales rep"}


def list_roles(session: Session) -> list[Role]:
    """Every role: the stored rows, plus built-in roles whose rows are missing (their shipped scopes)."""
    rows = {r.name: r for r in session.scalars(select(Role))}
    for name, scopes in policy.BUILTIN_ROLES.items():
        if name not in rows:
            rows[name] = Role(name=name, label=LABELS.get(name, name), scopes=dict(scopes), builtin=True)
    order = list(policy.BUILTIN_ROLES)
    return sorted(rows.values(), key=lambda r: (order.index(r.name) if r.name in order else len(order), r.name))


def role_names(session: Session) -> list[str]:
    """Names a user's role may take."""
    return [r.name for r in list_roles(session)]


def update_role(session: Session, name: str, scopes: Any) -> Role:
    """Change some scopes of a role (the admin role always keeps everything: it configures the system)."""
    role = next((r for r in list_roles(session) if r.name == name), None)
    if role is None:
        raise NotFoundError(_("role %(name)s not found", name=name))
    if not isinstance(scopes, dict):
        raise ValidationError(_("invalid scopes"), {"scopes": _("an object of action: scope")})
    errors = {f"scopes.{a}": "unknown action" for a in scopes if a not in policy.ACTIONS}
    errors.update({f"scopes.{a}": f"one of {', '.join(policy.SCOPES)}" for a, s in scopes.items()
                   if a in policy.ACTIONS and s not in policy.SCOPES})
    if name == policy.ADMIN:
        errors["scopes"] = _("the admin role always has every permission")
    if errors:
        raise ValidationError(_("invalid scopes"), errors)
    stored = session.get(Role, name)
    if stored is None:  # a built-in role whose row is missing: store it now
        stored = Role(name=name, label=role.label, scopes={}, builtin=role.builtin)
        session.add(stored)
    stored.scopes = {**role.scopes, **scopes}
    session.flush()
    policy.forget_grants(session)
    return stored
