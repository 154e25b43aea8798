"""Domain events (past tense) and the plain dict of handlers the composition root fills."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Actor:
    """Who did something: a user, a robot, a trigger or the system."""

    type: str  # user | robot | trigger | system
    id: int | None = None

    @property
    def automatic(self) -> bool:
        return self.type in ("robot", "trigger")

    @classmethod
    def user(cls, user_id: int) -> Actor:
        return cls("user", user_id)

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id}


SYSTEM = Actor("system", None)


@dataclass(frozen=True)
class DealMoved:
    """A deal entered a stage: by creation (from_stage_id None) or by a move."""

    deal_id: int
    from_stage_id: int | None
    to_stage_id: int
    entry_id: int
    previous_entry_id: int | None
    actor: Actor
    cause: tuple[dict[str, Any], ...] = ()
    created: bool = False
    run_robots: bool = True  # False: the new stage's robots are not started (an admin chose so)


@dataclass(frozen=True)
class DealsMoved:
    """Several deals entered a stage in one bulk move (kanban.services.deals.bulk_move_chunk), published once
    per chunk instead of one DealMoved per deal, so subscribers can act set-wise. `bulk`: the work it causes
    (robot runs) may yield to single moves made by people."""

    moves: tuple[DealMoved, ...]
    bulk: bool = True


@dataclass(frozen=True)
class DealFieldsChanged:
    """Fields of a deal changed; `changes` maps field name to (old, new)."""

    deal_id: int
    changes: dict[str, tuple[Any, Any]]
    actor: Actor
    cause: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class DealDeleted:
    """A person deleted a deal (its runs, entries and timeline went with it)."""

    deal_id: int
    pipeline_id: int
    stage_id: int
    actor: Actor


Handler = Callable[[Session, Any], None]


@dataclass
class Bus:
    """Handlers keyed by event type; they run inside the publisher's transaction."""

    handlers: dict[type, list[Handler]] = field(default_factory=lambda: defaultdict(list))

    def subscribe(self, event_type: type, handler: Handler) -> None:
        if handler not in self.handlers[event_type]:
            self.handlers[event_type].append(handler)

    def publish(self, session: Session, event: Any) -> None:
        for handler in self.handlers.get(type(event), []):
            handler(session, event)


bus = Bus()
