"""Fixtures for API tests: bearer headers for an admin and a rep, and a deal factory."""

from __future__ import annotations

from typing import Any

import pytest

from kanban.events import SYSTEM
from kanban.services.deals import create_deal
from tests.conftest import token_for


@pytest.fixture
def admin_h(runtime: Any, admin: Any) -> dict[str, str]:
    """Authorization header of the admin."""
    return {"Authorization": f"Bearer {token_for(runtime, admin.email)}"}


@pytest.fixture
def rep_h(runtime: Any, rep: Any) -> dict[str, str]:
    """Authorization header of the rep."""
    return {"Authorization": f"Bearer {token_for(runtime, rep.email)}"}


@pytest.fixture
def make_deal(runtime: Any, pipeline: Any, admin: Any) -> Any:
    """Create a deal through the service; returns its id. By the system actor unless `actor` is given: a person
    creating a deal becomes its responsible, and these tests choose the responsible themselves."""

    def make(title: str = "Acme renewal", stage: int = 0, **kwargs: Any) -> int:
        actor = kwargs.pop("actor", SYSTEM)
        with runtime.sessions() as s, s.begin():
            deal = create_deal(s, title=title, pipeline_id=pipeline.id, stage_id=pipeline.stages[stage].id,
                               actor=actor, **kwargs)
            return deal.id

    return make


def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    """Assert an API error response and return its error object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    return body["error"]
