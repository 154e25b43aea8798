"""The request-body checker: wrong types are 400, missing/unknown properties 422, refs and nulls resolved."""

from __future__ import annotations

import pytest

from kanban.errors import BadRequestError, ValidationError
from kanban.web.api import schema
from kanban.web.api.schema import BOOL, INT, STR, arr, check, component, nullable, obj

POINT = component("TestPoint", obj({"x": INT, "y": INT}, ["x", "y"]))
BODY = obj({"name": STR, "at": nullable(POINT), "flags": arr(BOOL), "free": {"type": "object"}}, ["name"])


@pytest.fixture(autouse=True, scope="module")
def _forget_test_component():
    # The registry is global: keep this test's component out of documents built by later tests.
    yield
    schema.COMPONENTS.pop("TestPoint", None)


def test_valid_bodies_pass():
    check(BODY, {"name": "a", "at": {"x": 1, "y": 2}, "flags": [True], "free": {"anything": [1]}})
    check(BODY, {"name": "a", "at": None})


@pytest.mark.parametrize(("data", "fields"), [
    ({"name": 1}, {"name": "must be string"}),
    ({"name": "a", "at": {"x": "1", "y": 2}}, {"at.x": "must be integer"}),
    ({"name": "a", "at": 5}, {"at": "must be object"}),
    ({"name": "a", "flags": [True, 1]}, {"flags.1": "must be boolean"}),
    ({"name": "a", "at": {"x": True, "y": 2}}, {"at.x": "must be integer"}),
    ([], {"body": "must be object"}),
])
def test_wrong_types_are_bad_requests(data, fields):
    with pytest.raises(BadRequestError) as caught:
        check(BODY, data)
    assert caught.value.fields == fields


@pytest.mark.parametrize(("data", "fields"), [
    ({}, {"name": "is required"}),
    ({"name": "a", "extra": 1}, {"extra": "unknown field"}),
    ({"name": "a", "at": {"x": 1}}, {"at.y": "is required"}),
])
def test_missing_and_unknown_properties_are_validation_errors(data, fields):
    with pytest.raises(ValidationError) as caught:
        check(BODY, data)
    assert caught.value.fields == fields


def test_components_are_registered_for_the_document():
    assert schema.COMPONENTS["TestPoint"]["required"] == ["x", "y"]
    assert nullable(POINT) == {"anyOf": [POINT, {"type": "null"}]}
