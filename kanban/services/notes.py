"""Notes: a rep's own words on a deal's timeline, with @email mentions that notify; a safe renderer."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban import clock, live, policy
from kanban.crm_models import Note
from kanban.domain_events import record_event
from kanban.errors import NotFoundError, PermissionDeniedError, ValidationError
from kanban.events import Actor
from kanban.i18n import _
from kanban.models import Notification, TimelineEntry, User
from kanban.services.deals import get_deal, timeline, touch_deal

MAX_TEXT = 10_000
# "@" then an email address; the lookbehind keeps "name@example.com" (an email typed in the text) from counting.
MENTION = re.compile(r"(?<![\w.+-])@([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})")
URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


def note_view(note: Note) -> dict[str, Any]:
    """A note as JSON."""
    return {"id": note.id, "deal_id": note.deal_id, "text": note.text, "author_id": note.author_id,
            "mentions": list(note.mentions or []), "created_at": note.created_at.isoformat(),
            "edited_at": note.edited_at.isoformat() if note.edited_at else None}


def _clean(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(_("invalid note"), {"text": _("text is required")})
    if len(text) > MAX_TEXT:
        raise ValidationError(_("invalid note"), {"text": _("text is at most %(max_text)s characters",
                                                             max_text=MAX_TEXT)})
    return text.strip()


def mentioned_users(session: Session, text: str) -> list[User]:
    """Active users whose email follows an "@" in the text, in order of first mention."""
    emails = list(dict.fromkeys(m.lower() for m in MENTION.findall(text)))
    if not emails:
        return []
    found = {u.email: u for u in session.scalars(
        select(User).where(User.email.in_(emails), User.active.is_(True), User.role != "system"))}
    return [found[e] for e in emails if e in found]


def _notify(session: Session, note: Note, users: list[User], author_id: int | None) -> None:
    """One bell notification per newly mentioned user (the insert itself pushes the live notice)."""
    author = session.get(User, author_id) if author_id else None
    who = author.name if author else "Someone"
    text = f"{who} mentioned you in a note: {note.text[:200]}"
    session.add_all([Notification(user_id=u.id, sender_id=author_id, deal_id=note.deal_id, text=text)
                     for u in users if u.id != author_id])


def _entry(session: Session, note: Note) -> TimelineEntry | None:
    entries = session.scalars(select(TimelineEntry).where(TimelineEntry.deal_id == note.deal_id,
                                                          TimelineEntry.kind == "note"))
    return next((e for e in entries if (e.data or {}).get("note_id") == note.id), None)


def add_note(session: Session, deal_id: int, text: Any, *, actor: Actor) -> Note:
    """Write a note on a deal: timeline row, mention notifications, deal.commented, resets rotting."""
    body = _clean(text)
    deal = get_deal(session, deal_id)
    policy.authorize(session, actor, "read", deal)
    users = mentioned_users(session, body)
    at = clock.now()
    note = Note(deal_id=deal.id, author_id=actor.id if actor.type == "user" else None, text=body,
                mentions=[u.id for u in users], created_at=at)
    session.add(note)
    session.flush()
    timeline(session, deal.id, "note", body, actor, note_id=note.id, mentions=note.mentions)
    _notify(session, note, users, note.author_id)
    touch_deal(session, deal, at)
    session.flush()
    record_event(session, "deal.commented", entity_type="deal", entity_id=deal.id, deal_id=deal.id,
                 pipeline_id=deal.pipeline_id, actor=actor, new={"note_id": note.id, "text": body},
                 data={"note_id": note.id, "mentions": note.mentions})
    live.publish_deal_changed(session, deal.id)
    return note


def _own(session: Session, note_id: int, actor: Actor) -> Note:
    note = session.get(Note, note_id) if isinstance(note_id, int) else None
    if note is None:
        raise NotFoundError(_("note %(note_id)s not found", note_id=note_id))
    if actor.type != "user" or note.author_id != actor.id:
        raise PermissionDeniedError(_("only the author may change a note"))
    return note


def edit_note(session: Session, note_id: int, text: Any, *, actor: Actor) -> Note:
    """The author changes a note: the timeline row shows the new text as edited; new mentions are notified."""
    note = _own(session, note_id, actor)
    body = _clean(text)
    if body == note.text:
        return note
    users = mentioned_users(session, body)
    new_users = [u for u in users if u.id not in (note.mentions or [])]
    note.text, note.mentions, note.edited_at = body, [u.id for u in users], clock.now()
    entry = _entry(session, note)
    if entry is not None:
        entry.text = body
        entry.data = {**(entry.data or {}), "mentions": note.mentions, "edited_at": note.edited_at.isoformat()}
    _notify(session, note, new_users, note.author_id)
    session.flush()
    if note.deal_id is not None:
        live.publish_deal_changed(session, note.deal_id)
    return note


def delete_note(session: Session, note_id: int, *, actor: Actor) -> None:
    """The author deletes a note; its timeline row stays as "note deleted" (the text goes)."""
    note = _own(session, note_id, actor)
    entry = _entry(session, note)
    if entry is not None:
        entry.kind, entry.text = "note_deleted", "Note deleted"
        entry.data = {"note_id": note.id, "deleted_at": clock.now().isoformat()}
    deal_id = note.deal_id
    session.delete(note)
    session.flush()
    if deal_id is not None:
        live.publish_deal_changed(session, deal_id)


def deal_notes(session: Session, deal_id: int) -> list[Note]:
    """A deal's notes, newest first."""
    get_deal(session, deal_id)
    return list(session.scalars(select(Note).where(Note.deal_id == deal_id).order_by(Note.id.desc())))


def render_note(text: str, mention_names: dict[str, str] | None = None) -> Markup:
    """Safe HTML of a note: escaped, http(s) URLs linked, line breaks kept, @mentions highlighted."""
    names = {k.lower(): v for k, v in (mention_names or {}).items()}
    out: list[str] = []
    pos = 0
    tokens = sorted([*((m, "url") for m in URL.finditer(text)), *((m, "at") for m in MENTION.finditer(text))],
                    key=lambda t: t[0].start())
    for match, kind in tokens:
        if match.start() < pos:
            continue  # overlaps a token already rendered
        out.append(str(escape(text[pos:match.start()])))
        if kind == "url":
            href = escape(match.group(0))
            out.append(f'<a href="{href}" rel="noopener noreferrer nofollow" target="_blank">{href}</a>')
        else:
            email = match.group(1).lower()
            shown = escape("@" + names.get(email, match.group(1)))
            out.append(f'<span class="mention" data-email="{escape(email)}">{shown}</span>')
        pos = match.end()
    out.append(str(escape(text[pos:])))
    return Markup("".join(out).replace("\r\n", "\n").replace("\n", "<br>\n"))
