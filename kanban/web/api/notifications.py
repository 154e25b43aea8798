"""API: my notification channels, my browser push subscriptions, and the server's VAPID public key."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from kanban import notifications, push
from kanban.web.api import schema
from kanban.web.api.base import Call, endpoint, iso

SETTINGS = schema.component("NotificationSettings", schema.obj({
    "channels": schema.ANY_OBJ, "kinds": schema.ANY_OBJ, "available": schema.ANY_OBJ}, closed=False))
SUBSCRIPTION = schema.component("PushSubscription", schema.obj({
    "id": schema.INT, "endpoint": schema.STR, "created_at": schema.TIME}, closed=False))


def _vapid(call: Call) -> push.Vapid:
    return call.request.app.state.runtime.extras["services"]["vapid"]


@endpoint("My notification channels per kind", response=SETTINGS, access="authenticated")
def get_settings(call: Call) -> dict[str, Any]:
    """`default` and each kind I chose channels for."""
    return notifications.settings_view(call.session, call.user.id)


@endpoint("Replace my notification channels", response=SETTINGS,
          body=schema.obj({"channels": schema.ANY_OBJ}, ["channels"], closed=False), access="authenticated")
def put_settings(call: Call) -> dict[str, Any]:
    """Kinds left out follow `default` (in-app when `default` is left out too); a GET's answer can be PUT back."""
    return notifications.save_settings(call.session, call.user.id, call.body())


@endpoint("Register this browser for Web Push", status=201, response=SUBSCRIPTION,
          body=schema.obj({"endpoint": schema.STR, "keys": schema.ANY_OBJ,
                           "expirationTime": schema.nullable({"type": "number"})}, ["endpoint", "keys"]),
          access="authenticated")
def add_subscription(call: Call) -> dict[str, Any]:
    """Store a PushSubscription's JSON (`subscription.toJSON()` in the browser)."""
    row = push.subscribe(call.session, call.request.app.state.runtime.settings, call.user.id, call.body(),
                         call.request.headers.get("user-agent", ""))
    return {"id": row.id, "endpoint": row.endpoint, "created_at": iso(row.created_at)}


@endpoint("Remove one of my push subscriptions", access="authenticated")
def delete_subscription(call: Call) -> None:
    """This browser no longer receives pushes."""
    push.unsubscribe(call.session, call.user.id, call.path_int("subscription_id"))


@endpoint("The VAPID public key browsers subscribe with",
          response=schema.obj({"public_key": schema.STR}, ["public_key"]), access="authenticated")
def vapid_public_key(call: Call) -> dict[str, Any]:
    """The `applicationServerKey` (uncompressed P-256 point, base64url)."""
    return {"public_key": _vapid(call).public_key}


routes = [
    Route("/api/v1/me/notification-settings", get_settings, methods=["GET"]),
    Route("/api/v1/me/notification-settings", put_settings, methods=["PUT"]),
    Route("/api/v1/me/push-subscriptions", add_subscription, methods=["POST"]),
    Route("/api/v1/me/push-subscriptions/{subscription_id:int}", delete_subscription, methods=["DELETE"]),
    Route("/api/v1/push/vapid-public-key", vapid_public_key, methods=["GET"]),
]
