"""What a robot does, in words, for the automation view's cards (as Bitrix24's cards say it): recipients, a text
excerpt, the delay, the condition ("if amount > 3,000"), the outputs it uses, its last run and its failures."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kanban.i18n import _
from kanban.models import Department, Stage, User
from kanban.web.condition_form import words as condition_words
from robots import forms
from robots.models import Robot, RobotRun
from robots.registry import RobotKind

OUTPUT_RE = re.compile(r"robots\.([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)")
CODE_RE = re.compile(r"`([^`]+)`")
EXCERPT = 90
TEXT_FIELDS = ("text", "subject", "title", "message", "body", "url", "name")


@dataclass
class Summary:
    """One robot's card text."""

    recipients: str = ""
    excerpt: str = ""
    delay: str = ""
    condition: str = ""
    target: str = ""
    outputs_used: list[str] = field(default_factory=list)
    last_run: datetime | None = None
    last_status: str | None = None
    failures: int = 0


def describe(session: Session, robots: list[Robot], kinds: dict[str, type[RobotKind]]) -> dict[int, Summary]:
    """A summary per robot id (two grouped queries for the runs, one per name lookup)."""
    users, departments, stages = _names(session, robots)
    runs = _run_stats(session, [r.id for r in robots])
    out = {}
    for robot in robots:
        settings = robot.settings or {}
        last = runs.get(robot.id, {})
        out[robot.id] = Summary(
            recipients=_recipients(robot.kind, settings, users, departments),
            excerpt=_excerpt(settings, kinds.get(robot.kind)),
            delay=forms.delay_label(robot.delay) or _("immediately"),
            condition=condition_words(robot.condition),
            target=stages.get(settings.get("stage_id"), "") if robot.kind == "change_stage" else "",
            outputs_used=sorted({f"{k}.{o}" for k, o in OUTPUT_RE.findall(json.dumps([settings, robot.condition]))}),
            last_run=last.get("at"), last_status=last.get("status"), failures=last.get("failures", 0),
        )
    return out


def kind_description(cls: type[RobotKind]) -> Markup:
    """The first line of a kind's docstring with `code` spans as <code> (not literal backticks)."""
    first = (cls.__doc__ or "").strip().split("\n")[0]
    first = _(first) if first else first  # docstrings are extracted for translation (kanban.i18n_extract)
    return Markup(CODE_RE.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(first))))


def _recipients(kind: str, settings: dict[str, Any], users: dict[int, str], departments: dict[int, str]) -> str:
    refs = [r for v in settings.values() if isinstance(v, list) for r in v
            if isinstance(r, dict) and "type" in r]
    if not refs:
        return {"email_client": _("the client (the deal's person)"), "sms_client": _("the client's phone"),
                "notify_supervisor": _("the responsible's supervisor")}.get(kind, "")
    words = {"responsible": _("the responsible"), "supervisor": _("the responsible's supervisor"),
             "everyone": _("everyone")}
    names = []
    for ref in refs:
        kind_of = ref.get("type")
        if kind_of == "user":
            names.append(users.get(ref.get("id"), _("user %(id)s", id=ref.get("id"))))
        elif kind_of == "department":
            names.append(_("department %(name)s", name=departments.get(ref.get("id"), ref.get("id"))))
        elif kind_of == "role":
            names.append(_("all admins") if ref.get("role") == "admin" else _("all reps"))
        else:
            names.append(words.get(kind_of, str(kind_of)))
    return ", ".join(names)


def _excerpt(settings: dict[str, Any], cls: type[RobotKind] | None) -> str:
    order = [*TEXT_FIELDS, *(cls.templates if cls else ())]
    for name in dict.fromkeys(order):
        value = settings.get(name)
        if isinstance(value, str) and value.strip():
            text = re.sub(r"<[^>]+>", " ", value)
            text = " ".join(text.split())
            return text if len(text) <= EXCERPT else text[:EXCERPT - 1] + "…"
    return ""


def _names(session: Session, robots: list[Robot]) -> tuple[dict[int, str], dict[int, str], dict[Any, str]]:
    ids = json.dumps([r.settings for r in robots])
    users = dict(session.execute(select(User.id, User.name)).all()) if '"user"' in ids else {}
    departments = dict(session.execute(select(Department.id, Department.name)).all()) if '"department"' in ids else {}
    targets = {r.settings.get("stage_id") for r in robots if r.kind == "change_stage" and r.settings}
    stages = dict(session.execute(select(Stage.id, Stage.name).where(Stage.id.in_(targets))).all()) if targets else {}
    return users, departments, stages


def _run_stats(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    out: dict[int, dict[str, Any]] = {}
    failed = session.execute(select(RobotRun.robot_id, func.count()).where(RobotRun.robot_id.in_(ids),
                                                                           RobotRun.status == "failed")
                             .group_by(RobotRun.robot_id))
    for robot_id, count in failed:
        out.setdefault(robot_id, {})["failures"] = count
    latest = select(func.max(RobotRun.id)).where(RobotRun.robot_id.in_(ids), RobotRun.finished_at.is_not(None)) \
        .group_by(RobotRun.robot_id)
    for robot_id, status, at in session.execute(select(RobotRun.robot_id, RobotRun.status, RobotRun.finished_at)
                                                .where(RobotRun.id.in_(latest))):
        out.setdefault(robot_id, {}).update(status=status, at=at)
    return out
