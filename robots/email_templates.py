"""Email templates: a library of named subject + HTML (+ text) bodies, checked at save like robot templates.

They live beside the robots because they are written in the robots' template language (the sandbox of
robots/templating.py, the placeholders of robots/values.py) and are used by the robot kinds `email_client` and
`email_employee` and by the deal page's compose form (robots/compose.py); the core never needs them.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from kanban.clock import now
from kanban.errors import ConflictError, NotFoundError, ValidationError
from kanban.i18n import _
from kanban.models import Base
from robots.templating import TemplateError, placeholders

EMAIL_KINDS = ("email_client", "email_employee")
FIELDS = {"name": 200, "subject": 500, "body_html": 100_000, "body_text": 100_000, "language": 10}
REQUIRED = ("name", "subject", "body_html")
LANGUAGE_RE = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")


class EmailTemplate(Base):
    __tablename__ = "email_templates"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    subject: Mapped[str] = mapped_column(String(500))
    body_html: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


def template_view(row: EmailTemplate) -> dict[str, Any]:
    """The API shape of a template."""
    return {"id": row.id, "name": row.name, "subject": row.subject, "body_html": row.body_html,
            "body_text": row.body_text, "language": row.language,
            "created_at": row.created_at.isoformat() if row.created_at else None}


def list_templates(session: Session) -> list[EmailTemplate]:
    """Every template, by name."""
    return list(session.scalars(select(EmailTemplate).order_by(EmailTemplate.name, EmailTemplate.id)))


def get_template(session: Session, template_id: Any) -> EmailTemplate:
    """One template, or NotFoundError."""
    valid = isinstance(template_id, int) and 0 < template_id < 2**31
    row = session.get(EmailTemplate, template_id) if valid else None
    if row is None:
        raise NotFoundError(_("email template %(template_id)s not found", template_id=template_id))
    return row


def create_template(session: Session, data: Any) -> EmailTemplate:
    """Validate and add a template (422 naming each bad field, unknown placeholders included)."""
    clean = _clean(session, data, None)
    row = EmailTemplate(**clean)
    session.add(row)
    session.flush()
    return row


def update_template(session: Session, template_id: int, data: Any) -> EmailTemplate:
    """Change the given fields of a template, validating the result as a whole."""
    row = get_template(session, template_id)
    for name, value in _clean(session, data, row).items():
        setattr(row, name, value)
    session.flush()
    return row


def delete_template(session: Session, template_id: int) -> None:
    """Delete a template unless a robot sends it (409 naming the robots)."""
    from robots.models import Robot

    row = get_template(session, template_id)
    users = [r.name for r in session.scalars(select(Robot).where(Robot.kind.in_(EMAIL_KINDS)))
             if (r.settings or {}).get("template_id") == row.id]
    if users:
        raise ConflictError(_("robots use this template: %(users)s", users=', '.join(sorted(users))))
    session.delete(row)


def _clean(session: Session, data: Any, row: EmailTemplate | None) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError(_("an email template is a JSON object"), {"body": _("expected an object")})
    errors = {name: "unknown field" for name in sorted(set(data) - set(FIELDS))}
    merged = {name: getattr(row, name) for name in FIELDS} if row else {}
    merged.update({k: v for k, v in data.items() if k in FIELDS})
    clean: dict[str, Any] = {}
    for name, limit in FIELDS.items():
        value = merged.get(name)
        if isinstance(value, str):
            value = value.strip() if name in ("name", "language") else value
        if value in (None, "") and name not in REQUIRED:
            clean[name] = None
        elif not isinstance(value, str) or not value.strip():
            errors[name] = _("required") if value in (None, "") else "a text"
        elif len(value) > limit:
            errors[name] = _("at most %(limit)s characters", limit=limit)
        else:
            clean[name] = value
    if clean.get("language") and not LANGUAGE_RE.match(clean["language"]):
        errors["language"] = _("a language code such as en, fr or it")
    for name in ("subject", "body_html", "body_text"):
        problem = placeholder_problem(clean[name]) if clean.get(name) else None
        if problem:
            errors.setdefault(name, problem)
    taken = session.scalars(select(EmailTemplate.id).where(EmailTemplate.name == clean.get("name"))).first()
    if clean.get("name") and taken is not None and (row is None or taken != row.id):
        errors["name"] = _("a template named “%(clean)s” already exists", clean=clean['name'])
    if errors:
        raise ValidationError(_("invalid email template"), errors)
    return clean


def placeholder_problem(text: str) -> str | None:
    """Why a template text cannot be saved (syntax, unknown placeholder, robot output), or None."""
    try:
        names = placeholders(text)
    except TemplateError as exc:
        return f"template error: {exc}"
    for name in sorted(str(n) for n in names):
        if name.startswith("robots."):
            return (f"{{{{ {name} }}}}: a library template cannot use robot outputs; "
                    "use deal, contact, responsible and stage values")
        # Imported here: robots.references imports robots.models, which imports this module for its table.
        from robots.references import name_problem

        message = name_problem(name, {}, set())
        if message:
            return message
    return None
