"""Sandboxed templates: rendering, escaping per channel, placeholders, and the SSTI/DoS corpus."""

from __future__ import annotations

import time

import pytest

from robots.errors import PermanentError
from robots.templating import MAX_OUTPUT_CHARS, TemplateError, placeholders, render

VALUES = {
    "deal": {"title": "<b>Big & Co</b>", "amount": "1250.00", "tags": ["vip", "eu"],
             "fields": {"source": "web", "items": "field called items", "notes": "n" * 5000}},
    "contact": {"name": "Ann", "email": "ann@example.com"},
    "robots": {"chat": {"chat_id": 42}},
    "big": list(range(1000)),
}


def test_renders_placeholders_filters_and_loops() -> None:
    text = render("{{ deal.title }} {{ deal.tags|join(', ') }} #{{ robots.chat.chat_id }} "
                  "{% for t in deal.tags %}{{ loop.index }}={{ t|upper }};{% endfor %}"
                  "{% if deal.amount|float > 1000 %}big{% else %}small{% endif %}", "text", VALUES)
    assert text == "<b>Big & Co</b> vip, eu #42 1=VIP;2=EU;big"


def test_html_channel_escapes_values_and_text_does_not() -> None:
    assert render("<p>{{ deal.title }}</p>", "html", VALUES) == "<p>&lt;b&gt;Big &amp; Co&lt;/b&gt;</p>"
    assert render("{{ deal.title }}", "text", VALUES) == "<b>Big & Co</b>"


def test_dotted_names_read_dict_keys_never_methods() -> None:
    assert render("{{ deal.fields.items }}", "text", VALUES) == "field called items"
    assert render("[{{ deal.title.upper }}][{{ deal.keys }}][{{ deal.fields.nope.deeper }}]", "text", VALUES) \
        == "[][][]"


def test_placeholders_lists_dotted_names_without_loop_variables() -> None:
    found = placeholders("{{ deal.title }}{{ deal.fields['lead source'] }}{% for t in deal.tags %}{{ t }}"
                         "{{ loop.index }}{% endfor %}{% if contact.email %}{{ robots.chat.chat_id|default('') }}"
                         "{% endif %}")
    assert found == {"deal.title", "deal.fields.lead source", "deal.tags", "contact.email", "robots.chat.chat_id"}


def test_template_error_is_permanent_and_names_the_line() -> None:
    with pytest.raises(TemplateError, match="line 2") as info:
        placeholders("ok\n{{ deal.title ")
    assert isinstance(info.value, PermanentError)


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ deal['__class__'] }}",
    "{{ deal|attr('format') }}",
    "{{ deal|attr('__class__') }}",
    "{{ '{0.__class__}'.format(deal) }}",
    "{{ 'a' * 10**9 }}",
    "{{ 'a' * 1000000000 }}",
    "{{ '%999999999s' % 'a' }}",
    "{{ 9**9**9 }}",
    "{% for i in range(100000000) %}x{% endfor %}",
    "{% for a in big %}{% for b in big %}{% for c in big %}x{% endfor %}{% endfor %}{% endfor %}",
    "{% for a in big recursive %}{{ loop(big) }}{% endfor %}",
    "{% set x = 'a' %}{{ x }}",
    "{% macro m() %}x{% endmacro %}{{ m() }}",
    "{% include 'x' %}",
    "{% extends 'x' %}",
    "{{ lipsum(1000) }}",
    "{{ cycler }}{{ deal.title.upper() }}",
    "{{ deal.tags|map('upper')|join }}",
    "{{ deal.title|replace('B', deal.fields.notes) }}",
    "{{ deal.title|center(1000000000) }}",
    "{{ deal.title|format(1) }}",
    "{{ dict(a=1) }}",
    "{% filter upper %}x{% endfilter %}",
    "x" * 10_001,
])
def test_ssti_and_dos_corpus_is_refused(template: str) -> None:
    with pytest.raises(TemplateError):
        render(template, "text", VALUES)


@pytest.mark.parametrize("template", [
    "{% for a in big %}{% for b in big %}{% endfor %}{% endfor %}",  # 10^6 iterations, no output
    "{% for a in deal.fields.notes %}{% for b in deal.fields.notes %}{% endfor %}{% endfor %}",
    "{% for a in big %}{{ deal.fields.notes }}{% endfor %}",  # 5 MB of output
    "{% for a in big %}{% for b in big %}{{ a }}{% endfor %}{% endfor %}",
])
def test_loop_and_output_bombs_are_bounded(template: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError, match="loops ran more than|longer than"):
        render(template, "text", VALUES)
    assert time.monotonic() - started < 2


X, Y, Z = "x" * 300, "y" * 1500, "z" * 1500
BIG_CONST = "q" * 3000


@pytest.mark.parametrize("template", [
    # The audit's examples: nested joins of constants built 672 million characters inside one expression.
    "{{ '" + X + "'|join('" + Y + "'|join('" + Z + "'))|length }}",
    "{{ 'x'*300|join('y'*1500|join('z'*1500))|length }}",
    "{{ '" + Y + "'|join('" + Z + "')|length }}",
    "{{ ('" + Y + "'|join('" + Z + "'))|upper|length }}",
    # Concatenation and addition of intermediates, inside expressions whose output is tiny.
    "{{ (big|join('" + Y + "') ~ 'a')|length }}",
    "{{ (s ~ s)|length }}",
    "{{ (s + s)|length }}",
    "{{ (big + big|join(s))|length }}",
    "{{ (big|join(big|join(',')))|length }}",
    "{{ s|urlencode|length }}",
    "{{ s|e|length }}",
    "{% if ('" + BIG_CONST + "'|join('" + BIG_CONST + "')) %}x{% endif %}",
    "{{ deal.title|replace('A', '" + Y + "') }}",
    "{{ '{:>999999999}'|format(1) }}",
    "{% for i in range(999999999) %}{% endfor %}",
    "{{ deal.fields.notes|center(999999999)|length }}",
])
def test_intermediate_values_are_bounded_inside_one_expression(template: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError):
        render(template, "text", {**VALUES, "s": "&" * 60_000})
    assert time.monotonic() - started < 2


def test_bounded_intermediates_still_render_normally() -> None:
    assert render("{{ (deal.title ~ '-' ~ deal.tags|join(','))|upper }}", "text", VALUES) == "<B>BIG & CO</B>-VIP,EU"
    assert render("{{ 1 + 2 }}{{ 'a' + 'b' }}{{ ([1] + [2])|length }}", "text", VALUES) == "3ab2"
    assert render("{{ deal.title|e ~ '&' }}", "html", {"deal": {"title": "A&B"}}) == "A&amp;B&amp;"


def test_memory_exhaustion_is_a_permanent_template_error(monkeypatch) -> None:
    import robots.templating as templating

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setitem(templating._ENVS["text"].filters, "upper", exhausted)
    templating._compiled.cache_clear()
    with pytest.raises(TemplateError, match="exhausted the renderer's resources") as caught:
        render("{{ deal.title|upper }}", "text", VALUES)
    templating._compiled.cache_clear()
    assert isinstance(caught.value, templating.PermanentError)


def test_output_cap_counts_the_whole_render() -> None:
    values = {"s": "x" * 60_000}
    assert len(render("{{ s }}", "text", values)) == 60_000
    with pytest.raises(TemplateError, match=str(MAX_OUTPUT_CHARS)):
        render("{{ s }}{{ s }}", "text", values)


def test_context_is_reduced_to_plain_values() -> None:
    class Secret:
        def __str__(self) -> str:
            return "secret-str"

        password = "hunter2"

    assert render("{{ obj }}|{{ obj.password }}", "text", {"obj": Secret()}) == "secret-str|"


def test_unknown_channel_is_refused() -> None:
    with pytest.raises(TemplateError, match="channel"):
        render("x", "sms", {})
