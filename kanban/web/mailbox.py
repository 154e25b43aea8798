"""The user menu's "My mailbox" page: connect my own SMTP + IMAP account, test it, disconnect it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban import mailboxes
from kanban.errors import KanbanError
from kanban.i18n import _
from kanban.web.access import access
from kanban.web.deps import in_tx, web_user
from kanban.web.templating import render

PAGE = "/me/mailbox"
FIELDS = ("address", "username", "smtp_host", "smtp_port", "smtp_security", "imap_host", "imap_port",
          "imap_security", "folder")  # the password is never sent back to the browser


def _context(session: Session, request: Request, **extra: Any) -> dict[str, Any]:
    user = web_user(request, session)
    settings = request.app.state.runtime.settings
    row = mailboxes.mailbox_of(session, user.id)
    view = mailboxes.view(settings, row)
    shown = {"smtp_security": "starttls", "imap_security": "ssl", "address": user.email}
    if row is not None:
        shown = {"address": row.address, "username": row.smtp_shown.get("username") or "",
                 "smtp_host": row.smtp_shown.get("host"), "smtp_port": row.smtp_shown.get("port"),
                 "smtp_security": row.smtp_shown.get("security"), "imap_host": row.imap_shown.get("host"),
                 "imap_port": row.imap_shown.get("port"), "imap_security": row.imap_shown.get("security"),
                 "folder": row.imap_shown.get("folder")}
    return {"mailbox": view, "row": row, "values": shown, "errors": {}, "flash": None, **extra}


def _done(request: Request, message: str, kind: str = "ok") -> Response:
    request.session["flash"] = (message, kind)
    return RedirectResponse(PAGE, status_code=303)


@access("authenticated")
async def mailbox_page(request: Request) -> Response:
    """GET /me/mailbox — my mailbox's state (never its password) and the form to connect it."""
    flash = request.session.pop("flash", None)
    return render(request, "account/mailbox.html", await in_tx(request, _context, request, flash=flash))


@access("authenticated")
async def connect(request: Request) -> Response:
    """POST /me/mailbox — test the logins, then store the mailbox; a failure shows the server's answer and keeps
    what was typed (except the password)."""
    form = {k: str(v) for k, v in (await request.form()).items() if k != "csrf_token"}
    settings = request.app.state.runtime.settings
    user = await in_tx(request, lambda session: web_user(request, session))
    data = mailboxes.urls_from_form(form)
    try:
        # The connection test talks to the mail servers with no transaction open.
        smtp_url, imap_url, address = await run_in_threadpool(mailboxes.check, settings, user, data)

        def store(session: Session) -> None:
            mailboxes.save(session, settings, web_user(request, session).id, smtp_url, imap_url, address)

        await in_tx(request, store)
    except KanbanError as exc:
        errors = {("smtp_host" if k == "smtp_url" else "imap_host" if k == "imap_url" else k): v
                  for k, v in exc.fields.items()}
        values = {k: form.get(k, "") for k in FIELDS}
        context = await in_tx(request, _context, request, errors=errors, flash=(exc.message, "error"))
        return render(request, "account/mailbox.html", {**context, "values": values}, status_code=exc.status)
    return _done(request, _("Mailbox connected: emails sent as you now go out from %(address)s.", address=address))


@access("authenticated")
async def test(request: Request) -> Response:
    """POST /me/mailbox/test — log in to the stored mailbox again and say how it went."""
    settings = request.app.state.runtime.settings

    def load(session: Session) -> tuple[int, str, str] | None:
        row = mailboxes.mailbox_of(session, web_user(request, session).id)
        return (row.id, row.smtp_secret, row.imap_secret) if row else None

    found = await in_tx(request, load)
    if found is None:
        return _done(request, _("No mailbox is connected."), "error")
    mailbox_id, smtp_secret, imap_secret = found
    try:
        await run_in_threadpool(mailboxes.retest, settings, smtp_secret, imap_secret)
    except KanbanError as exc:
        answer = exc.message
        await in_tx(request, lambda session: mailboxes.note_error(session, mailbox_id, answer))
        return _done(request, _("The test failed: %(answer)s", answer=answer), "error")
    await in_tx(request, lambda session: mailboxes.note_ok(session, mailbox_id))
    return _done(request, _("Both logins work."))


@access("authenticated")
async def disconnect(request: Request) -> Response:
    """POST /me/mailbox/delete — forget the mailbox and its credentials."""
    settings = request.app.state.runtime.settings
    await in_tx(request, lambda session: mailboxes.disconnect(session, settings, web_user(request, session).id))
    return _done(request, _("Mailbox disconnected: emails sent as you go out from the company address."))


routes = [
    Route(PAGE, mailbox_page, methods=["GET"]),
    Route(PAGE, connect, methods=["POST"]),
    Route(PAGE + "/test", test, methods=["POST"]),
    Route(PAGE + "/delete", disconnect, methods=["POST"]),
]
