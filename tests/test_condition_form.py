"""The shared condition editor: a condition as rows (nested groups as JSON), posted rows back to a condition."""

from __future__ import annotations

from starlette.datastructures import FormData

from kanban.web.condition_form import editor, parse


def test_editor_gives_rows_with_canonical_operators() -> None:
    shown = editor({"any": [{"field": "deal.amount", "op": ">=", "value": 5}, {"field": "deal.tags", "op": "in",
                                                                                "value": ["a", "b"]}]})
    assert shown == {"mode": "any", "json": "", "rows": [{"field": "deal.amount", "op": "≥", "value": 5},
                                                          {"field": "deal.tags", "op": "in", "value": ["a", "b"]}]}
    assert editor(None) == {"mode": "all", "rows": [], "json": ""}


def test_editor_keeps_nested_groups_as_json() -> None:
    nested = {"all": [{"field": "deal.amount", "op": ">", "value": 1},
                      {"any": [{"field": "deal.tags", "op": "empty"}]}]}
    shown = editor(nested)
    assert shown["rows"] == [{"field": "deal.amount", "op": ">", "value": 1}]
    assert parse(FormData([("condition_json", shown["json"])]), {}) == nested


def test_parse_rows() -> None:
    form = FormData([
        ("cond_mode", "any"),
        ("cond_field", " deal.amount "), ("cond_op", ">"), ("cond_value", " 10 "),
        ("cond_field", "deal.tags"), ("cond_op", "in"), ("cond_value", "vip, eu"),
        ("cond_field", "contact.email"), ("cond_op", "empty"), ("cond_value", "ignored"),
        ("cond_field", ""), ("cond_op", "="), ("cond_value", "an empty row"),
    ])
    errors: dict[str, str] = {}
    assert parse(form, errors) == {"any": [{"field": "deal.amount", "op": ">", "value": "10"},
                                           {"field": "deal.tags", "op": "in", "value": ["vip", "eu"]},
                                           {"field": "contact.email", "op": "empty"}]}
    assert errors == {}
    assert parse(FormData([("cond_field", ""), ("cond_op", "="), ("cond_value", "")]), errors) is None


def test_parse_reports_bad_json() -> None:
    errors: dict[str, str] = {}
    assert parse(FormData([("condition_json", "{nope")]), errors) is None
    assert errors["condition"].startswith("not valid JSON")
    assert parse(FormData([("condition_json", "  ")]), errors) is None
