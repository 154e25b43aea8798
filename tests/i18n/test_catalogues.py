"""Every user-visible string is marked for translation, and the French and Italian catalogues translate all of
them (no missing, empty or fuzzy entry); plural forms and Babel dates follow the language."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from kanban import i18n
from kanban.i18n import LazyString, _, ngettext, use_language
from kanban.registry import import_all
from kanban.web import timefmt
from tests.i18n.scan import findings, scan

ROOT = Path(__file__).resolve().parents[2]
METHODS = [("templates/**.html", "jinja2"), ("robots/kinds/**.py", "kanban.i18n_extract.extract_kinds"),
           ("triggers/kinds/**.py", "kanban.i18n_extract.extract_kinds"), ("kanban/**.py", "python"),
           ("robots/**.py", "python"), ("triggers/**.py", "python")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "N_": None,
            "lazy_gettext": None}


def extracted() -> set[str | tuple[str, str]]:
    """The msgids `pybabel extract -F babel.cfg` finds in the code (singular, or (singular, plural))."""
    ids: set[str | tuple[str, str]] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map=METHODS, options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n"}},
            keywords=KEYWORDS):
        ids.add(message if isinstance(message, str) else (message[0], message[1]))
    return {m for m in ids if m}


def catalogue(language: str):
    with i18n.catalog_path(language).open("rb") as fh:
        return read_po(fh, locale=language)


def test_templates_have_no_unmarked_text():
    assert scan(ROOT / "templates") == {}


def test_the_template_scanner_notices_unmarked_text():
    assert findings('<p title="Drag me">Hello {{ name }}</p>') == ["Drag me", "Hello"]
    assert findings("<td>{{ x or 'unknown device' }}</td>") == ["unknown device"]
    assert findings('<p>{{ _("Hello %(n)s", n=name) }}</p><label>{% trans %}Hi{% endtrans %}</label>') == []
    assert findings("<script>var a = 'Hello';</script>{% block body_class %}page-x{% endblock %}") == []


ERRORS = {"BadRequestError", "AuthRequiredError", "PermissionDeniedError", "NotFoundError", "ConflictError",
          "ValidationError", "RateLimitedError", "PayloadTooLargeError", "UnavailableError", "PermanentError",
          "TransientError", "TemplateError", "LoginRequiredError"}
MARKERS = {"_", "ngettext", "N_", "lazy_gettext", "gettext"}


def _has_letters(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return any(c.isalpha() for c in node.value)
    return isinstance(node, ast.JoinedStr) and any(
        isinstance(v, ast.Constant) and any(c.isalpha() for c in v.value) for v in node.values)


def unmarked_python(source: str, where: str) -> list[str]:
    """Literal texts a user reads that are not inside _(): error messages (and their per-field messages),
    errors[...] = ..., and flash messages."""
    tree = ast.parse(source)
    bad: list[str] = []

    def check(node: ast.AST) -> None:
        if _has_letters(node):
            bad.append(f"{where}:{node.lineno}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name in ERRORS and node.args:
                check(node.args[0])
                if len(node.args) > 1 and isinstance(node.args[1], ast.Dict):
                    for value in node.args[1].values:
                        check(value)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Subscript):
                holder = target.value
                if isinstance(holder, ast.Name) and holder.id in ("errors", "fields"):
                    check(node.value)
                if isinstance(target.slice, ast.Constant) and target.slice.value == "flash" and \
                        isinstance(node.value, ast.Tuple):
                    check(node.value.elts[0])
    return bad


def test_python_messages_shown_to_users_are_marked():
    files = [p for folder in ("kanban", "robots", "triggers") for p in (ROOT / folder).rglob("*.py")]
    bad = [line for path in files
           for line in unmarked_python(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert bad == []


def test_the_python_check_notices_an_unmarked_message():
    sample = ('def f(x):\n    raise ValidationError("bad", {"a": _("ok"), "b": "not ok"})\n'
              '    errors["x"] = f"too long: {x}"\n    raise NotFoundError(_("fine"))\n'
              '    request.session["flash"] = ("Saved.", "ok")\n')
    assert sorted(unmarked_python(sample, "s")) == ["s:2", "s:2", "s:3", "s:5"]


def test_robot_and_trigger_catalogue_texts_are_marked():
    from robots.forms import SETTING_LABELS, _label
    from robots.registry import load_kinds
    from triggers.registry import registry as trigger_registry

    import_all("triggers.kinds")
    kinds = [cls for _kind, cls in load_kinds().items()]
    assert all(isinstance(cls.title, LazyString) for cls in kinds)
    assert all(isinstance(cls.title, LazyString) for _kind, cls in trigger_registry.items())
    for cls in kinds:
        for name, field in cls.Settings.model_fields.items():
            assert field.description is None or isinstance(field.description, LazyString), (cls.kind, name)
            with use_language("en"):
                assert _label(name) in SETTING_LABELS, (cls.kind, name)


def test_the_pot_file_is_up_to_date_and_both_catalogues_translate_everything():
    ids = extracted()
    with (ROOT / "kanban" / "locale" / "messages.pot").open("rb") as fh:
        pot = {m.id if isinstance(m.id, str) else tuple(m.id) for m in read_po(fh) if m.id}
    assert ids - pot == set(), "run pybabel extract (see babel.cfg) and translate the new messages"
    for language in ("fr", "it"):
        cat = catalogue(language)
        assert cat.num_plurals == 2
        entries = {m.id if isinstance(m.id, str) else tuple(m.id): m for m in cat if m.id}
        missing = sorted(str(m) for m in ids if m not in entries)
        untranslated = sorted(str(k) for k, m in entries.items()
                              if not (all(m.string) if isinstance(m.string, tuple) else m.string))
        fuzzy = sorted(str(k) for k, m in entries.items() if m.fuzzy)
        assert (missing, untranslated, fuzzy) == ([], [], []), language
        problems = [(m.id, errors) for m, errors in cat.check() if errors]
        assert problems == [], language


@pytest.mark.parametrize(("language", "expected"), [
    ("en", ["0 deals", "1 deal", "2 deals"]),
    ("fr", ["0 affaire", "1 affaire", "2 affaires"]),
    ("it", ["0 opportunità", "1 opportunità", "2 opportunità"]),
])
def test_plural_forms_follow_the_language(language, expected):
    with use_language(language):
        assert [ngettext("%(num)d deal", "%(num)d deals", n) for n in (0, 1, 2)] == expected


def test_plural_forms_differ_per_language_in_days():
    with use_language("fr"):
        assert ngettext("%(num)d day", "%(num)d days", 0) == "0 jour"  # French: 0 is singular
    with use_language("it"):
        assert ngettext("%(num)d day", "%(num)d days", 0) == "0 giorni"


def test_lazy_strings_store_english_and_show_the_reader_language():
    title = i18n.N_("Add tags")
    assert title == "Add tags" and {title: 1}["Add tags"] == 1
    with use_language("fr"):
        assert str(title) == "Ajouter des étiquettes" and title.__html__() == "Ajouter des étiquettes"
        assert i18n.localized({"name": title, "n": 2}) == {"name": "Ajouter des étiquettes", "n": 2}
    with use_language("it"):
        assert f"{title}" == "Aggiungi tag"


def test_formatting_keeps_placeholders_and_escapes_nothing_by_itself():
    with use_language("fr"):
        assert _("Pipeline “%(name)s” created.", name="Ventes") == "Pipeline « Ventes » créé."
        assert _("an unknown message %(x)s", x=1) == "an unknown message 1"
        assert _("Discount %%") == "Remise %%"  # no values: the message is not %-formatted


def test_dates_use_babel_month_and_day_names():
    today = date(2026, 12, 7)
    with use_language("en"):
        assert [timefmt.day_label(d, today) for d in (date(2026, 12, 8), date(2026, 12, 10), date(2026, 9, 3),
                                                      date(2025, 9, 3))] == ["tomorrow", "Thu 10 Dec", "3 Sep",
                                                                             "3 Sep 2025"]
    with use_language("fr"):
        assert [timefmt.day_label(d, today) for d in (today, date(2026, 12, 10), date(2026, 2, 3))] == [
            "aujourd’hui" if _("today") == "aujourd’hui" else "aujourd'hui", "jeu. 10 déc.", "3 févr."]
    with use_language("it"):
        assert [timefmt.day_label(d, today) for d in (date(2026, 12, 6), date(2026, 12, 10), date(2026, 8, 3))] == [
            "ieri", "gio 10 dic", "3 ago"]


def test_accept_language_and_language_codes():
    assert i18n.accept_language("fr-CH, fr;q=0.9, en;q=0.8") == "fr"
    assert i18n.accept_language("de-DE,de;q=0.9,it;q=0.7,en;q=0.5") == "it"
    assert i18n.accept_language("en;q=0.2, it;q=0.8") == "it"
    assert i18n.accept_language("de, es") is None and i18n.accept_language(None) is None
    assert i18n.accept_language("fr;q=0, it") == "it"
    assert [i18n.normalize(c) for c in ("FR_ca", "it-IT", "de", "", None, 3)] == ["fr", "it", None, None, None, None]


def test_company_language_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("KANBAN_LANGUAGE", "it")
    assert i18n.company_language() == "it"
    with use_language(None):
        assert _("Board") == "Bacheca"
    monkeypatch.setenv("KANBAN_LANGUAGE", "klingon")
    assert i18n.company_language() == "en"
