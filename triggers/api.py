"""JSON API for triggers and invoices: kinds, per-stage triggers, secret rotation, invoices, mark paid."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.routing import Route

from kanban import policy
from kanban.errors import BadRequestError
from kanban.i18n import _
from kanban.models import Invoice
from kanban.services.deals import get_deal
from kanban.services.pipelines import get_stage
from kanban.web.api import schema
from kanban.web.api.base import PAGE_PARAMS, Call, endpoint, iso, page, paginate
from triggers import config
from triggers.cycles import loop_warnings
from triggers.models import InboundEvent
from triggers.recording import mark_paid as mark_invoice_paid

TRIGGER_BODY = schema.obj({
    "kind": schema.STR, "name": schema.nullable(schema.STR), "settings": schema.nullable(schema.ANY_OBJ),
    "condition": schema.nullable(schema.ANY_OBJ), "allow_backward": schema.BOOL, "active": schema.BOOL,
    "move_as_id": schema.nullable(schema.INT),
})
TRIGGER = schema.component("Trigger", schema.obj({
    "id": schema.INT, "stage_id": schema.INT, "kind": schema.STR, "name": schema.STR, "settings": schema.ANY_OBJ,
    "condition": schema.nullable(schema.ANY_OBJ), "allow_backward": schema.BOOL,
    "move_as_id": schema.nullable(schema.INT), "active": schema.BOOL, "position": schema.INT,
    "url": schema.STR, "secret": schema.STR, "warnings": schema.arr(schema.STR),
}, closed=False))
KIND = schema.component("TriggerKind", schema.obj({
    "kind": schema.STR, "title": schema.STR, "settings_schema": schema.ANY_OBJ, "outputs": schema.arr(schema.STR),
}, closed=False))
INVOICE = schema.component("Invoice", schema.obj({
    "id": schema.INT, "deal_id": schema.INT, "amount": schema.INT, "currency": schema.STR,
    "description": schema.STR, "status": schema.STR, "provider": schema.STR, "url": schema.nullable(schema.STR),
    "created_at": schema.TIME, "paid_at": schema.nullable(schema.TIME),
}, closed=False))
EVENT = schema.component("InboundEvent", schema.obj({
    "id": schema.INT, "provider": schema.STR, "event_id": schema.STR, "kind": schema.STR,
    "deal_id": schema.nullable(schema.INT), "status": schema.STR, "outcome": schema.nullable(schema.STR),
    "trigger_id": schema.nullable(schema.INT), "moved_to_stage_id": schema.nullable(schema.INT),
    "received_at": schema.TIME, "processed_at": schema.nullable(schema.TIME),
}, closed=False))


def _public_url(call: Call) -> str:
    return call.request.app.state.runtime.settings.public_url


def invoice_view(invoice: Invoice) -> dict[str, Any]:
    """The API shape of an invoice."""
    return {"id": invoice.id, "deal_id": invoice.deal_id, "amount": invoice.amount, "currency": invoice.currency,
            "description": invoice.description, "status": invoice.status, "provider": invoice.provider,
            "url": invoice.url, "created_at": iso(invoice.created_at), "paid_at": iso(invoice.paid_at)}


def event_view(event: InboundEvent) -> dict[str, Any]:
    """The API shape of an inbound event and its outcome."""
    return {"id": event.id, "provider": event.provider, "event_id": event.event_id, "kind": event.kind,
            "deal_id": event.deal_id, "status": event.status, "outcome": event.outcome,
            "trigger_id": event.trigger_id, "moved_to_stage_id": event.moved_to_stage_id,
            "attempts": event.attempts, "received_at": iso(event.received_at),
            "processed_at": iso(event.processed_at)}


@endpoint("List trigger kinds", response=schema.page_of(KIND), access="authenticated")
def list_kinds(call: Call) -> dict[str, Any]:
    """Every trigger kind with its settings schema."""
    return page(config.kinds_view(), None)


@endpoint("List a stage's triggers (admins only: settings may hold secrets)", admin=True,
          response=schema.page_of(TRIGGER))
def list_triggers(call: Call) -> dict[str, Any]:
    """The triggers whose target is this stage."""
    stage = get_stage(call.session, call.path_int("stage_id"))
    url = _public_url(call)
    return page([config.trigger_view(t, url) for t in config.list_triggers(call.session, stage.id)], None)


@endpoint("Add a trigger to its target stage", status=201, admin=True, body=TRIGGER_BODY, response=TRIGGER)
def create_trigger(call: Call) -> dict[str, Any]:
    """Create a trigger; an inbound_webhook trigger's response carries its url and secret (shown once)."""
    trigger, secret = config.create_trigger(call.session, call.path_int("stage_id"), call.body())
    return {**config.trigger_view(trigger, _public_url(call), secret), "warnings": loop_warnings(call.session, trigger)}


@endpoint("Get a trigger (admins only: settings may hold secrets)", admin=True, response=TRIGGER)
def get_trigger(call: Call) -> dict[str, Any]:
    """One trigger (never its secret)."""
    return config.trigger_view(config.get_trigger(call.session, call.path_int("trigger_id")), _public_url(call))


@endpoint("Change a trigger", admin=True, body=TRIGGER_BODY, response=TRIGGER)
def update_trigger(call: Call) -> dict[str, Any]:
    """Change name, settings, condition, allow_backward, move_as_id or active."""
    trigger = config.update_trigger(call.session, call.path_int("trigger_id"), call.body())
    return {**config.trigger_view(trigger, _public_url(call)), "warnings": loop_warnings(call.session, trigger)}


@endpoint("Set the order of a stage's triggers", admin=True,
          body=schema.obj({"ids": schema.arr(schema.INT)}, ["ids"]), response=schema.page_of(TRIGGER))
def order_triggers(call: Call) -> dict[str, Any]:
    """Every trigger of the stage, in the new order."""
    stage = get_stage(call.session, call.path_int("stage_id"))
    url = _public_url(call)
    return page([config.trigger_view(t, url) for t in config.reorder_triggers(call.session, stage.id,
                                                                               call.body()["ids"])], None)


@endpoint("Delete a trigger", admin=True)
def delete_trigger(call: Call) -> None:
    """Delete a trigger."""
    config.delete_trigger(call.session, call.path_int("trigger_id"))


@endpoint("Rotate an inbound_webhook trigger's secret (the previous stays valid 24 h)", admin=True,
          response=TRIGGER)
def rotate_secret(call: Call) -> dict[str, Any]:
    """A new secret, shown once in the response."""
    trigger_id = call.path_int("trigger_id")
    secret = config.rotate_secret(call.session, trigger_id)
    return config.trigger_view(config.get_trigger(call.session, trigger_id), _public_url(call), secret)


@endpoint("List invoices of a deal", params=[{"name": "deal_id", "in": "query", "required": True,
                                             "schema": {"type": "integer"}}, *PAGE_PARAMS],
          response=schema.page_of(INVOICE), access="deal:read")
def list_invoices(call: Call) -> dict[str, Any]:
    """Invoices of one deal, oldest first."""
    deal_id = call.query_int("deal_id")
    if deal_id is None:
        raise BadRequestError(_("deal_id is required"), {"deal_id": _("required")})
    policy.require(call.session, call.user, "read", get_deal(call.session, deal_id))
    rows, nxt = paginate(call, select(Invoice).where(Invoice.deal_id == deal_id), Invoice.id)
    return page([invoice_view(i) for i in rows], nxt)


@endpoint("Mark an invoice paid by hand (fires invoice_paid triggers)", admin=True, response=INVOICE)
def mark_paid(call: Call) -> dict[str, Any]:
    """Stored as a "manual" inbound event and processed at once."""
    return invoice_view(mark_invoice_paid(call.session, call.path_int("invoice_id"), call.user.id))


@endpoint("Inbound events about a deal and their outcome", params=PAGE_PARAMS, response=schema.page_of(EVENT),
          access="deal:read")
def deal_events(call: Call) -> dict[str, Any]:
    """Webhooks, pixels, clicks and payments recorded for a deal, newest first."""
    deal = get_deal(call.session, call.path_int("deal_id"))
    rows, nxt = paginate(call, select(InboundEvent).where(InboundEvent.deal_id == deal.id), InboundEvent.id,
                         descending=True)
    return page([event_view(e) for e in rows], nxt)


routes = [
    Route("/api/v1/trigger-kinds", list_kinds, methods=["GET"]),
    Route("/api/v1/stages/{stage_id:int}/triggers", list_triggers, methods=["GET"]),
    Route("/api/v1/stages/{stage_id:int}/triggers", create_trigger, methods=["POST"]),
    Route("/api/v1/stages/{stage_id:int}/triggers/order", order_triggers, methods=["PUT"]),
    Route("/api/v1/triggers/{trigger_id:int}", get_trigger, methods=["GET"]),
    Route("/api/v1/triggers/{trigger_id:int}", update_trigger, methods=["PATCH"]),
    Route("/api/v1/triggers/{trigger_id:int}", delete_trigger, methods=["DELETE"]),
    Route("/api/v1/triggers/{trigger_id:int}/rotate-secret", rotate_secret, methods=["POST"]),
    Route("/api/v1/invoices", list_invoices, methods=["GET"]),
    Route("/api/v1/invoices/{invoice_id:int}/mark-paid", mark_paid, methods=["POST"]),
    Route("/api/v1/deals/{deal_id:int}/inbound-events", deal_events, methods=["GET"]),
]
