"""Board text search on PostgreSQL can be answered from the trigram and person_id indexes (no full scan)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from kanban.models import Deal
from kanban.queries import BoardFilters, _conditions, aggregates
from tests.web.conftest import add_deal


def _plan(session, stmt) -> str:
    sql = str(stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    return "\n".join(row[0] for row in session.execute(text("EXPLAIN " + sql)))


def test_text_search_plans_use_the_trigram_indexes(runtime, pipeline, rep):
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("trigram indexes exist on PostgreSQL only")
    add_deal(runtime, pipeline, rep, "Acme renewal", contact={"name": "Alice Moreau"})
    add_deal(runtime, pipeline, rep, "Globex pilot")
    stage = pipeline.stages[0]
    with runtime.sessions() as s, s.begin():
        # Tiny tables would be read sequentially anyway: forbid that to see whether the indexes are usable.
        s.execute(text("SET LOCAL enable_seqscan = off"))
        filters = BoardFilters(q="moreau")
        plan = _plan(s, select(Deal.id).where(*_conditions(s, filters)))
        assert "BitmapOr" in plan and "ix_deals_title_trgm" in plan and "ix_deals_person_id" in plan, plan
        assert "ix_persons_name_trgm" in plan, plan
        assert aggregates(s, [stage.id], filters) == {stage.id: (1, [("USD", 0)])}
        assert aggregates(s, [stage.id], BoardFilters(q="lobe")) == {stage.id: (1, [("USD", 0)])}
