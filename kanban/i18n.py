"""Translation entry points: `_`, `ngettext` and `lazy_gettext` for Python, `_()` / `{% trans %}` in templates.

Every string a user sees is wrapped in one of these. Until the catalogues land (issue 13) they return the
English text unchanged; the locale issue replaces the internals, not the call sites.
"""

from __future__ import annotations

from typing import Any


def _(message: str, **values: Any) -> str:
    """The message in the current user's language (English until catalogues exist), %(name)s-formatted."""
    return message % values if values else message


def gettext(message: str, **values: Any) -> str:
    """Same as `_`."""
    return _(message, **values)


def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
    """Singular or plural form for n; `num` is available as a placeholder."""
    message = singular if n == 1 else plural
    return message % {"num": n, **values}


def lazy_gettext(message: str) -> str:
    """A message translated when shown (module-level constants); today the message itself."""
    return message


def install(env: Any) -> None:
    """Give a Jinja2 environment `_()`, `ngettext()` and `{% trans %}`."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext=_, ngettext=ngettext, newstyle=True)
