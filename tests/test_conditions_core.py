"""The shared condition evaluator: lookups, comparisons, reasons for a false condition, validation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kanban.conditions import MAX_DEPTH, MAX_ITEMS, compare, evaluate, explain, lookup, reasons, validate

VALUES: dict[str, Any] = {
    "deal": {"amount": Decimal("1250.00"), "tags": ["VIP"], "fields": {"due": "2026-03-01", "n": None}},
    "contact": {"email": ""},
}


def test_lookup_follows_dotted_names_and_returns_none_for_missing_parts() -> None:
    assert lookup(VALUES, "deal.amount") == Decimal("1250.00")
    assert lookup(VALUES, "deal.fields.due") == "2026-03-01"
    assert lookup(VALUES, "deal.fields.due.year") is None
    assert lookup(VALUES, "deal.nope") is None
    assert lookup(VALUES, "nope") is None


@pytest.mark.parametrize(("actual", "op", "wanted", "expected"), [
    (Decimal("1250.00"), ">", 1000, True),
    (Decimal("1250.00"), "=", "1250", True),
    (7, ">=", "7.0", True),
    (7, "<=", 6, False),
    (float("inf"), ">", 1, False),
    ("NaN", "=", "nan", True),  # not numbers, so compared as text
    ("NaN", ">", 1, False),
    ("2026-03-01", ">", "2026-02-28", True),
    ("2026-03-01T10:00:00+02:00", "<", "2026-03-01T09:00:00Z", True),
    ("2026-03-01", ">", 5, False),
    ("abc", "<", "abd", False),  # text is not ordered
    (["VIP", "eu"], "=", ["eu", "vip"], True),
    (["VIP"], "contains", "vip", True),
    ("Web form", "contains", "FORM", True),
    (None, "contains", "", False),
    ("web", "in", "ads, web", True),
    ("web", "in", ["ads"], False),
    (" ", "empty", None, True),
    ({}, "not_empty", None, False),
    (False, "=", "false", True),
    (1, "~", 1, False),
])
def test_compare(actual: Any, op: str, wanted: Any, expected: bool) -> None:
    assert compare(actual, op, wanted) is expected


def test_evaluate_with_a_custom_lookup_reports_failed_fields_under_their_written_names() -> None:
    def bare(values: dict[str, Any], name: str) -> Any:
        return lookup(values, name if "." in name else f"deal.{name}")

    cond = {"all": [{"field": "amount", "op": ">", "value": 5000}, {"field": "tags", "op": "contains", "value": "vip"}]}
    assert evaluate(cond, VALUES, bare) == (False, {"amount": Decimal("1250.00")})
    assert evaluate(cond, VALUES) == (False, {"amount": None, "tags": None})
    assert evaluate(None, VALUES) == (True, {})


def test_reasons_name_only_the_comparisons_that_failed() -> None:
    above, below = {"field": "deal.amount", "op": ">", "value": 2000}, {"field": "deal.amount", "op": "<", "value": 10}
    email = {"field": "contact.email", "op": "not_empty"}
    cond = {"any": [above, {"all": [below, email]}]}
    holds, details = evaluate(cond, VALUES)
    assert not holds
    assert reasons(cond, details) == ["deal.amount is Decimal('1250.00') (needs > 2000)",
                                      "deal.amount is Decimal('1250.00') (needs < 10)",
                                      "contact.email is '' (needs not_empty)"]
    # This comparison holds: it is no reason even though another comparison of its field failed.
    mixed = {"all": [{**above, "value": 1000}, below, email]}
    holds, details = evaluate(mixed, VALUES)
    assert not holds
    assert explain(mixed, details) == ("condition not met: deal.amount is Decimal('1250.00') (needs < 10); "
                                       "contact.email is '' (needs not_empty)")


def test_validate_uses_the_given_field_predicate() -> None:
    def known(name: str) -> bool:
        return name in ("deal.amount", "deal.fields.due")

    assert validate(None, known) == {}
    assert validate({}, known) == {}
    assert validate({"all": [{"field": "deal.amount", "op": ">=", "value": "10"},
                             {"any": [{"field": "deal.fields.due", "op": "<", "value": "2026-01-01"}]}]}, known) == {}
    errors = validate({"any": [{"field": "deal.title", "op": "=", "value": "x"},
                               {"field": "deal.amount", "op": "=", "value": 1, "extra": 1},
                               {"field": 3, "op": "in", "value": 1},
                               {"field": "deal.amount", "op": "<", "value": "soon"}]}, known, prefix="c")
    assert errors == {
        "c.any.0.field": "unknown field (use e.g. deal.amount, deal.fields.source, deal.tags)",
        "c.any.1": "unknown keys: extra",
        "c.any.2.field": "unknown field (use e.g. deal.amount, deal.fields.source, deal.tags)",
        "c.any.2.value": "give a list of values (or a comma-separated text)",
        "c.any.3.value": "compare with a number or a date (YYYY-MM-DD)",
    }


def test_validate_limits_depth_and_size() -> None:
    leaf = {"field": "deal.amount", "op": "empty"}
    nested: dict[str, Any] = {"all": [leaf]}
    for _ in range(MAX_DEPTH):
        nested = {"all": [nested]}
    assert validate(nested, lambda name: True) == {
        "condition" + ".all.0" * MAX_DEPTH: f"groups nest at most {MAX_DEPTH} deep"}
    assert validate({"any": [leaf] * (MAX_ITEMS + 1)}, lambda name: True) == {
        "condition.any": f"at most {MAX_ITEMS} comparisons"}
    assert validate({"all": [leaf], "any": [leaf]}, lambda name: True) == {
        "condition": 'a condition is {"all": [...]} or {"any": [...]}'}
