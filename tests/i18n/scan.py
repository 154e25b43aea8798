"""Finds user-visible text in templates that is not marked for translation.

A template is cut into tokens: Jinja comments, whole `{% trans %}…{% endtrans %}` blocks (marked by definition),
`{{ … }}` values, `{% … %}` tags, <script>/<style> bodies (code), HTML tags and text. Visible text is every text
token and every human-read attribute (placeholder, title, aria-label, alt) of a tag once its Jinja parts are
taken out, plus literal fallbacks printed by a value (`{{ x or 'none' }}`). What has a letter in it and is not
inside `_()` is text nobody marked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

TOKEN = re.compile(r"""
    (?P<comment>\{\#.*?\#\})
  | (?P<trans>\{%-?\s*trans\b.*?%\}.*?\{%-?\s*endtrans\s*-?%\})
  | (?P<classblock>\{%-?\s*block\s+body_class\s*-?%\}.*?\{%-?\s*endblock\b.*?%\})
  | (?P<expr>\{\{.*?\}\})
  | (?P<stmt>\{%.*?%\})
  | (?P<code><(?P<codetag>script|style)\b.*?</(?P=codetag)\s*>)
  | (?P<tag><(?:[^>{]|\{\{.*?\}\}|\{%.*?%\}|\{\#.*?\#\}|\{)*>)
  | (?P<text>[^<{]+|[<{])
""", re.S | re.X | re.I)
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
ATTR = re.compile(r"""\b(placeholder|title|aria-label|alt)\s*=\s*(["'])(.*?)\2""", re.S | re.I)
# Literal strings a value prints as a fallback or a choice ({{ x or 'none' }}, {{ 'Save' if a else 'Add' }}).
LITERAL = re.compile(r"""(?:\bor|\belse|\bif|\{\{-?)\s*(["'])([^"'/~]*[A-Za-z][^"'/~]*)\1""")
MARKED = re.compile(r"""\b(?:_|gettext|ngettext|pgettext)\(\s*(["']).*?(?<!\\)\1(?:\s*,\s*(["']).*?(?<!\\)\2)?""",
                    re.S)
LETTER = re.compile(r"[A-Za-z]")
STRUCTURE = re.compile(r"\{%-?\s*(block|endblock|extends|include|import|from)\b")
LABEL = re.compile(r"""(["'])([A-Z][a-z][^"']*)\1""")  # a capitalised word or sentence
# Not words of any language: product name, acronyms, units.
ALLOWED = {"Kanban CRM", "IP", "URL", "SKU", "IBAN", "BIC", "ID", "JSON", "CSV", "HTML", "SMS", "PDF", "E.164",
           "HMAC", "SHA-256", "UTC", "CSRF", "API", "PNG", "VAT"}


def tokens(source: str) -> Iterator[tuple[str, str]]:
    """(kind, text) for each token of a template, in order (their texts concatenate to the source)."""
    for match in TOKEN.finditer(source):
        kind = match.lastgroup
        if kind == "codetag":
            kind = "code"
        yield str(kind), match.group(0)


ATTRIBUTES_ONLY = re.compile(r"""^(\s*[\w-]+=(["'])[^"']*\2)+\s*$""")  # a macro writing attributes, not text


def _visible(text: str) -> bool:
    text = " ".join(text.split())
    return bool(LETTER.search(text)) and text not in ALLOWED and not ATTRIBUTES_ONLY.match(text)


def findings(source: str) -> list[str]:
    """The unmarked visible strings of one template."""
    found: list[str] = []
    run: list[str] = []

    def flush() -> None:
        text = " ".join("".join(run).split())
        if _visible(text):
            found.append(text)
        run.clear()

    for kind, text in tokens(source):
        if kind == "stmt" and not STRUCTURE.match(text):
            # Labels written as literals in a tag ({% for v, label in [('now', 'Immediately')] %}).
            found += [m.group(2) for m in LABEL.finditer(MARKED.sub("", text))]
        if kind == "text":
            run.append(text)
            continue
        if kind == "expr":
            inner = MARKED.sub("", text)
            found += [m.group(2) for m in LITERAL.finditer(inner) if _visible(m.group(2))]
            run.append(" ")
            continue
        flush()
        if kind == "tag":
            for _name, _q, value in ATTR.findall(JINJA.sub(" ", text)):
                if _visible(value):
                    found.append(" ".join(value.split()))
            for expr in re.findall(r"\{\{.*?\}\}", " ".join(v for _n, _q, v in ATTR.findall(text)), re.S):
                inner = MARKED.sub("", expr)
                found += [m.group(2) for m in LITERAL.finditer(inner) if _visible(m.group(2))]
    flush()
    return found


def scan(root: Path) -> dict[str, list[str]]:
    """Every template under root with unmarked strings → those strings."""
    out: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.html")):
        bad = findings(path.read_text(encoding="utf-8"))
        if bad:
            out[str(path.relative_to(root))] = bad
    return out
