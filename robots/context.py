"""What a robot kind gets: the run's session and ids, plain template values, render, and helpers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar, cast

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from kanban.config import Settings
from kanban.events import Actor
from kanban.i18n import _
from kanban.models import Deal, Department, Person, User
from kanban.services.deals import MoveResult, move_deal, timeline, update_deal
from kanban.services.users import system_user
from robots.errors import PermanentError

T = TypeVar("T")


@dataclass
class RunContext:
    """Handed to RobotKind.run; kinds add rows to `session` and never commit, open sessions or read clocks."""

    session: Session
    settings: Settings
    run_id: int
    robot_id: int
    robot_key: str
    deal_id: int | None  # None: an automation's run without a deal (its values come from robots.subjects)
    stage_id: int | None
    stage_entry_id: int | None  # None for an automation's run, which has execution_id instead
    now: datetime
    values: dict[str, Any]  # template context: deal, contact, responsible, stage, robots (plain values)
    render_fn: Callable[[str, str, dict[str, Any]], str]  # (template, channel, values) -> text
    cause: tuple[dict[str, Any], ...] = ()
    execution_id: int | None = None
    services: dict[str, Any] = field(default_factory=dict)  # mailer, sms, payments, http
    # Set by the engine for kinds whose effect is "external": see outside().
    outside_fn: Callable[[Callable[[], Any]], Any] = field(default=lambda call: call())

    @property
    def actor(self) -> Actor:
        return Actor("robot", self.robot_id)

    def render(self, template: str, channel: str = "text") -> str:
        """Render a template in the sandbox; channel "html" escapes values, "text" does not."""
        return self.render_fn(template, channel, self.values)

    def deal(self) -> Deal:
        """The deal row, current as of this transaction."""
        deal = self.session.get(Deal, self.deal_id) if self.deal_id is not None else None
        if deal is None:
            raise PermanentError(_("the deal no longer exists") if self.deal_id is not None
                                 else _("this action needs a deal, and the event has none"))
        return deal

    def _subject(self, name: str) -> int | None:
        value = (self.values.get(name) or {}).get("id")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def person_id(self) -> int | None:
        """The person the run acts on: the deal's, or (no deal) the event's person or deleted deal's person."""
        return self.deal().person_id if self.deal_id is not None else self._subject("person")

    def organization_id(self) -> int | None:
        """The organization the run acts on: the deal's (else its person's), or the subject's."""
        if self.deal_id is None:
            return self._subject("organization")
        deal = self.deal()
        if deal.organization_id is not None or deal.person_id is None:
            return deal.organization_id
        person = self.session.get(Person, deal.person_id)
        return person.organization_id if person is not None else None

    def responsible_id(self) -> int | None:
        """The deal's responsible (a deleted deal's: from its snapshot); None for a person or organization."""
        return self.deal().responsible_id if self.deal_id is not None else self._subject("responsible")

    def system_user(self) -> User:
        """The Butler: the named system actor robots act as by default."""
        return system_user(self.session)

    def user(self, user_id: int | None, *, default: str = "responsible") -> User:
        """A configured user, else the deal's responsible (or the Butler when default="system")."""
        if user_id is not None:
            user = self.session.get(User, user_id)
            if user is None:
                raise PermanentError(_("user %(user_id)s does not exist", user_id=user_id))
            return user
        if default == "responsible":
            responsible_id = self.responsible_id()
            if responsible_id is not None:
                user = self.session.get(User, responsible_id)
                if user is not None:
                    return user
        return self.system_user()

    def recipients(self, refs: list[dict[str, Any]]) -> list[User]:
        """Resolve recipient refs (user, role, department, responsible, supervisor, everyone) to active users."""
        found: dict[int, User] = {}
        for ref in refs:
            for user in self._resolve(ref):
                if user.active and user.role != "system":
                    found.setdefault(user.id, user)
        return list(found.values())

    def _resolve(self, ref: dict[str, Any]) -> list[User]:
        kind = ref.get("type")
        users = select(User).where(User.active.is_(True), User.role != "system")
        if kind == "user":
            user = self.session.get(User, ref.get("id"))
            return [user] if user else []
        if kind == "role":
            return list(self.session.scalars(users.where(User.role == ref.get("role"))))
        if kind == "department":
            return list(self.session.scalars(users.where(User.department_id == ref.get("id"))))
        if kind == "everyone":
            return list(self.session.scalars(users))
        responsible_id = self.responsible_id()
        responsible = self.session.get(User, responsible_id) if responsible_id else None
        if kind == "responsible":
            return [responsible] if responsible else []
        if kind == "supervisor":
            head = self.supervisor_of(responsible)
            return [head] if head else []
        raise PermanentError(_("unknown recipient type %(kind)s", kind=repr(kind)))

    def supervisor_of(self, user: User | None) -> User | None:
        """The head of a user's department (None when there is none, or the user is the head)."""
        if user is None or user.department_id is None:
            return None
        dept = self.session.get(Department, user.department_id)
        if dept is None or dept.head_id is None or dept.head_id == user.id:
            return None
        return self.session.get(User, dept.head_id)

    def outside(self, call: Callable[[], T]) -> T:
        """Make a call to the outside world (HTTP, a provider) with no database transaction open during it.

        The engine commits the run as `running` first (rows added before are committed with it) and locks the
        deal and the run again afterwards, so a slow target holds up neither the deal nor, on SQLite, the
        database. If the worker dies during the call, the run is tried again later with the same run id, so
        calls must carry it as their idempotency key.
        """
        return cast(T, self.outside_fn(call))

    def insert(self, model: Any, **values: Any) -> int:
        """Write one row of `model` at once and return its id (a Core INSERT: far cheaper than add + flush)."""
        return int(self.session.execute(_insert_returning_id(model), values).scalar_one())

    def timeline(self, kind: str, text: str, **data: Any) -> Any:
        """Write a timeline entry on the deal as this robot (nothing when the run has no deal)."""
        if self.deal_id is None:
            return None
        return timeline(self.session, self.deal_id, kind, text, self.actor, run_id=self.run_id, **data)

    def update_deal(self, changes: dict[str, Any]) -> Deal:
        """Change deal fields as this robot (fires field_changed triggers)."""
        return update_deal(self.session, self.deal_id, changes, actor=self.actor, cause=self.next_cause())

    def move(self, stage_id: int) -> MoveResult:
        """Move the deal as this robot, carrying the cause chain (the loop guard may refuse)."""
        return move_deal(self.session, self.deal_id, stage_id, actor=self.actor, cause=self.next_cause())

    def next_cause(self) -> tuple[dict[str, Any], ...]:
        """The cause chain for an automatic action taken by this run."""
        return (*self.cause, {"type": "robot", "id": self.robot_id, "run_id": self.run_id})


@lru_cache(maxsize=64)
def _insert_returning_id(model: Any) -> Any:
    # Built once per model: constructing statements costs more CPU than executing them.
    table = model.__table__
    return insert(table).returning(table.c.id)
