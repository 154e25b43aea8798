"""Translation entry points: `_`, `ngettext` and `lazy_gettext` for Python, `_()` / `{% trans %}` in templates.

Every string a user sees is wrapped in one of these. The catalogues are gettext .po files in
kanban/locale/<lang>/LC_MESSAGES/messages.po (English is the msgid itself); they are compiled in memory on
first use, so a clean clone and the wheel need no build step. `pybabel extract -F babel.cfg` refreshes
kanban/locale/messages.pot (see docs in babel.cfg).

The current language lives in a context variable: the web middleware (`LanguageMiddleware`) starts every
request with the Accept-Language choice (or the company default) and the request's user, once known, replaces
it with their own (`set_language`). Worker code wraps each recipient's text in `with use_language(lang):`.
"""

from __future__ import annotations

import gettext as _gettext
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

LANGUAGES = ("en", "fr", "it")
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "it": "Italiano"}  # each in its own language
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"


class _Holder:
    """The request's language, shared (by reference) with the worker threads that serve the request."""

    __slots__ = ("language",)

    def __init__(self, language: str | None) -> None:
        self.language = language


_current: ContextVar[_Holder | None] = ContextVar("kanban_language", default=None)


def normalize(language: Any) -> str | None:
    """'fr', 'fr-FR', 'FR_ca' → 'fr'; None for anything not one of LANGUAGES."""
    if not isinstance(language, str) or not language.strip():
        return None
    code = language.strip().replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else None


def company_language() -> str:
    """The company's default language: Company settings (this process's copy, kanban.company), whose default
    is env KANBAN_LANGUAGE, else "en"."""
    from kanban import company  # company's module marks its own messages through this one

    return normalize(company.cached().language) or normalize(os.environ.get("KANBAN_LANGUAGE")) or "en"


def language_of(user: Any) -> str:
    """A user's (or person's) language, else the company's."""
    return normalize(getattr(user, "language", None)) or company_language()


def current_language() -> str:
    """The language texts are produced in right now."""
    holder = _current.get()
    return (holder.language if holder is not None else None) or company_language()


def start(language: str | None) -> None:
    """Begin a unit of work (a request) in a language; later set_language calls in its threads are seen by it."""
    _current.set(_Holder(normalize(language)))


def set_language(language: str | None) -> None:
    """Switch the current unit of work's language (the request's user is known)."""
    holder = _current.get()
    if holder is None:
        _current.set(_Holder(normalize(language)))
    else:
        holder.language = normalize(language)


@contextmanager
def use_language(language: str | None) -> Iterator[str]:
    """Produce texts in a language inside the block (a worker writing to one recipient)."""
    token = _current.set(_Holder(normalize(language) or company_language()))
    try:
        yield current_language()
    finally:
        _current.reset(token)


def accept_language(header: str | None) -> str | None:
    """The best of LANGUAGES for an Accept-Language header ("fr-CH, fr;q=0.9, en;q=0.8" → "fr"), or None."""
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _eq, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        code = normalize(tag)
        if code is not None and quality > 0:
            choices.append((-quality, position, code))
    return min(choices)[2] if choices else None


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> _gettext.NullTranslations:
    """The compiled catalogue of a language (English and missing catalogues: the msgids themselves)."""
    path = catalog_path(language)
    if language == "en" or not path.exists():
        return _gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def _format(text: str, values: dict[str, Any]) -> str:
    if not values:
        return text
    try:
        return text % values
    except (KeyError, ValueError, TypeError):
        return text


def _(message: str, /, **values: Any) -> str:
    """The message in the current language, %(name)s-formatted with values."""
    if not message:
        return message
    raw = str.__str__(message) if isinstance(message, str) else str(message)
    text = translations(current_language()).gettext(raw)
    if isinstance(message, Markup):
        return Markup(text) % {k: escape(v) for k, v in values.items()} if values else Markup(text)
    return _format(text, values)


def gettext(message: str, /, **values: Any) -> str:
    """Same as `_`."""
    return _(message, **values)


def ngettext(singular: str, plural: str, n: int, /, **values: Any) -> str:
    """The singular or (the language's) plural form for n; `num` is available as a placeholder."""
    text = translations(current_language()).ngettext(singular, plural, n)
    return _format(text, {"num": n, **values})


def pgettext(context: str, message: str, /, **values: Any) -> str:
    """A message whose translation depends on a context ("Open" the verb vs. the state)."""
    text = translations(current_language()).pgettext(context, message)
    return _format(text, values)


class LazyString(str):
    """A module-level message: equal to (and stored, compared, hashed, JSON-encoded as) its English msgid, shown
    in the reader's language when a template prints it or str() is asked for it."""

    __slots__ = ()

    def __str__(self) -> str:
        return _(str.__str__(self))

    def __html__(self) -> str:
        return str(escape(_(str.__str__(self))))

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def lazy_gettext(message: str) -> str:
    """A message translated when shown (module-level constants: catalogue titles, labels, descriptions)."""
    return LazyString(message)


N_ = lazy_gettext


def localized(data: Any) -> Any:
    """A copy of data (dicts, lists, tuples) with every lazy message replaced by its text in the current language
    (demo data and other module-level texts about to be stored)."""
    if isinstance(data, LazyString):
        return str(data)
    if isinstance(data, dict):
        return {key: localized(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(localized(value) for value in data)
    return data

# Codes stored in rows and shown as words (the `label` template filter): statuses, activity types, record kinds,
# permission actions and scopes, document types, roles.
CODE_LABELS = {
    "open": N_("Open"), "won": N_("Won"), "lost": N_("Lost"),
    "call": N_("Call"), "meeting": N_("Meeting"), "task": N_("Task"), "email": N_("Email"),
    "deadline": N_("Deadline"), "persons": N_("Persons"), "organizations": N_("Organizations"),
    "deals": N_("Deals"), "read": N_("Read"), "create": N_("Create"), "edit": N_("Edit"), "move": N_("Move"),
    "delete": N_("Delete"), "none": N_("None"), "own": N_("Own"), "department": N_("Department"), "all": N_("All"),
    "invoice": N_("Invoice"), "quote": N_("Quote"), "admin": N_("Admin"), "rep": N_("Rep"),
    "overdue": N_("Overdue"), "today": N_("Today"), "upcoming": N_("Upcoming"), "done": N_("Done"),
    "pending": N_("Pending"), "running": N_("Running"), "failed": N_("Failed"), "succeeded": N_("Succeeded"),
    "queued": N_("Queued"), "sent": N_("Sent"), "skipped": N_("Skipped"), "cancelled": N_("Cancelled"),
    # Timeline entry kinds (the deal page's timeline heads)
    "created": N_("Created"), "stage_changed": N_("Stage changed"), "note": N_("Note"), "activity": N_("Activity"),
    "activity_done": N_("Activity done"), "comment": N_("Comment"), "document": N_("Document"),
    "loop_blocked": N_("Loop stopped"), "payment": N_("Payment"), "products": N_("Products"),
    "requisites": N_("Requisites"), "robot": N_("Robot"), "sms": N_("SMS"), "status_changed": N_("Status changed"),
    "system": N_("System"), "trigger": N_("Trigger"), "updated": N_("Updated"),
    # Automation events, as the automation list and editor name them
    "deal.created": N_("Deal created"), "deal.updated": N_("Deal updated"), "deal.deleted": N_("Deal deleted"),
    "deal.assigned": N_("Deal assigned"), "deal.unassigned": N_("Deal unassigned"),
    "deal.commented": N_("Deal commented"), "deal.status_changed": N_("Deal won, lost or reopened"),
    "deal.stage_changed": N_("Deal moved to another stage"), "activity.created": N_("Activity created"),
    "activity.updated": N_("Activity updated"), "activity.completed": N_("Activity completed"),
    "person.created": N_("Person created"), "person.updated": N_("Person updated"),
    "organization.created": N_("Organization created"), "organization.updated": N_("Organization updated"),
    "email.received": N_("Email received"),
}


def label(code: Any) -> str:
    """A stored code as a word in the current language ("won" → "Gagnée"); unknown codes capitalized."""
    text = CODE_LABELS.get(str(code)) if code is not None else None
    return _(text) if text is not None else str(code or "").capitalize()


# Texts the browser scripts show (kanban/web/static/*.js, robots/static/*.js): pages hand them over translated
# (window.KANBAN_I18N), and the scripts look their English text up there (`t("…")`).
JS_MESSAGES = (
    N_("The move could not be sent (network error); reloading the board."),
    N_("This browser does not support push notifications."),
    N_("Notifications are blocked for this site in the browser's settings."),
    N_("Subscribing…"),
    N_("The server refused the subscription (%(status)s)."),
    N_("This browser will receive push notifications."),
    N_("Could not subscribe: %(error)s"),
    N_("Order saved."),
    N_("The order was not saved."),
    N_("The order was not saved (network error)."),
)


def js_messages() -> dict[str, str]:
    """The browser scripts' texts in the current language, keyed by their English text."""
    return {str.__str__(m): str(m) for m in JS_MESSAGES}


def install(env: Any) -> None:
    """Give a Jinja2 environment `_()`, `ngettext()`, `{% trans %}` and `current_language()`."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext=_, ngettext=ngettext, pgettext=pgettext, newstyle=True)
    env.globals["current_language"] = current_language
    env.globals["js_messages"] = js_messages
    env.globals["language_names"] = LANGUAGE_NAMES  # each in its own language: not translated
    env.filters["label"] = label


class LanguageMiddleware:
    """Starts each HTTP request in the Accept-Language choice (else the company's); the request's user, once
    authenticated (kanban.web.deps), switches it to their own language."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            header = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"accept-language"),
                          None)
            start(accept_language(header))
        await self.app(scope, receive, send)
