"""webhook: POST the deal's data as JSON to a URL (timeouts; private and loopback targets refused unless allowed)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, field_validator
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook as StandardWebhook

from kanban.i18n import N_
from kanban.outbound import OutboundError, check_status, check_url
from robots.context import RunContext
from robots.models import Robot
from robots.outside import robot_error, service
from robots.registry import KindSettings, RobotKind, register


class WebhookSettings(KindSettings):
    url: str = Field(min_length=1, max_length=2000, description=N_("http(s) URL to POST to"))
    allow_private: bool = Field(default=False, description=N_("Allow private, loopback and link-local addresses"))

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        # Checked when saved (422); a URL built by a template is checked once rendered (a permanent failure).
        if "{" not in value:
            try:
                check_url(value.strip())
            except OutboundError as exc:
                raise ValueError(str(exc)) from None
        return value


@register
class Webhook(RobotKind):
    """Send the deal to another system; 5xx and timeouts are retried with the same webhook id."""

    kind = "webhook"
    title = N_("Outgoing webhook")
    category = "integration"
    Settings = WebhookSettings
    outputs = ("status",)
    templates = {"url": "text"}
    setting_types = {"url": "url"}
    effect = "external"
    has_secret = True
    needs_deal = False  # also acts without a deal (robots.subjects)

    def run(self, ctx: RunContext, settings: WebhookSettings) -> dict[str, Any]:
        """POST {event, run_id, deal, contact, responsible, stage, sent_at} with no transaction open; the run id is
        the idempotency key (a call cut short by a dying worker is made again with it)."""
        http = service(ctx, "http")
        url = ctx.render(settings.url).strip()
        payload = {
            "event": "robot.webhook",
            "run_id": ctx.run_id,
            "robot_key": ctx.robot_key,
            "deal": ctx.values.get("deal"),
            "contact": ctx.values.get("contact"),
            "responsible": ctx.values.get("responsible"),
            "stage": ctx.values.get("stage"),
            # An automation's run: its event, and what it acts on (a deleted deal's snapshot, a person, an org)
            **{name: ctx.values[name] for name in ("event", "subject", "person", "organization")
               if name in ctx.values},
            "sent_at": ctx.now.isoformat(),
        }
        key = f"run_{ctx.run_id}"
        headers = {"Idempotency-Key": key, "webhook-id": key, "User-Agent": "kanban-crm-webhook/1"}
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        # Standard Webhooks: the receiver checks webhook-signature over "id.timestamp.body" with the robot's secret.
        secret = ctx.session.scalar(select(Robot.secret).where(Robot.id == ctx.robot_id))
        if secret:
            sent_at = ctx.now
            headers["webhook-timestamp"] = str(int(sent_at.timestamp()))
            headers["webhook-signature"] = StandardWebhook(secret).sign(key, sent_at, body)
        try:
            response = ctx.outside(lambda: check_status(
                http.post_json_guarded(url, payload, headers, allow_private=settings.allow_private, body=body),
                "the webhook target"))
        except OutboundError as exc:
            raise robot_error(exc) from exc
        return {"status": response.status_code}
