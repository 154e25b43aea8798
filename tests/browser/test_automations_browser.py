"""Automations in real Chromium: build one in the editor (event, condition, an action), move a deal, see it run."""

from __future__ import annotations

from typing import Any

import pytest

from kanban.events import Actor
from kanban.services.deals import create_deal, move_deal
from kanban.services.pipelines import create_pipeline
from tests.browser.conftest import browser_login
from tests.conftest import make_user

pytestmark = pytest.mark.browser


def test_admin_builds_an_automation_and_sees_it_run(browser: Any, live_server: str, live_runtime: Any) -> None:
    make_user(live_runtime, "admin@example.com", "admin", "Ada Admin")
    rep = make_user(live_runtime, "rep@example.com", "rep", "Rex Rep")
    with live_runtime.sessions() as s, s.begin():
        pipeline = create_pipeline(s, "Sales", [{"name": "New"}, {"name": "Quote"}, {"name": "Won", "kind": "won"}])
        quote = pipeline.stages[1].id
        deal = create_deal(s, title="Acme renewal", pipeline_id=pipeline.id, actor=Actor.user(rep.id),
                           responsible_id=rep.id).id
    page = browser.new_page()
    browser_login(page, live_server, "admin@example.com")
    page.goto(f"{live_server}/automations")
    page.click("text=New automation")
    page.fill("#a-name", "Quote follow-up")
    page.select_option("#a-event", "deal.stage_changed")
    page.fill("input[name=cond_field] >> nth=0", "event.to")
    page.fill("input[name=cond_value] >> nth=0", str(quote))
    with page.expect_navigation():
        page.click("button:text('Save automation')")
    editor = page.url
    page.select_option("select[name=kind]", "add_comment")
    with page.expect_navigation():
        page.click(".add-action button")
    page.fill("#f-s-text", "Quote sent to {{ responsible.name }} ({{ event.type }})")
    with page.expect_navigation():
        page.click("button:text('Save robot')")
    assert page.url == editor, page.inner_text("main")
    page.goto(f"{live_server}/automations")
    row = page.inner_text("tr.automation-row")
    assert "Quote follow-up" in row and "event.to equals" in row and "Add a comment" in row
    with live_runtime.sessions() as s, s.begin():
        move_deal(s, deal, quote, actor=Actor.user(rep.id))
    page.goto(f"{live_server}/deals/{deal}")
    for _ in range(50):  # the embedded worker runs the action; reload until the timeline shows it
        if "Quote sent to Rex Rep (deal.stage_changed)" in page.inner_text("main"):
            break
        page.wait_for_timeout(200)
        page.reload()
    main = page.inner_text("main")
    assert "Quote sent to Rex Rep (deal.stage_changed)" in main
    assert "Automation “Quote follow-up”" in main
    page.goto(f"{editor}/executions")
    assert "done" in page.inner_text(".execution")
