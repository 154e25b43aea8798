"""The rep's board: card menu, next-activity states, rotting and status badges, weighted sums, filters, order,
and a constant number of SQL statements per board render."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, update

from kanban import clock
from kanban.crm_models import Activity
from kanban.models import Deal, Stage
from tests.conftest import csrf_of
from tests.web.conftest import add_deal


def _activity(runtime: Any, deal_id: int, days: int, subject: str = "Call back", **kw: Any) -> None:
    with runtime.sessions() as s, s.begin():
        s.add(Activity(type=kw.pop("type", "call"), subject=subject, deal_id=deal_id,
                       due_date=clock.now().date() + timedelta(days=days), **kw))


def _cards(response: Any) -> dict[str, Any]:
    return {c.title: c for col in response.context["columns"] for c in col.cards}


def _card_html(html: str, deal_id: int) -> str:
    return html.split(f'id="deal-{deal_id}"', 1)[1].split("\n</li>", 1)[0]


def test_card_menu_replaces_the_move_select(rep_web, deals, pipeline):
    html = rep_web.get(f"/board?pipeline_id={pipeline.id}").text
    card = _card_html(html, deals[0].id)
    assert '<details class="card-menu">' in card and f'id="move-{deals[0].id}"' in card
    assert 'class="drag-handle"' in card and "<select" not in card
    # One submit button per stage (a plain POST without JS); the current stage is disabled.
    assert card.count('name="stage_id"') == len(pipeline.stages)
    assert f'value="{pipeline.stages[0].id}" class="menu-item kind-open" disabled' in card


def test_card_menu_moves_without_javascript(rep_web, runtime, deals, pipeline):
    deal = deals[0]
    response = rep_web.post(f"/deals/{deal.id}/move", data={
        "csrf_token": csrf_of(rep_web), "stage_id": pipeline.stages[2].id, "version": deal.version,
        "from_stage_id": deal.stage_id, "return_to": f"/board?pipeline_id={pipeline.id}&mine=1"},
        follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].endswith("&mine=1")
    with runtime.sessions() as s:
        assert s.get(Deal, deal.id).stage_id == pipeline.stages[2].id


def test_next_activity_states_on_cards(rep_web, runtime, deals, pipeline):
    _activity(runtime, deals[0].id, -2, "Overdue call")
    _activity(runtime, deals[1].id, 0, "Demo today", type="meeting")
    _activity(runtime, deals[2].id, 5, "Send quote", type="email")
    html = rep_web.get(f"/board?pipeline_id={pipeline.id}").text
    assert 'class="next-activity na-overdue"' in _card_html(html, deals[0].id)
    assert "Overdue call" in _card_html(html, deals[0].id)
    today = _card_html(html, deals[1].id)
    assert 'na-today' in today and "today · Demo today" in today
    assert 'na-upcoming' in _card_html(html, deals[2].id)
    none = _card_html(html, deals[3].id)
    assert 'na-none' in none and "no activity" in none


def test_rotting_badge_status_badge_and_weighted_sums(rep_web, runtime, deals, pipeline):
    with runtime.sessions() as s, s.begin():
        s.execute(update(Stage).where(Stage.id == pipeline.stages[0].id).values(rotting_days=3, probability=25))
        s.execute(update(Deal).where(Deal.id == deals[0].id)
                  .values(last_activity_at=clock.now() - timedelta(days=9)))
        s.execute(update(Deal).where(Deal.id == deals[1].id).values(status="won"))
    response = rep_web.get(f"/board?pipeline_id={pipeline.id}")
    html = response.text
    rotting = _card_html(html, deals[0].id)
    assert "rotting 9 days" in rotting and "card-rotting" in html.split(f'id="deal-{deals[0].id}"')[0][-200:]
    assert "rotting" not in _card_html(html, deals[2].id)
    assert 'class="status-badge status-won">Won<' in _card_html(html, deals[1].id)
    new = response.context["columns"][0]
    assert new.weighted_sums == [("EUR", 24975), ("USD", 31262)]
    assert "≈ $312.62" in html and ">25%<" in html
    assert html.count('class="weighted"') == 1  # stages at 100% show no weighted line


def test_filters_in_the_toolbar_and_forms(rep_web, runtime, deals, pipeline, rep):
    _activity(runtime, deals[0].id, -1)
    _activity(runtime, deals[1].id, 0)
    base = f"/board?pipeline_id={pipeline.id}"
    assert set(_cards(rep_web.get(base + "&activity=overdue"))) == {"Acme renewal"}
    assert set(_cards(rep_web.get(base + "&activity=due_today"))) == {"Globex pilot"}
    assert set(_cards(rep_web.get(base + "&activity=no_next_activity"))) == {"Initech licences", "Umbrella audit"}
    mine = rep_web.get(base + "&mine=1")
    assert set(_cards(mine)) == {"Acme renewal", "Initech licences"}
    assert '<input type="hidden" name="mine" value="1">' in mine.text  # rides along in every card form
    assert 'name="mine" value="1" class="autosubmit" checked' in mine.text
    assert set(_cards(rep_web.get(base + "&status=won"))) == set()


def test_columns_sort_by_next_activity(rep_web, runtime, deals, pipeline):
    _activity(runtime, deals[2].id, -3)  # Initech: overdue
    _activity(runtime, deals[0].id, 4)  # Acme: upcoming
    base = f"/board?pipeline_id={pipeline.id}"
    default = [c.title for c in rep_web.get(base).context["columns"][0].cards]
    assert default == ["Initech licences", "Globex pilot", "Acme renewal"]
    response = rep_web.get(base + "&sort=next_activity")
    assert [c.title for c in response.context["columns"][0].cards] == [
        "Initech licences", "Acme renewal", "Globex pilot"]
    assert '<input type="hidden" name="sort" value="next_activity">' in response.text
    column = rep_web.get(f"/board/columns/{pipeline.stages[0].id}?sort=next_activity")
    assert [c.title for c in column.context["col"].cards][1] == "Acme renewal"


@pytest.fixture
def statements(runtime: Any) -> Any:
    """A list collecting the SQL statements that requests run (not the embedded worker's background polls)."""
    seen: list[str] = []

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.current_thread().name.startswith("AnyIO worker thread"):  # where in_tx runs a request
            seen.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", on_execute)
    yield seen
    event.remove(runtime.engine, "before_cursor_execute", on_execute)


def _board_statements(client: Any, statements: list[str], url: str) -> int:
    client.get(url)  # warm: first-request caches
    statements.clear()
    assert client.get(url).status_code == 200
    return len(statements)


def test_board_render_runs_a_constant_number_of_statements(rep_web, runtime, pipeline, rep, statements):
    url = f"/board?pipeline_id={pipeline.id}"
    with runtime.sessions() as s, s.begin():
        s.execute(update(Stage).values(rotting_days=2, probability=40))

    def grow(n: int) -> None:
        for i in range(n):
            deal = add_deal(runtime, pipeline, rep, f"Deal {i}", stage=i % 3, amount=100, responsible_id=rep.id,
                            contact={"name": f"Person {i}", "company": f"Org {i}"})
            _activity(runtime, deal.id, i % 3 - 1)

    grow(3)
    small = _board_statements(rep_web, statements, url)
    grow(15)
    large = _board_statements(rep_web, statements, url)
    html = rep_web.get(url).text
    assert html.count('class="next-activity') == 18 and "Org 7" in html
    assert small == large, (small, large)
    assert any("FROM activities" in sql for sql in statements)  # the listener saw the request's queries
