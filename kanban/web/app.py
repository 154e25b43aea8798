"""Application factory: middleware, error translation, and the routes of core and plug-ins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

from sqlalchemy.exc import StatementError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Match, Mount, Route
from starlette.staticfiles import StaticFiles

from kanban.bootstrap import Runtime
from kanban.errors import KanbanError
from kanban.i18n import LanguageMiddleware, _
from kanban.paths import STATIC_DIR
from kanban.web import auth
from kanban.web.access import access
from kanban.web.csrf import CSRFMiddleware
from kanban.web.deps import LoginRequiredError
from kanban.web.failures import translate
from kanban.web.headers import SecurityHeadersMiddleware
from kanban.web.limits import RequestLimitsMiddleware
from kanban.web.templating import render

# Exceptions the request's own values can cause below the services (see kanban.web.failures).
DRIVER_ERRORS = (StatementError, OverflowError, UnicodeError, RecursionError, ValueError)


def error_body(exc: KanbanError) -> dict[str, object]:
    """The API error shape; JSON-safe extras (e.g. a conflict's current_version) ride along."""
    extra = {k: v for k, v in exc.extra.items() if isinstance(v, (str, int, float, bool, dict, list, type(None)))}
    return {"error": {"code": exc.code, "message": exc.message, "fields": exc.fields, **extra}}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def handle_kanban_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, KanbanError)
    retry = exc.extra.get("retry_after")
    headers = {"Retry-After": str(int(retry))} if isinstance(retry, (int, float)) else None
    if _is_api(request):
        return JSONResponse(error_body(exc), status_code=exc.status, headers=headers)
    if isinstance(exc, LoginRequiredError):
        target = "/login?next=" + quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    return render(request, "error.html", {"status": exc.status, "message": exc.message}, status_code=exc.status,
                  headers=headers)


async def handle_driver_error(request: Request, exc: Exception) -> Response:
    """Driver and decoder errors caused by the request's values become 4xx; transient database errors 503."""
    translated = translate(exc)
    if translated is None:
        raise exc
    return await handle_kanban_error(request, translated)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    if _is_api(request):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        body = {"error": {"code": code, "message": str(exc.detail), "fields": {}}}
        return JSONResponse(body, status_code=exc.status_code, headers=headers)
    return PlainTextResponse(str(exc.detail), status_code=exc.status_code, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (one path is often split over several routes)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] != Match.NONE:
            methods.update(route.methods)
    return sorted(methods)


async def handle_server_error(request: Request, exc: Exception) -> Response:
    if _is_api(request):
        body = {"error": {"code": "internal_error", "message": _("internal server error"), "fields": {}}}
        return JSONResponse(body, status_code=500)
    return PlainTextResponse(_("Internal server error"), status_code=500)


@access("public")
async def healthz(request: Request) -> Response:
    """Liveness probe; also the trivial endpoint benchmarks compare against."""
    return JSONResponse({"ok": True})


def core_routes() -> list[Route | Mount]:
    """Routes of the core web app (plug-ins add theirs through the runtime)."""
    from kanban.web import api
    from kanban.web import routes as core

    return [
        Route("/healthz", healthz),
        Mount("/static", app=StaticFiles(directory=str(STATIC_DIR)), name="static"),
        *auth.routes,
        *core.routes,
        *api.routes,
    ]


def create_app(runtime: Runtime) -> Starlette:
    """Build the Starlette app for a runtime."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for fn in runtime.startup:
            fn()
        try:
            yield
        finally:
            for fn in reversed(runtime.shutdown):
                fn()

    settings = runtime.settings
    middleware = [
        Middleware(SecurityHeadersMiddleware, hsts=settings.cookies_secure),
        Middleware(LanguageMiddleware),
        Middleware(RequestLimitsMiddleware),
        # Only the CSRF token and flash messages live in this signed cookie; who is logged in is the
        # server-side session named by the "kanban_session" cookie (kanban.logins).
        Middleware(SessionMiddleware, secret_key=settings.secret, session_cookie="kanban_state",
                   same_site="lax", https_only=settings.cookies_secure, max_age=None),
        Middleware(CSRFMiddleware, public_url=settings.public_url),
    ]
    app = Starlette(
        routes=[*core_routes(), *runtime.routes],
        middleware=middleware,
        exception_handlers={KanbanError: handle_kanban_error, HTTPException: handle_http_error,
                            **dict.fromkeys(DRIVER_ERRORS, handle_driver_error), 500: handle_server_error},
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    return app
