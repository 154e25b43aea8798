"""Issue 12 item 5 (robots): date-field delays follow their field, and the other correctness gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from kanban.events import Actor
from kanban.services.deals import update_deal


def _update(runtime: Any, deal: int, values: dict[str, Any]) -> None:
    with runtime.sessions() as s, s.begin():
        update_deal(s, deal, values, actor=Actor("system"))


def test_date_field_delay_follows_its_field(runtime, clock, stages, add_robot, new_deal, move, runs, run_all):
    clock.at = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    add_robot(stages["Qualified"], "remind", delay={"type": "before_field", "field": "deal.fields.meeting",
                                                     "seconds": 3600})
    add_robot(stages["Qualified"], "later", delay={"type": "after", "seconds": 600})
    deal = new_deal(fields={"meeting": "2026-05-06T09:00:00Z"})
    move(deal, stages["Qualified"])
    remind, later = runs(deal)
    assert remind.due_at == datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
    _update(runtime, deal, {"fields": {"meeting": "2026-05-08T15:00:00Z"}})
    remind, same = runs(deal)
    assert remind.due_at == datetime(2026, 5, 8, 14, 0, tzinfo=UTC)
    assert same.due_at == later.due_at  # other delays and other fields are left alone
    _update(runtime, deal, {"title": "Renamed"})
    assert runs(deal)[0].due_at == datetime(2026, 5, 8, 14, 0, tzinfo=UTC)
    # Moved into the past: due at once, and it runs.
    _update(runtime, deal, {"fields": {"meeting": "2026-05-04T10:30:00Z"}})
    assert runs(deal)[0].due_at == clock.at
    run_all()
    assert runs(deal)[0].status == "done"
    # A finished run does not move again.
    _update(runtime, deal, {"fields": {"meeting": "2026-06-01T10:00:00Z"}})
    assert runs(deal)[0].due_at == clock.at and runs(deal)[0].status == "done"
    assert runs(deal)[1].due_at == clock.at + timedelta(seconds=600)
