"""Which trigger an event fires for a deal (earliest later stage whose condition holds), and the move."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban import conditions as core_conditions
from kanban import decisions
from kanban.events import Actor
from kanban.i18n import _
from kanban.models import Deal, Stage, User
from kanban.services.deals import move_deal, timeline
from kanban.services.users import SYSTEM_EMAIL
from triggers.conditions import deal_values, evaluate, lookup
from triggers.inbound import db_id
from triggers.models import Trigger
from triggers.registry import Occurrence, registry


@dataclass
class Resolution:
    """The winning trigger and its stage, or None with the reason nothing applies."""

    trigger: Trigger | None
    stage: Stage | None
    reason: str
    relevant: bool  # some active trigger of the pipeline reacts to this kind of event at all
    # Every other trigger considered: (trigger, stage, outcome, reason, compared values) for "Why?".
    verdicts: list[tuple[Trigger, Stage, str, str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class Outcome:
    """What firing an event did to its deal."""

    status: str  # processed | ignored
    text: str
    trigger_id: int | None = None
    stage_id: int | None = None


def _relevant(session: Session, deal: Deal, kinds: list[str], event: Occurrence, *, active: bool = True
              ) -> list[tuple[Trigger, Stage]]:
    rows = session.execute(
        select(Trigger, Stage).join(Stage, Stage.id == Trigger.stage_id)
        .where(Stage.pipeline_id == deal.pipeline_id, Stage.archived.is_(False), Trigger.kind.in_(kinds),
               Trigger.active.is_(active))
        .order_by(Stage.position, Trigger.position, Trigger.id)
    ).all()
    found = []
    for trigger, stage in rows:
        if trigger.kind not in registry:
            continue
        kind = registry.get(trigger.kind)()
        try:
            settings = kind.Settings.model_validate(trigger.settings or {})
        except ValueError:
            if active:
                raise
            continue  # a disabled trigger's stale settings are not worth failing the event for
        if kind.matches(trigger.id, settings, event):
            found.append((trigger, stage))
    return found


def _compared(condition: dict[str, Any] | None, values: dict[str, Any]) -> dict[str, Any]:
    """The actual values of a condition's failed comparisons."""
    return core_conditions.evaluate(condition, values, lookup)[1]


def resolve(session: Session, deal: Deal, kinds: list[str], event: Occurrence) -> Resolution:
    """Candidates: matching active triggers on later stages (any stage with allow_backward); earliest wins."""
    relevant = _relevant(session, deal, kinds, event)
    if not relevant:
        return Resolution(None, None, "no active trigger in this pipeline reacts to it", False)
    current = session.get(Stage, deal.stage_id)
    here = current.position if current is not None else -1
    verdicts: list[tuple[Trigger, Stage, str, str, dict[str, Any]]] = []
    candidates = []
    for t, s in relevant:
        if s.id != deal.stage_id and (s.position > here or t.allow_backward):
            candidates.append((t, s))
        elif s.id == deal.stage_id:
            verdicts.append((t, s, "not_matched", _("the deal is already in “%(stage)s”", stage=s.name), {}))
        else:
            verdicts.append((t, s, "not_matched",
                             _("“%(stage)s” comes before the deal's stage “%(current)s” and backward moves are off",
                               stage=s.name, current=current.name if current else "?"), {}))
    if not candidates:
        if any(s.id == deal.stage_id for _t, s in relevant):
            return Resolution(None, None, f"deal already in “{current.name if current else '?'}”", True,
                              verdicts)
        latest = max((s for _t, s in relevant), key=lambda s: s.position)
        return Resolution(None, None, f"deal already past “{latest.name}”", True, verdicts)
    values = deal_values(session, deal)
    failures = []
    winner: tuple[Trigger, Stage] | None = None
    for trigger, stage in candidates:
        holds, why = evaluate(trigger.condition, values)
        if holds and winner is None:
            winner = (trigger, stage)
        elif holds and winner is not None:
            verdicts.append((trigger, stage, "lost_to_earlier",
                             _("also matched, but “%(winner)s” on the earlier stage “%(stage)s” won",
                               winner=winner[0].name, stage=winner[1].name), {}))
        else:
            if winner is None:
                failures.append(f"“{trigger.name}”: {why}")
            verdicts.append((trigger, stage, "not_matched", _("condition not met: %(why)s", why=why),
                             _compared(trigger.condition, values)))
    if winner is not None:
        return Resolution(winner[0], winner[1], "", True, verdicts)
    return Resolution(None, None, "condition not met — " + "; ".join(failures), True, verdicts)


def _record(session: Session, deal: Deal, kinds: list[str], event: Occurrence, phrase: str,
            found: Resolution) -> None:
    """Every trigger the event was weighed against goes to the deal's decisions ("Why?"), in this transaction:
    the ones that lost or did not match, disabled ones, and, when none reacts at all, the event itself."""
    for trigger, _stage, outcome, reason, compared in found.verdicts:
        decisions.record(session, deal.id, "trigger", trigger.id, trigger.name, outcome, f"{phrase}: {reason}",
                         compared)
    for trigger, _stage in _relevant(session, deal, kinds, event, active=False):
        decisions.record(session, deal.id, "trigger", trigger.id, trigger.name, "inactive",
                         _("%(event)s: the trigger is disabled", event=phrase))
    if not found.relevant:
        decisions.record(session, deal.id, "trigger", None, phrase, "not_matched",
                         _("%(event)s — no active trigger in this pipeline reacts to it", event=phrase),
                         {"kinds": ", ".join(kinds)})


def fire(session: Session, deal_id: int, kinds: list[str], event: Occurrence, *,
         quiet_when_irrelevant: bool = False) -> Outcome:
    """Resolve and move the deal at most once, writing a "trigger" timeline entry either way."""
    deal = session.get(Deal, deal_id) if db_id(deal_id) else None
    if deal is None:
        return Outcome("ignored", f"deal {deal_id} not found")
    phrase = registry.get(event.kind)().describe(event) if event.kind in registry else event.kind
    found = resolve(session, deal, kinds, event)
    _record(session, deal, kinds, event, phrase, found)
    if found.trigger is None or found.stage is None:
        text = f"{phrase} — no trigger applies: {found.reason}"
        if found.relevant or not quiet_when_irrelevant:
            timeline(session, deal.id, "trigger", text, Actor("system"), matched=False,
                     event_id=event.event_id, kinds=kinds)
        return Outcome("ignored", text)
    trigger, stage = found.trigger, found.stage
    # Look the Butler up, never create it here: concurrent event processors would race on its unique email.
    mover = trigger.move_as_id or session.scalar(select(User.id).where(User.email == SYSTEM_EMAIL))
    cause: tuple[dict[str, Any], ...] = (*event.cause, {"type": "trigger", "id": trigger.id,
                                                         "event_id": event.event_id})
    timeline(session, deal.id, "trigger", f"Trigger “{trigger.name}” fired on {phrase}: moving to “{stage.name}”",
             Actor("trigger", trigger.id), matched=True, trigger_id=trigger.id, stage_id=stage.id,
             event_id=event.event_id, move_as_id=mover)
    result = move_deal(session, deal.id, stage.id, actor=Actor("trigger", trigger.id), cause=cause)
    if result.blocked:
        decisions.record(session, deal.id, "trigger", trigger.id, trigger.name, "blocked",
                         f"{phrase}: {result.blocked}")
        return Outcome("ignored", f"{phrase} — trigger “{trigger.name}” blocked: {result.blocked}", trigger.id)
    decisions.record(session, deal.id, "trigger", trigger.id, trigger.name, "ran",
                     _("%(event)s: moved the deal to “%(stage)s”", event=phrase, stage=stage.name))
    return Outcome("processed", f"{phrase} — trigger “{trigger.name}” moved the deal to “{stage.name}”",
                   trigger.id, stage.id)
