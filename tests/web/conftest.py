"""Fixtures for the HTML views: a logged-in browser-like client and a few deals on the board."""

from __future__ import annotations

from typing import Any

import pytest

from kanban.events import SYSTEM, Actor
from kanban.services.deals import create_deal
from tests.conftest import login


@pytest.fixture
def rep_web(client: Any, rep: Any) -> Any:
    """The test client logged in as the rep."""
    login(client, rep.email)
    return client


@pytest.fixture
def admin_web(client: Any, admin: Any) -> Any:
    """The test client logged in as the admin."""
    login(client, admin.email)
    return client


def add_deal(runtime: Any, pipeline: Any, user: Any, title: str, stage: int = 0, **kw: Any) -> Any:
    """Create a deal in the pipeline's stage number `stage` (0-based)."""
    with runtime.sessions() as s, s.begin():
        return create_deal(s, title=title, pipeline_id=pipeline.id, stage_id=pipeline.stages[stage].id,
                           actor=Actor.user(user.id) if user is not None else SYSTEM, **kw)


@pytest.fixture
def deals(runtime: Any, pipeline: Any, rep: Any, admin: Any) -> list[Any]:
    """Four deals: three in New (two USD, one EUR), one in Qualified."""
    return [
        add_deal(runtime, pipeline, rep, "Acme renewal", amount=120000, currency="USD", responsible_id=rep.id,
                 tags=["vip", "renewal"], contact={"name": "Alice Moreau", "email": "alice@acme.test"}),
        add_deal(runtime, pipeline, rep, "Globex pilot", amount=5050, currency="USD", responsible_id=admin.id,
                 tags=["pilot"]),
        add_deal(runtime, pipeline, rep, "Initech licences", amount=99900, currency="EUR", responsible_id=rep.id),
        # Created by a robot-like system actor: a deal with no responsible (people get themselves by default).
        add_deal(runtime, pipeline, None, "Umbrella audit", stage=1, amount=700000, currency="USD",
                 contact={"name": "Bob Stone"}),
    ]
