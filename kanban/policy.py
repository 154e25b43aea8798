"""Record-level access: who may read, create, edit, move or delete which deals (one policy for every edge).

A role (kanban.models.Role, named by users.role) gives each deal action a scope:
``none`` · ``own`` (the deal's responsible is you) · ``department`` (its responsible is in your department)
· ``all``. A pipeline whose ``visible_to`` lists departments is invisible (404) to users of other departments;
admins see and configure everything. Robots, triggers and the system act on any deal: only user actors are
checked. Reads out of scope look like a missing deal (NotFoundError); writes to a deal the user may read but
not change are PermissionDeniedError (403 in the API, a message on pages).

Use it like this:
- one deal: ``require(session, user, "edit", deal)`` (services do this for user actors);
- lists/counts: ``readable_deals(session, user, select(Deal))`` or ``scope_clause(session, user, "read")``;
- rows that link a deal (outbox, chats, invoices…): ``.where(deal_link_readable(session, user, Model.deal_id))``;
- pipelines: ``visible_pipeline_ids(session, user)`` / ``require_pipeline(session, user, pipeline_id)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true
from sqlalchemy.orm import Session

from kanban.errors import NotFoundError, PermissionDeniedError
from kanban.events import Actor
from kanban.i18n import _
from kanban.models import Deal, Pipeline, Role, User

ACTIONS = ("read", "create", "edit", "move", "delete")
SCOPES = ("none", "own", "department", "all")
ADMIN = "admin"
SYSTEM = "system"
_CACHE = "policy_grants"
# The built-in roles as shipped (migration 0004 seeds the same rows); a missing row falls back to these.
BUILTIN_ROLES: dict[str, dict[str, str]] = {
    "admin": dict.fromkeys(ACTIONS, "all"),
    "supervisor": dict.fromkeys(ACTIONS, "department"),
    "rep": {"read": "all", "create": "all", "edit": "own", "move": "own", "delete": "own"},
}


class Person(Protocol):
    """What the policy needs of a user: a User row or the request's CurrentUser snapshot."""

    id: int
    role: str
    department_id: int | None


@dataclass(frozen=True)
class Grant:
    """A user's effective permissions, resolved once per session."""

    user_id: int
    department_id: int | None
    role: str
    scopes: dict[str, str]
    hidden_pipelines: frozenset[int]

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    def scope(self, action: str) -> str:
        """The scope of an action (unknown roles and actions: none)."""
        if self.is_admin:
            return "all"
        return self.scopes.get(action, "none")

    @property
    def reads_everything(self) -> bool:
        """Whether the read filter is a no-op (global totals and unfiltered streams are then safe)."""
        return self.scope("read") == "all" and not self.hidden_pipelines


def grant(session: Session, user: Person) -> Grant:
    """The user's permissions (cached in the session: a request resolves them once)."""
    cache: dict[int, Grant] = session.info.setdefault(_CACHE, {})
    found = cache.get(user.id)
    if found is not None and found.role == user.role and found.department_id == user.department_id:
        return found
    role = session.get(Role, user.role) if user.role != ADMIN else None
    stored = role.scopes if role is not None else BUILTIN_ROLES.get(user.role, {})
    scopes = {a: s for a, s in stored.items() if a in ACTIONS and s in SCOPES}
    hidden = frozenset() if user.role == ADMIN else _hidden_pipelines(session, user.department_id)
    cache[user.id] = found = Grant(user.id, user.department_id, user.role, scopes, hidden)
    return found


def forget_grants(session: Session) -> None:
    """Drop cached grants (after roles or pipeline visibility changed in this session)."""
    session.info.pop(_CACHE, None)


def _hidden_pipelines(session: Session, department_id: int | None) -> frozenset[int]:
    rows = session.execute(select(Pipeline.id, Pipeline.visible_to).where(Pipeline.visible_to.is_not(None)))
    return frozenset(pid for pid, visible in rows if not pipeline_visible_to(visible, department_id))


def pipeline_visible_to(visible_to: list[Any] | None, department_id: int | None) -> bool:
    """Whether a pipeline's visible_to (None = all) admits a department."""
    return visible_to is None or (department_id is not None and department_id in visible_to)


def scope_clause(session: Session, user: Person, action: str) -> ColumnElement[bool]:
    """A WHERE clause on Deal matching the deals the user may `action` (pipeline visibility included)."""
    g = grant(session, user)
    conds: list[ColumnElement[bool]] = []
    if g.hidden_pipelines:
        conds.append(Deal.pipeline_id.not_in(sorted(g.hidden_pipelines)))
    scope = g.scope(action)
    if scope == "none":
        return false()
    if scope == "own" or (scope == "department" and g.department_id is None):
        conds.append(Deal.responsible_id == g.user_id)
    elif scope == "department":
        colleagues = select(User.id).where(User.department_id == g.department_id)
        conds.append(or_(Deal.responsible_id == g.user_id, Deal.responsible_id.in_(colleagues)))
    return and_(true(), *conds)


def readable_deals(session: Session, user: Person, stmt: Select[Any]) -> Select[Any]:
    """`stmt` (selecting from deals) narrowed to the deals the user may read."""
    if grant(session, user).reads_everything:
        return stmt
    return stmt.where(scope_clause(session, user, "read"))


def deal_link_readable(session: Session, user: Person, column: Any) -> ColumnElement[bool]:
    """A clause for rows with a nullable deal_id: no deal, or a deal the user may read."""
    if grant(session, user).reads_everything:
        return true()
    readable = select(Deal.id).where(scope_clause(session, user, "read"))
    return or_(column.is_(None), column.in_(readable))


def can(session: Session, user: Person, action: str, deal: Deal) -> bool:
    """Whether the user may `action` this deal (a transient Deal checks a deal about to be created)."""
    g = grant(session, user)
    if deal.pipeline_id in g.hidden_pipelines:
        return False
    scope = g.scope(action)
    if scope in ("all", "none"):
        return scope == "all"
    if deal.responsible_id == g.user_id:
        return True
    if scope == "own" or g.department_id is None or deal.responsible_id is None:
        return False
    responsible = session.get(User, deal.responsible_id)
    return responsible is not None and responsible.department_id == g.department_id


def require(session: Session, user: Person, action: str, deal: Deal) -> Deal:
    """Return the deal when allowed; NotFoundError when the user may not read it, else PermissionDeniedError."""
    if not can(session, user, "read", deal) and action != "create":
        raise NotFoundError(_("deal %(id)s not found", id=deal.id))
    if action != "read" and not can(session, user, action, deal):
        raise PermissionDeniedError(_("your role may not %(action)s this deal", action=action),
                                    {"deal": _("%(action)s not allowed", action=action)})
    return deal


def acting_user(session: Session, actor: Actor) -> User | None:
    """The user behind an actor, when it is a person (robots, triggers and the system are not checked)."""
    if actor.type != "user" or actor.id is None:
        return None
    user = session.get(User, actor.id)
    if user is None or user.role == SYSTEM:
        return None
    return user


def authorize(session: Session, actor: Actor, action: str, deal: Deal) -> None:
    """Services call this: a user actor must be allowed `action` on the deal."""
    user = acting_user(session, actor)
    if user is not None:
        require(session, user, action, deal)


def visible_pipeline_ids(session: Session, user: Person, pipeline_ids: list[int]) -> list[int]:
    """The ids among `pipeline_ids` the user may see, in the given order."""
    hidden = grant(session, user).hidden_pipelines
    return [p for p in pipeline_ids if p not in hidden]


def require_pipeline(session: Session, user: Person, pipeline_id: int) -> None:
    """NotFoundError unless the user may see the pipeline."""
    if pipeline_id in grant(session, user).hidden_pipelines:
        raise NotFoundError(_("pipeline %(pipeline_id)s not found", pipeline_id=pipeline_id))
