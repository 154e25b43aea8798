"""API: my connected mailbox (SMTP + IMAP), tested on save; passwords are never returned."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from kanban import mailboxes
from kanban.web.api import schema
from kanban.web.api.base import Call, endpoint

SERVER = schema.obj({"host": schema.STR, "port": schema.INT, "username": schema.nullable(schema.STR),
                     "security": schema.STR, "folder": schema.STR}, closed=False)
MAILBOX = schema.component("Mailbox", schema.obj({
    "connected": schema.BOOL, "key_source": schema.nullable(schema.STR), "address": schema.STR,
    "smtp": SERVER, "imap": SERVER, "verified_at": schema.TIME, "last_error": schema.nullable(schema.STR),
    "last_error_at": schema.nullable(schema.TIME), "synced_at": schema.nullable(schema.TIME)}, ["connected"]))
BODY = schema.obj({"smtp_url": schema.STR, "imap_url": schema.STR, "address": schema.STR},
                  ["smtp_url", "imap_url"])


@endpoint("My connected mailbox (no passwords)", response=MAILBOX, access="authenticated")
def get_mailbox(call: Call) -> dict[str, Any]:
    """`connected` false when none is; host, port, user name and folder otherwise, never a password."""
    settings = call.request.app.state.runtime.settings
    return mailboxes.view(settings, mailboxes.mailbox_of(call.session, call.user.id))


@endpoint("Connect my mailbox (the SMTP and IMAP logins are tested first)", response=MAILBOX, body=BODY,
          access="authenticated")
def put_mailbox(call: Call) -> dict[str, Any]:
    """`smtp_url` smtp[s]://user:password@host:port[?starttls=1], `imap_url` imap[s]://user:password@host[:port]
    [/FOLDER]; `address` (From) defaults to the SMTP user name when it is an address, else my login. 422
    `mailbox_connection_failed` with the server's answer when a login or the folder fails; nothing is stored."""
    settings = call.request.app.state.runtime.settings
    smtp_url, imap_url, address = mailboxes.check(settings, call.user, call.body())
    row = mailboxes.save(call.session, settings, call.user.id, smtp_url, imap_url, address)
    return mailboxes.view(settings, row)


@endpoint("Disconnect my mailbox", status=204, access="authenticated")
def delete_mailbox(call: Call) -> None:
    """Emails queued through it go out from the company's sender; received mail stays on the timelines."""
    mailboxes.disconnect(call.session, call.request.app.state.runtime.settings, call.user.id)


routes = [
    Route("/api/v1/me/mailbox", get_mailbox, methods=["GET"]),
    Route("/api/v1/me/mailbox", put_mailbox, methods=["PUT"]),
    Route("/api/v1/me/mailbox", delete_mailbox, methods=["DELETE"]),
]
