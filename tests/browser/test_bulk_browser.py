"""The board's multi-select in real Chromium: checkboxes, shift-click ranges, one move for all, a clear result."""

from __future__ import annotations

import os
from typing import Any

import pytest

from kanban.events import Actor
from kanban.models import Deal
from kanban.services.deals import create_deal, update_deal
from kanban.services.pipelines import create_pipeline
from tests.browser.conftest import browser_login
from tests.conftest import make_user

pytestmark = pytest.mark.browser
TITLES = ("Acme renewal", "Globex pilot", "Initech licences", "Umbrella audit", "Hooli upsell")


@pytest.fixture
def board(live_runtime: Any) -> dict[str, Any]:
    rep = make_user(live_runtime, "rep@example.com", "rep", "Rex Rep", department="Sales")
    with live_runtime.sessions() as s, s.begin():
        pipeline = create_pipeline(s, "Sales", [{"name": "New"}, {"name": "Qualified"}, {"name": "Proposal"}])
        stages = [st.id for st in pipeline.stages]
        deals = [create_deal(s, title=title, pipeline_id=pipeline.id, actor=Actor.user(rep.id), amount=100_00,
                             responsible_id=rep.id).id for title in TITLES]
    return {"stages": stages, "deals": deals}


def _stages(runtime: Any, ids: list[int]) -> list[int]:
    with runtime.sessions() as s:
        return [s.get(Deal, deal_id).stage_id for deal_id in ids]


@pytest.mark.parametrize("width", [1440, 390])
def test_select_a_range_and_move_it(browser, live_server, live_runtime, board, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    browser_login(page, live_server, "rep@example.com")
    assert not page.locator("#bulk-move").is_visible()  # nothing selected yet
    # Column order is newest first: the cards on the page, top to bottom.
    order = [int(x) for x in page.eval_on_selector_all(f"#col-{board['stages'][0]} .card",
                                                        "cards => cards.map(c => c.dataset.dealId)")]
    first, fourth = order[0], order[3]
    page.click(f"#deal-{first} .card-select")
    page.click(f"#deal-{fourth} .card-select", modifiers=["Shift"])  # the range: four cards
    assert page.inner_text("#bulk-count") == "4 deals selected"
    assert page.locator(".card.card-selected").count() == 4
    # Someone else changes one of the selected deals before the move is sent.
    changed = order[1]
    with live_runtime.sessions() as s, s.begin():
        update_deal(s, changed, {"title": "Changed elsewhere"}, actor=Actor("system"))
    page.select_option("#bulk-stage", str(board["stages"][2]))
    if os.environ.get("BULK_SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['BULK_SCREENSHOTS']}/bulk-{width}.png", full_page=True)
    page.click("#bulk-move button[type=submit]")
    page.wait_for_selector("#board-message.message-conflict")
    assert page.inner_text("#board-message") == "3 moved to “Proposal”, 1 changed by someone else."
    if os.environ.get("BULK_SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['BULK_SCREENSHOTS']}/bulk-done-{width}.png", full_page=True)
    moved = [first, order[2], fourth]
    assert _stages(live_runtime, moved) == [board["stages"][2]] * 3
    assert _stages(live_runtime, [changed, order[4]]) == [board["stages"][0]] * 2
    assert page.locator(f"#col-{board['stages'][2]} .card").count() == 3
    assert page.locator(f"#col-{board['stages'][0]} .card").count() == 2
    assert page.locator(".card.card-selected").count() == 0 and not page.locator("#bulk-move").is_visible()
    page.close()
