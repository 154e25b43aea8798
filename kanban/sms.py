"""SMS providers: log-only by default, or an HTTP provider posting JSON to KANBAN_SMS_URL."""

from __future__ import annotations

from typing import Protocol

from kanban.models import SmsMessage
from kanban.outbound import Http, OutboundError, check_status

SMS_LIMIT = 200


class SmsProvider(Protocol):
    """Sends one SMS; `delivers` False means rows are only logged (nothing leaves the process)."""

    name: str
    delivers: bool

    def initial_status(self) -> str:
        """Status of a new outbox row: `queued` for delivery or `logged` (final)."""
        ...

    def send(self, row: SmsMessage) -> str:
        """Deliver one row and return the provider's message id; raises OutboundError."""
        ...


class LogSmsProvider:
    """The default: SMS rows are written with status `logged` and shown in the SMS outbox page."""

    name = "log"
    delivers = False

    def initial_status(self) -> str:
        """Log-only rows are final at once."""
        return "logged"

    def send(self, row: SmsMessage) -> str:
        """Nothing to send: the outbox row is the record."""
        return f"log-{row.id}"


class HttpSmsProvider:
    """POSTs {"to", "text", "reference"} as JSON with a bearer token and an Idempotency-Key per outbox row."""

    name = "http"
    delivers = True

    def __init__(self, url: str, token: str | None, http: Http) -> None:
        self.url = url
        self.token = token
        self.http = http

    def initial_status(self) -> str:
        """Rows wait for the delivery loop."""
        return "queued"

    def send(self, row: SmsMessage) -> str:
        """Deliver one row; returns the provider's message id. Retries reuse the same Idempotency-Key."""
        if len(row.text) > SMS_LIMIT:
            raise OutboundError(f"SMS is {len(row.text)} characters (limit {SMS_LIMIT})", transient=False)
        headers = {"Idempotency-Key": f"sms-{row.id}"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = {"to": row.to_phone, "text": row.text, "reference": f"sms-{row.id}"}
        response = check_status(self.http.request("POST", self.url, json=body, headers=headers), "SMS provider")
        try:
            data = response.json()
        except ValueError:
            data = {}
        message_id = data.get("id") or data.get("message_id") if isinstance(data, dict) else None
        return str(message_id) if message_id else f"sms-{row.id}"


def make_sms_provider(url: str | None, token: str | None, http: Http) -> SmsProvider:
    """The HTTP provider when KANBAN_SMS_URL is set, else the log-only one."""
    if url:
        return HttpSmsProvider(url, token, http)
    return LogSmsProvider()
