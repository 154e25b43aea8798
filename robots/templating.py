"""Sandboxed robot templates: a small, checked subset of Jinja2 with caps on size, loops, output and time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache, wraps
from typing import Any

from babel.dates import format_date, format_time
from babel.numbers import format_decimal
from jinja2 import ChainableUndefined, TemplateSyntaxError, nodes, pass_context, pass_eval_context
from jinja2.nodes import EvalContext
from jinja2.runtime import LoopContext, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment

from kanban import company, timezones
from kanban.i18n import _
from kanban.money import format_money
from kanban.pricing import exponent
from robots.errors import PermanentError

MAX_TEMPLATE_CHARS = 10_000
MAX_OUTPUT_CHARS = 100_000
MAX_LOOP_ITERATIONS = 10_000
MAX_LOOP_DEPTH = 2
MAX_VARIABLE_READS = 500
MAX_RENDER_SECONDS = 1.0
MAX_VALUE_CHARS = 100_000  # a longer context string could never be output anyway
MAX_VALUE_ITEMS = 1_000
MAX_VALUE_DEPTH = 8
# Every intermediate value (a filter's result, a concatenation, a joined string) is held to this size too, so one
# expression cannot build a huge string on the way to a short output (`{{ a|join(b|join(c))|length }}`).
MAX_INTERMEDIATE = 100_000
CHANNELS = ("text", "html")

ALLOWED_FILTERS = frozenset({
    "abs", "capitalize", "d", "date", "default", "e", "escape", "first", "float", "int", "join", "last",
    "length", "lower", "money", "round", "sort", "string", "striptags", "title", "trim", "truncate", "upper",
    "urlencode", "wordcount",
})
DATE_FORMATS = ("short", "medium", "long", "full")
# Expression and statement nodes a message template needs; everything else (calls, set, macros,
# includes, *, **, %, //, /) is refused because it is either an escape route or an amplifier.
ALLOWED_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.Getattr,
    nodes.Getitem, nodes.Slice, nodes.Filter, nodes.Test, nodes.If, nodes.For, nodes.CondExpr,
    nodes.And, nodes.Or, nodes.Not, nodes.Neg, nodes.Pos, nodes.Compare, nodes.Operand, nodes.Add,
    nodes.Sub, nodes.Concat, nodes.List, nodes.Tuple, nodes.Keyword,
)
_LOOP_FILTER = "_robot_loop_items"
_CONCAT_FILTER = "_robot_concat"
LOOP_ATTRIBUTES = frozenset({"index", "index0", "revindex", "revindex0", "first", "last", "length"})


class TemplateError(PermanentError):
    """A template is malformed, uses a forbidden construct, or exceeded a rendering limit."""


class _Budget:
    """Per-render limits: loop iterations, output size and wall time."""

    def __init__(self) -> None:
        self.iterations = 0
        self.deadline = time.monotonic() + MAX_RENDER_SECONDS

    def tick(self) -> None:
        self.iterations += 1
        if self.iterations > MAX_LOOP_ITERATIONS:
            raise TemplateError(_("template loops ran more than %(max_loop_iterations)s times",
                                   max_loop_iterations=MAX_LOOP_ITERATIONS))
        self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateError(_("template took longer than %(max_render_seconds)s s to render",
                                   max_render_seconds=format(MAX_RENDER_SECONDS, 'g')))


_budget: ContextVar[_Budget | None] = ContextVar("robot_template_budget", default=None)
_locale: ContextVar[str | None] = ContextVar("robot_template_locale", default=None)


@contextmanager
def use_locale(language: str | None) -> Iterator[None]:
    """Render the `money` and `date` filters in `language` (en|fr|it; default: the company's) inside the block."""
    token = _locale.set(language)
    try:
        yield
    finally:
        _locale.reset(token)


def _template_locale() -> str:
    language = _locale.get()
    return language if language in company.LANGUAGES else company.cached().language


@pass_context  # never folded at compile time: the language is known only when rendering
def _money_filter(_ctx: Any, value: Any, currency: Any = "") -> str:
    """`{{ deal.amount|money(deal.currency) }}`: an amount in major units ("1250.00", 1250) as the template's
    language writes money ("1 250,00 €" in French); with no currency, just the localized number."""
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise TemplateError(_("money: %(value)r is not an amount", value=str(value)[:40])) from None
    if not amount.is_finite() or abs(amount) > Decimal(10) ** 15:
        raise TemplateError(_("money: the amount is out of range"))
    code = str(currency or "").strip().upper()
    if not code:
        return format_decimal(amount, locale=_template_locale(), decimal_quantization=False)
    minor = int(amount.scaleb(exponent(code)).to_integral_value(ROUND_HALF_UP))
    return format_money(minor, code, _template_locale())


@pass_context
def _date_filter(_ctx: Any, value: Any, style: Any = "long") -> str:
    """`{{ deal.created_at|date }}`: an ISO date ("2026-12-07") or date-time in the template's language
    ("7 décembre 2026"); date-times also show the time of day, in the company's time zone."""
    if style not in DATE_FORMATS:
        raise TemplateError(_("date: the format is one of %(formats)s", formats=', '.join(DATE_FORMATS)))
    if isinstance(value, (date, datetime)):
        text = value.isoformat()
    else:
        text = str(value or "").strip()
    if not text:
        return ""
    locale = _template_locale()
    try:
        if len(text) <= 10:
            return format_date(date.fromisoformat(text), style, locale=locale)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TemplateError(_("date: %(text)r is not an ISO 8601 date", text=text[:40])) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezones.company_zone())
    return f"{format_date(moment.date(), style, locale=locale)} {format_time(moment.time(), 'short', locale=locale)}"


def _loop_items(value: Any) -> Iterator[Any]:
    """Every {% for %} iterates through this, so nested loops share one iteration budget."""
    budget = _budget.get()
    if isinstance(value, dict):
        value = list(value)
    if not isinstance(value, (list, tuple, str)):
        return
    for item in value:
        if budget is not None:
            budget.tick()
        yield item


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple, dict)) else 0


def _bounded(value: Any, what: str) -> Any:
    if _size(value) > MAX_INTERMEDIATE:
        raise TemplateError(_("%(what)s would be longer than %(max_intermediate)s characters or items",
                               what=what, max_intermediate=MAX_INTERMEDIATE))
    return value


def _join_size(value: Any, separator: Any) -> int:
    """What join would build, computed before building it."""
    items = list(value) if isinstance(value, (str, list, tuple)) else []
    return sum(len(str(item)) for item in items) + max(0, len(items) - 1) * len(str(separator))


def _capped_filter(name: str, fn: Any) -> Any:
    """A filter whose input (for join: its predicted result) and result are held to MAX_INTERMEDIATE."""

    @wraps(fn)  # keeps jinja's pass_context/pass_environment marker
    def capped(*args: Any, **kwargs: Any) -> Any:
        if name == "join":
            offset = 1 if hasattr(fn, "jinja_pass_arg") else 0
            value = args[offset] if len(args) > offset else None
            separator = args[offset + 1] if len(args) > offset + 1 else kwargs.get("d", "")
            if _join_size(value, separator) > MAX_INTERMEDIATE:
                raise TemplateError(_("join would build more than %(max_intermediate)s characters",
                                       max_intermediate=MAX_INTERMEDIATE))
        return _bounded(fn(*args, **kwargs), f"the result of |{name}")

    return capped


@pass_eval_context
def _concat(eval_ctx: EvalContext, parts: list[Any]) -> Any:
    """`a ~ b ~ c`, with the result's size checked before it is built."""
    if sum(len(str(p)) for p in parts) > MAX_INTERMEDIATE:
        raise TemplateError(_("joining text with ~ would build more than %(max_intermediate)s characters",
                               max_intermediate=MAX_INTERMEDIATE))
    return (markup_join if eval_ctx.autoescape else str_join)(parts)  # Markup stays Markup (no double escape)


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, with dotted access reduced to dict keys and list indexes (no methods, no attributes)."""

    # `+` and `-` go through call_binop, where sizes are checked before text or lists are added.
    intercepted_binops = frozenset({"+", "-"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "+" and _size(left) + _size(right) > MAX_INTERMEDIATE:
            raise TemplateError(_("adding these would build more than %(max_intermediate)s characters or items",
                                   max_intermediate=MAX_INTERMEDIATE))
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        if isinstance(obj, LoopContext) and attribute in LOOP_ATTRIBUTES:
            return getattr(obj, attribute)
        return self.undefined(obj=obj, name=attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, dict) and isinstance(argument, str) and argument in obj:
            return obj[argument]
        if isinstance(obj, (list, tuple, str)) and isinstance(argument, (int, slice)):
            try:
                return obj[argument]
            except IndexError:
                pass
        return self.undefined(obj=obj, name=str(argument))

    def call(self, *args: Any, **kwargs: Any) -> Any:
        raise TemplateError(_("calling functions is not allowed in templates"))


def _make_env(autoescape: bool) -> _Environment:
    env = _Environment(autoescape=autoescape, undefined=ChainableUndefined, keep_trailing_newline=True)
    env.filters["money"] = _money_filter
    env.filters["date"] = _date_filter
    env.filters = {name: _capped_filter(name, env.filters[name]) for name in ALLOWED_FILTERS if name in env.filters}
    env.filters[_LOOP_FILTER] = _loop_items
    env.filters[_CONCAT_FILTER] = _concat
    env.globals = {}
    return env


_ENVS = {"text": _make_env(False), "html": _make_env(True)}


def _parse(template: str) -> nodes.Template:
    if not isinstance(template, str):
        raise TemplateError(_("a template must be text"))
    if len(template) > MAX_TEMPLATE_CHARS:
        raise TemplateError(_("template is longer than %(max_template_chars)s characters",
                               max_template_chars=MAX_TEMPLATE_CHARS))
    try:
        tree = _ENVS["text"].parse(template)
    except TemplateSyntaxError as exc:
        raise TemplateError(_("template syntax error on line %(lineno)s: %(message)s",
                               lineno=exc.lineno, message=exc.message)) from None
    _check(tree)
    return tree


def _check(tree: nodes.Template) -> None:
    """Refuse anything outside the allowed subset, with a message that names the construct."""
    reads = 0
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, ALLOWED_NODES):
            raise TemplateError(_("%(describe)s is not allowed in templates (line %(lineno)s)",
                                   describe=_describe(node), lineno=node.lineno))
        if isinstance(node, nodes.Name):
            reads += 1
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            raise TemplateError(_("names starting with '_' are not allowed (line %(lineno)s)", lineno=node.lineno))
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) \
                and isinstance(node.arg.value, str) and node.arg.value.startswith("_"):
            raise TemplateError(_("names starting with '_' are not allowed (line %(lineno)s)", lineno=node.lineno))
        if isinstance(node, nodes.Filter):
            if node.name not in ALLOWED_FILTERS:
                raise TemplateError(_("filter '%(name)s' is not allowed (line %(lineno)s)",
                                       name=node.name, lineno=node.lineno))
            if node.dyn_args is not None or node.dyn_kwargs is not None:
                raise TemplateError(_("*args and **kwargs are not allowed (line %(lineno)s)", lineno=node.lineno))
        if isinstance(node, nodes.For):
            if node.recursive:
                raise TemplateError(_("recursive loops are not allowed (line %(lineno)s)", lineno=node.lineno))
            if _loop_depth(node) > MAX_LOOP_DEPTH:
                raise TemplateError(_("loops nest deeper than %(max_loop_depth)s (line %(lineno)s)",
                                       max_loop_depth=MAX_LOOP_DEPTH, lineno=node.lineno))
    if reads > MAX_VARIABLE_READS:
        raise TemplateError(_("template reads more than %(max_variable_reads)s values",
                               max_variable_reads=MAX_VARIABLE_READS))


def _describe(node: nodes.Node) -> str:
    names = {"Call": "calling functions", "Assign": "{% set %}", "AssignBlock": "{% set %}",
             "Mul": "the * operator", "Pow": "the ** operator", "Mod": "the % operator",
             "Div": "the / operator", "FloorDiv": "the // operator", "Macro": "{% macro %}",
             "Include": "{% include %}", "Import": "{% import %}", "FromImport": "{% import %}",
             "Extends": "{% extends %}", "Block": "{% block %}", "FilterBlock": "{% filter %}",
             "CallBlock": "{% call %}", "With": "{% with %}", "Dict": "dict literals"}
    return names.get(type(node).__name__, f"'{type(node).__name__}'")


def _loop_depth(loop: nodes.For) -> int:
    inner = [n for n in loop.body if isinstance(n, nodes.Node)]
    depth = 0
    for child in inner:
        found = [child] if isinstance(child, nodes.For) else list(child.find_all(nodes.For))
        for sub in found:
            depth = max(depth, _loop_depth(sub))
    return depth + 1


def _guard_loops(tree: nodes.Template) -> nodes.Template:
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, _LOOP_FILTER, [], [], None, None, lineno=loop.lineno)
    # `~` compiles to a plain join of its parts: route it through a filter that checks the size first.
    for concat in list(tree.find_all(nodes.Concat)):
        parts = nodes.List(list(concat.nodes), lineno=concat.lineno)
        guarded = nodes.Filter(parts, _CONCAT_FILTER, [], [], None, None, lineno=concat.lineno)
        concat.nodes = [guarded]
    return tree


@lru_cache(maxsize=512)
def _compiled(template: str, channel: str) -> Any:
    tree = _guard_loops(_parse(template))
    return _ENVS[channel].from_string(tree)


def placeholders(template: str) -> set[str]:
    """Dotted names a template reads (e.g. "deal.title", "robots.chat.chat_id"); TemplateError if invalid."""
    tree = _parse(template)
    loop_names = {n.name for loop in tree.find_all(nodes.For)
                  for n in [loop.target, *loop.target.find_all(nodes.Name)] if isinstance(n, nodes.Name)}
    loop_names.add("loop")
    found: set[str] = set()
    inner: set[int] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        if id(node) in inner:
            continue
        path = _path(node, inner)
        if path and path.split(".", 1)[0] not in loop_names:
            found.add(path)
    return found


def _path(node: nodes.Node, inner: set[int]) -> str | None:
    """The dotted name of the outermost attribute chain at `node`, marking inner links as seen."""
    parts: list[str] = []
    current: Any = node
    while True:
        if isinstance(current, nodes.Getattr):
            parts.append(current.attr)
        elif isinstance(current, nodes.Getitem) and isinstance(current.arg, nodes.Const) \
                and isinstance(current.arg.value, str):
            parts.append(current.arg.value)
        elif isinstance(current, nodes.Name):
            parts.append(current.name)
            return ".".join(reversed(parts))
        else:
            return None
        current = current.node
        inner.add(id(current))


def plain(value: Any, depth: int = 0) -> Any:
    """A copy of value made only of dict/list/str/int/float/bool/None, with sizes capped."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value[:MAX_VALUE_CHARS]
    if depth >= MAX_VALUE_DEPTH:
        return None
    if isinstance(value, dict):
        items = list(value.items())[:MAX_VALUE_ITEMS]
        return {str(k): plain(v, depth + 1) for k, v in items}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v, depth + 1) for v in list(value)[:MAX_VALUE_ITEMS]]
    return str(value)[:MAX_VALUE_CHARS]


def render(template: str, channel: str, values: dict[str, Any]) -> str:
    """Render a template for a channel ("html" escapes values, "text" does not) within the sandbox limits."""
    if channel not in CHANNELS:
        raise TemplateError(_("unknown template channel %(channel)s", channel=repr(channel)))
    compiled = _compiled(template, channel)
    budget = _Budget()
    token = _budget.set(budget)
    try:
        out: list[str] = []
        size = 0
        for chunk in compiled.generate(plain(values)):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise TemplateError(_("rendered text is longer than %(max_output_chars)s characters",
                                       max_output_chars=MAX_OUTPUT_CHARS))
            budget.check_time()
            out.append(chunk)
        return "".join(out)
    except TemplateError:
        raise
    except (MemoryError, RecursionError) as exc:
        # Exhaustion is a property of the template, so trying again cannot help: a permanent failure.
        raise TemplateError(_("template exhausted the renderer's resources (%(name__)s); "
                            "simplify it", name__=type(exc).__name__)) from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        # Runtime errors of the expression itself (e.g. comparing text with a number) are the admin's to fix.
        raise TemplateError(_("template failed to render: %(exc)s", exc=exc)) from None
    finally:
        _budget.reset(token)
