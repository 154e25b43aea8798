"""Board page: columns with SQL counts and sums, filters in the URL, load more, "+ deal" per column."""

from __future__ import annotations

import pytest

from tests.conftest import csrf_of
from tests.web.conftest import add_deal


def _columns(response):
    return {c.stage.name: c for c in response.context["columns"]}


def test_board_shows_counts_sums_and_cards(rep_web, deals, pipeline):
    response = rep_web.get(f"/board?pipeline_id={pipeline.id}")
    assert response.status_code == 200
    cols = _columns(response)
    assert list(cols) == ["New", "Qualified", "Proposal", "Invoice", "Won", "Lost"]
    assert cols["New"].count == 3
    assert cols["New"].sums == [("EUR", 99900), ("USD", 125050)]
    assert cols["Qualified"].count == 1 and cols["Proposal"].count == 0
    assert response.context["tags"] == ["pilot", "renewal", "vip"]
    html = response.text
    assert "$1,250.50" in html and "€999.00" in html and "2,249.50" not in html  # never mixed
    assert "$1,200.00" in html and "€999.00" in html and "$7,000.00" in html
    assert "Alice Moreau" in html and "Rex Rep" in html and "vip" in html
    assert "0 d<" in html and "Days in this stage" in html
    assert 'id="move-' in html and 'action="/deals/' in html  # the no-JS "Move to…" form on every card


def test_board_defaults_to_first_pipeline_and_rejects_unknown(rep_web, deals, pipeline):
    assert rep_web.get("/board").context["pipeline"].id == pipeline.id
    assert rep_web.get("/board?pipeline_id=999999").status_code == 404
    assert rep_web.get("/board?responsible_id=abc").status_code == 400


def test_filters_apply_to_cards_and_aggregates(rep_web, deals, pipeline, rep):
    cols = _columns(rep_web.get(f"/board?pipeline_id={pipeline.id}&responsible_id={rep.id}"))
    assert [c.title for c in cols["New"].cards] == ["Initech licences", "Acme renewal"]
    assert cols["New"].count == 2 and cols["Qualified"].count == 0

    response = rep_web.get(f"/board?pipeline_id={pipeline.id}&tag=pilot")
    assert [c.title for c in _columns(response)["New"].cards] == ["Globex pilot"]
    assert _columns(response)["New"].sums == [("USD", 5050)]
    assert 'name="tag" value="pilot"' in response.text  # filters ride along in every form

    cols = _columns(rep_web.get(f"/board?pipeline_id={pipeline.id}&q=bob"))  # contact name search
    assert cols["Qualified"].count == 1 and cols["New"].count == 0
    cols = _columns(rep_web.get(f"/board?pipeline_id={pipeline.id}&q=ACME"))
    assert [c.title for c in cols["New"].cards] == ["Acme renewal"]
    cols = _columns(rep_web.get(f"/board?pipeline_id={pipeline.id}&q=100%25"))  # LIKE wildcards are literal
    assert sum(c.count for c in cols.values()) == 0


def test_login_required(client, pipeline):
    response = client.get("/board", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=/board")


class TestLoadMore:
    @pytest.fixture
    def settings_overrides(self):
        return {"KANBAN_BOARD_PAGE_SIZE": "2"}

    def test_keyset_pages_through_a_column(self, rep_web, runtime, pipeline, rep):
        for i in range(5):
            add_deal(runtime, pipeline, rep, f"Deal {i}")
        col = _columns(rep_web.get(f"/board?pipeline_id={pipeline.id}"))["New"]
        assert col.count == 5 and col.more and len(col.cards) == 2
        seen = [c.title for c in col.cards]
        cursor = col.cursor
        while cursor:
            response = rep_web.get(f"/board/columns/{col.stage.id}/more", params={"cursor": cursor})
            assert response.status_code == 200
            page = response.context["cards"]
            seen += [c.title for c in page]
            cursor = response.context["col"].cursor
            assert ("Load more" in response.text) == bool(cursor)
        # Newest deals are created on top of their column.
        assert seen == ["Deal 4", "Deal 3", "Deal 2", "Deal 1", "Deal 0"]

    def test_bad_cursor(self, rep_web, pipeline):
        response = rep_web.get(f"/board/columns/{pipeline.stages[0].id}/more", params={"cursor": "x"})
        assert response.status_code == 422


def test_column_fragment(rep_web, deals, pipeline):
    response = rep_web.get(f"/board/columns/{pipeline.stages[0].id}?tag=vip")
    assert response.status_code == 200
    assert response.text.lstrip().startswith("<section") or "<section" in response.text
    assert response.context["col"].count == 1
    assert "<html" not in response.text


def test_add_deal_in_a_column(rep_web, pipeline, rep):
    token = csrf_of(rep_web)
    stage = pipeline.stages[2]
    response = rep_web.post("/board/deals", data={
        "csrf_token": token, "stage_id": stage.id, "title": "Hooli expansion", "amount": "1,234.5",
        "currency": "eur", "contact_name": "Gavin B", "responsible_id": str(rep.id),
        "return_to": f"/board?pipeline_id={pipeline.id}&tag=x",
    }, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/board?pipeline_id={pipeline.id}&tag=x"
    col = _columns(rep_web.get(f"/board?pipeline_id={pipeline.id}"))["Proposal"]
    assert col.count == 1 and col.sums == [("EUR", 123450)]
    card = col.cards[0]
    assert (card.title, card.person_name, card.responsible_name) == ("Hooli expansion", "Gavin B", "Rex Rep")


def test_add_deal_validation_messages(rep_web, pipeline):
    token = csrf_of(rep_web)
    stage = pipeline.stages[0]
    response = rep_web.post("/board/deals", data={
        "csrf_token": token, "stage_id": stage.id, "title": "  ", "amount": "12.345", "currency": "US",
    })
    assert response.status_code == 422
    errors = response.context["create_errors"]
    assert errors["title"] == "title is required"
    assert errors["amount"] == "at most 2 decimals for US"
    assert response.context["create_stage_id"] == stage.id
    assert "title is required" in response.text and "<details class=\"new-deal\" open>" in response.text
    assert _columns(rep_web.get("/board"))["New"].count == 0  # nothing was created
