"""Pages: my notification channels (per kind), this browser's push subscription, and the service worker."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from kanban import notifications, push
from kanban.channels import PushSubscription
from kanban.errors import BadRequestError, ValidationError
from kanban.i18n import _
from kanban.paths import STATIC_DIR
from kanban.web.access import access
from kanban.web.deps import in_tx, web_user
from kanban.web.templating import render


def _page(session: Session, request: Request, user_id: int) -> dict[str, Any]:
    view = notifications.settings_view(session, user_id)
    subs = list(session.scalars(select(PushSubscription).where(PushSubscription.user_id == user_id)
                                .order_by(PushSubscription.id)))
    vapid: push.Vapid = request.app.state.runtime.extras["services"]["vapid"]
    return {"channels": view["channels"], "kinds": notifications.KINDS, "available": notifications.CHANNELS,
            "subscriptions": subs, "vapid_key": vapid.public_key}


@access("authenticated")
async def settings_page(request: Request) -> Response:
    """GET /me/notifications — channels per kind of notification, and the push subscribe button."""
    flash = request.session.pop("flash", None)

    def load(session: Session) -> dict[str, Any]:
        return {**_page(session, request, web_user(request, session).id), "flash": flash, "errors": {}}

    return render(request, "notifications/settings.html", await in_tx(request, load))


@access("authenticated")
async def save_settings(request: Request) -> Response:
    """POST /me/notifications — save the form; a bad combination shows the form again with the reason."""
    form = await request.form()
    channels: dict[str, list[str]] = {"default": [str(v) for v in form.getlist("ch.default")]}
    for kind in notifications.KINDS:
        if kind != "default" and form.get(f"own.{kind}") == "on":
            channels[kind] = [str(v) for v in form.getlist(f"ch.{kind}")]

    def act(session: Session) -> None:
        notifications.save_settings(session, web_user(request, session).id, {"channels": channels})

    try:
        await in_tx(request, act)
    except ValidationError as exc:
        problem = (exc.fields, exc.message)

        def load(session: Session) -> dict[str, Any]:
            page = _page(session, request, web_user(request, session).id)
            return {**page, "channels": channels, "errors": problem[0], "flash": (problem[1], "error")}

        return render(request, "notifications/settings.html", await in_tx(request, load), status_code=422)
    request.session["flash"] = (_("Notification settings saved."), "ok")
    return RedirectResponse("/me/notifications", status_code=303)


@access("authenticated")
async def add_subscription(request: Request) -> Response:
    """POST /me/push-subscriptions — the page's script posts `subscription.toJSON()` (CSRF header)."""
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise BadRequestError(_("the body must be a subscription's JSON")) from None
    settings = request.app.state.runtime.settings

    def act(session: Session) -> int:
        user = web_user(request, session)
        return push.subscribe(session, settings, user.id, data, request.headers.get("user-agent", "")).id

    return JSONResponse({"id": await in_tx(request, act)}, status_code=201)


@access("authenticated")
async def remove_subscription(request: Request) -> Response:
    """POST /me/push-subscriptions/{id}/delete — stop pushing to that browser."""
    subscription_id = request.path_params["subscription_id"]

    def act(session: Session) -> None:
        push.unsubscribe(session, web_user(request, session).id, subscription_id)

    await in_tx(request, act)
    request.session["flash"] = (_("That browser no longer receives push notifications."), "ok")
    return RedirectResponse("/me/notifications", status_code=303)


@access("public")
async def service_worker(request: Request) -> Response:
    """GET /sw.js — served from the root so its scope is the whole app."""
    return FileResponse(STATIC_DIR / "sw.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})


routes = [
    Route("/me/notifications", settings_page, methods=["GET"]),
    Route("/me/notifications", save_settings, methods=["POST"]),
    Route("/me/push-subscriptions", add_subscription, methods=["POST"]),
    Route("/me/push-subscriptions/{subscription_id:int}/delete", remove_subscription, methods=["POST"]),
    Route("/sw.js", service_worker, methods=["GET"]),
]
