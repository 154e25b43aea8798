"""Quick-add ("+ deal") errors keep the board's own filters; over-long titles are refused, never cut."""

from __future__ import annotations

import re

from tests.conftest import csrf_of


def _columns(response):
    return {c.stage.name: c for c in response.context["columns"]}


def test_failed_quick_add_keeps_the_boards_filters_not_the_forms_responsible(rep_web, deals, pipeline, admin):
    token = csrf_of(rep_web)
    response = rep_web.post("/board/deals", data={
        "csrf_token": token, "stage_id": pipeline.stages[0].id, "title": "", "responsible_id": str(admin.id),
        "return_to": f"/board?pipeline_id={pipeline.id}&tag=renewal",
    })
    assert response.status_code == 422
    filters = response.context["filters"]
    assert (filters.responsible_id, filters.tag) == (None, "renewal")  # the board's filter, not the form's
    assert [c.title for c in _columns(response)["New"].cards] == ["Acme renewal"]
    assert response.context["create_errors"]["title"] == "title is required"
    assert "title is required" in response.text


def test_failed_quick_add_on_an_unfiltered_board_shows_every_card(rep_web, deals, pipeline, admin):
    token = csrf_of(rep_web)
    response = rep_web.post("/board/deals", data={
        "csrf_token": token, "stage_id": pipeline.stages[0].id, "title": "", "responsible_id": str(admin.id),
        "return_to": f"/board?pipeline_id={pipeline.id}",
    })
    assert response.status_code == 422 and not response.context["filters"].active
    assert _columns(response)["New"].count == 3


def test_quick_add_refuses_a_title_over_300_characters_with_a_message(rep_web, pipeline):
    token = csrf_of(rep_web)
    board = rep_web.get(f"/board?pipeline_id={pipeline.id}").text
    # The browser must not cut a pasted title silently (other inputs, e.g. a lost reason, may have a maxlength).
    assert not re.search(r'<input[^>]*name="title"[^>]*maxlength', board)
    response = rep_web.post("/board/deals", data={
        "csrf_token": token, "stage_id": pipeline.stages[0].id, "title": "x" * 5000,
        "return_to": f"/board?pipeline_id={pipeline.id}",
    })
    assert response.status_code == 422
    message = "title is at most 300 characters (this one has 5000)"
    assert response.context["create_errors"]["title"] == message and message in response.text
    assert _columns(rep_web.get(f"/board?pipeline_id={pipeline.id}"))["New"].count == 0


def test_deal_form_refuses_a_long_title_with_a_message(rep_web, deals):
    deal = deals[0]
    page = rep_web.get(f"/deals/{deal.id}").text
    assert not re.search(r'<input[^>]*name="title"[^>]*maxlength', page)
    token = csrf_of(rep_web, f"/deals/{deal.id}")
    response = rep_web.post(f"/deals/{deal.id}", data={
        "csrf_token": token, "version": str(deal.version), "title": "y" * 301, "currency": "USD"})
    assert response.status_code == 422
    assert "title is at most 300 characters (this one has 301)" in response.text


def test_api_refuses_a_long_title(rep_api, pipeline):
    response = rep_api.post("/api/v1/deals", json={"title": "z" * 5000, "pipeline_id": pipeline.id})
    assert response.status_code == 422
    assert response.json()["error"]["fields"]["title"] == "title is at most 300 characters (this one has 5000)"
