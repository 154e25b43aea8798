"""Robot conditions: operators, coercion of numbers and dates, details of a false condition, validation."""

from __future__ import annotations

import pytest

from robots.conditions import evaluate, explain, validate

VALUES = {
    "deal": {"amount": "1250.00", "amount_minor": 125000, "tags": ["VIP", "eu"], "title": "Big deal",
             "fields": {"source": "Web", "due": "2026-03-01", "count": 3, "flag": True, "blank": " "}},
    "contact": {"email": ""},
    "robots": {"pay": {"url": "https://pay.example/x"}},
}


@pytest.mark.parametrize(("field", "op", "value", "expected"), [
    ("deal.amount", ">", 1000, True),
    ("deal.amount", ">", "1250", False),
    ("deal.amount", "=", "1250", True),
    ("deal.amount", "<", 99.5, False),
    ("deal.amount_minor", ">=", 125000, True),
    ("deal.amount", "!=", 5, True),
    ("deal.amount", "≠", "1250.00", False),
    ("deal.fields.source", "=", "web", True),
    ("deal.fields.source", "contains", "EB", True),
    ("deal.fields.source", "in", ["ads", "web"], True),
    ("deal.fields.source", "in", "ads, partner", False),
    ("deal.tags", "contains", "vip", True),
    ("deal.tags", "=", "eu", True),
    ("deal.tags", "in", ["x", "EU"], True),
    ("deal.fields.due", ">", "2026-02-28", True),
    ("deal.fields.due", "<", "2026-02-28T10:00:00Z", False),
    ("deal.fields.count", "<", 10, True),
    ("deal.fields.flag", "=", "true", True),
    ("deal.fields.blank", "empty", None, True),
    ("contact.email", "empty", None, True),
    ("deal.fields.missing", "empty", None, True),
    ("deal.fields.missing", "not_empty", None, False),
    ("deal.fields.missing", ">", 1, False),
    ("deal.title", ">", 1, False),
    ("robots.pay.url", "contains", "pay.example", True),
])
def test_comparisons(field: str, op: str, value: object, expected: bool) -> None:
    holds, details = evaluate({"all": [{"field": field, "op": op, "value": value}]}, VALUES)
    assert holds is expected
    assert details == ({} if expected else {field: _lookup(field)})


def _lookup(field: str) -> object:
    current: object = VALUES
    for part in field.split("."):
        current = current.get(part) if isinstance(current, dict) else None
    return current


def test_any_all_and_nested_groups() -> None:
    cond = {"any": [
        {"field": "deal.amount", "op": "<", "value": 10},
        {"all": [{"field": "deal.tags", "op": "contains", "value": "vip"},
                 {"field": "deal.fields.source", "op": "=", "value": "web"}]},
    ]}
    assert evaluate(cond, VALUES) == (True, {})
    assert evaluate(None, VALUES) == (True, {})
    assert evaluate({}, VALUES) == (True, {})


def test_false_condition_reports_the_values_that_made_it_false() -> None:
    cond = {"all": [{"field": "deal.amount", "op": ">", "value": 5000},
                    {"field": "deal.fields.source", "op": "=", "value": "web"},
                    {"field": "contact.email", "op": "not_empty"}]}
    holds, details = evaluate(cond, VALUES)
    assert not holds
    assert details == {"deal.amount": "1250.00", "contact.email": ""}
    reason = explain(cond, details)
    assert "deal.amount is '1250.00' (needs > 5000)" in reason
    assert "contact.email is '' (needs not_empty)" in reason
    assert "source" not in reason


def test_validate_accepts_good_conditions() -> None:
    assert validate(None) == {}
    assert validate({"all": [{"field": "deal.fields.x", "op": "empty"},
                             {"field": "robots.chat.chat_id", "op": "not_empty"},
                             {"any": [{"field": "deal.amount", "op": ">", "value": "10"}]}]}) == {}


def test_validate_reports_field_level_errors() -> None:
    errors = validate({"all": [
        {"field": "deal.bogus", "op": "=", "value": 1},
        {"field": "deal.amount", "op": "~", "value": 1},
        {"field": "deal.amount", "op": ">", "value": "lots"},
        {"field": "deal.fields.source", "op": "in", "value": 5},
        {"field": "deal.title", "op": "="},
        "nonsense",
    ]})
    assert set(errors) == {"condition.all.0.field", "condition.all.1.op", "condition.all.2.value",
                           "condition.all.3.value", "condition.all.4.value", "condition.all.5"}
    assert validate({"both": []}) == {"condition": 'a condition is {"all": [...]} or {"any": [...]}'}
    assert validate({"all": []}) == {"condition.all": "give at least one comparison"}
