"""Writing an email from the deal page: to the deal's contact, typed or from a library template, tracked like
the `email_client` robot's emails (open pixel, tracked links) and written on the deal's timeline."""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban import clock, policy
from kanban.config import Settings
from kanban.errors import ValidationError
from kanban.events import Actor
from kanban.i18n import _
from kanban.mail import Mailer, from_header, one_line
from kanban.mailboxes import mailbox_of
from kanban.models import Deal, EmailMessage, Person, User
from kanban.services.deals import get_deal, timeline
from kanban.tracking import new_email_token, prepare_html
from kanban.web.access import access
from kanban.web.api import schema
from kanban.web.api.base import Call, endpoint
from kanban.web.deps import in_tx, web_user
from kanban.web.templating import templates
from robots.email_templates import get_template, list_templates
from robots.emailing import Content, render_template
from robots.templating import render
from robots.values import template_values

_URL = re.compile(r"https?://[^\s<>\"']+")
MAX_BODY = 100_000
BODY = schema.obj({"template_id": schema.nullable(schema.INT), "subject": schema.nullable(schema.STR),
                   "body": schema.nullable(schema.STR)})


def text_to_html(text: str) -> str:
    """A rep's plain text as HTML: escaped, links made clickable (and so tracked), line breaks kept."""
    out, last = [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?)")
        end = match.start() + len(url)
        out += [html.escape(text[last:match.start()]), f'<a href="{html.escape(url)}">{html.escape(url)}</a>']
        last = end
    out.append(html.escape(text[last:]))
    return "".join(out).replace("\n", "<br>\n")


def _content(session: Session, settings: Settings, deal: Deal, data: dict[str, Any]) -> Content:
    template_id = data.get("template_id")
    subject, body = (data.get("subject") or "").strip(), (data.get("body") or "").strip()
    if template_id is not None and (subject or body):
        raise ValidationError(_("choose a template or write the email, not both"),
                              {"template_id": _("leave subject and body empty to send a template")})
    if template_id is not None:
        values = template_values(session, deal.id, deal.stage_id, {}, public_url=settings.public_url)
        return render_template(lambda text, channel: render(text, channel, values), get_template(session, template_id))
    errors = {name: "required" for name, value in (("subject", subject), ("body", body)) if not value}
    if len(body) > MAX_BODY:
        errors["body"] = _("at most %(max_body)s characters", max_body=MAX_BODY)
    if errors:
        raise ValidationError(_("write a subject and a body, or choose a template"), errors)
    return Content(one_line(subject), text_to_html(body), body)


def send_deal_email(session: Session, settings: Settings, mailer: Mailer, *, deal_id: int, author: User,
                    data: dict[str, Any], at: datetime) -> EmailMessage:
    """Queue a tracked email from a rep to the deal's contact and note it on the timeline."""
    deal = policy.require(session, author, "edit", get_deal(session, deal_id))
    contact = session.get(Person, deal.person_id) if deal.person_id else None
    if contact is None or not contact.email:
        raise ValidationError(_("the deal's contact has no email address"),
                              {"to": _("the contact has no email address")})
    content = _content(session, settings, deal, data)
    token = new_email_token()
    tracked, links = prepare_html(content.html or "", secret=settings.secret, public_url=settings.public_url,
                                  email_token=token)
    # From the rep's own connected mailbox when there is one, else the company's sender under the rep's name.
    box = mailbox_of(session, author.id)
    sender = from_header(author.name, box.address if box else settings.mail_from)
    row = EmailMessage(deal_id=deal.id, kind="rep", from_address=sender, mailbox_id=box.id if box else None,
                       to_address=contact.email, subject=content.subject, body_html=tracked, body_text=content.text,
                       status="queued" if box else mailer.initial_status(), tracking_token=token, links=links,
                       created_at=at)
    session.add(row)
    session.flush()
    text = _("Email “%(subject)s” to %(to)s", subject=content.subject, to=contact.email)
    timeline(session, deal.id, "email", text, Actor.user(author.id),
             message_id=row.id)
    return row


def _mailer(request: Request) -> Mailer:
    return request.app.state.runtime.extras["services"]["mailer"]


@endpoint("Email the deal's contact (typed or from a template), tracked", status=201, body=BODY,
          response=schema.obj({"id": schema.INT, "subject": schema.STR, "to": schema.STR,
                               "tracking_token": schema.STR, "status": schema.STR,
                               "from": schema.STR}), access="deal:edit")
def send_api(call: Call) -> dict[str, Any]:
    """422 when neither or both of template and subject/body are given, or the contact has no address."""
    row = send_deal_email(call.session, call.request.app.state.runtime.settings, _mailer(call.request),
                          deal_id=call.path_int("deal_id"), author=call.user, data=call.body(), at=clock.now())
    return {"id": row.id, "subject": row.subject, "to": row.to_address, "tracking_token": row.tracking_token,
            "status": row.status, "from": row.from_address}


def panel(request: Request, session: Session, deal: Deal) -> str:
    """The deal page's "Write an email" form and the deal's emails with their tracking."""
    contact = session.get(Person, deal.person_id) if deal.person_id else None
    emails = list(session.scalars(select(EmailMessage).where(EmailMessage.deal_id == deal.id,
                                                             EmailMessage.kind.in_(("client", "rep")))
                                  .order_by(EmailMessage.id.desc()).limit(20)))
    draft = request.session.pop("compose_draft", None) if "session" in request.scope else None
    me = request.scope.get("user")
    box = mailbox_of(session, me.id) if me is not None else None
    return templates.get_template("robots/compose_panel.html").render(
        request=request, deal=deal, contact=contact, emails=emails, templates=list_templates(session),
        draft=draft or {"errors": {}}, mailbox=box)


@access("deal:edit")
async def send_form(request: Request) -> Response:
    """POST /deals/{id}/emails — send from the panel; a problem keeps the draft and says what is wrong."""
    deal_id = request.path_params["deal_id"]
    form = await request.form()
    raw_template = str(form.get("template_id", "")).strip()
    data = {"subject": str(form.get("subject", "")), "body": str(form.get("body", "")),
            "template_id": int(raw_template) if raw_template.isdigit() and len(raw_template) < 10 else None}
    settings = request.app.state.runtime.settings

    def act(session: Session) -> str:
        user = web_user(request, session)
        return send_deal_email(session, settings, _mailer(request), deal_id=deal_id, author=user, data=data,
                               at=clock.now()).to_address

    try:
        to = await in_tx(request, act)
        request.session["flash"] = (_("Email sent to %(to)s.", to=to), "ok")
    except ValidationError as exc:
        request.session["compose_draft"] = {**data, "errors": exc.fields, "message": exc.message}
    return RedirectResponse(f"/deals/{deal_id}#compose", status_code=303)


routes = [
    Route("/api/v1/deals/{deal_id:int}/emails", send_api, methods=["POST"]),
    Route("/deals/{deal_id:int}/emails", send_form, methods=["POST"]),
]


def install(runtime: Any) -> None:
    """Add the compose routes and the deal page panel."""
    runtime.routes.extend(routes)
    runtime.deal_panels.append(panel)
