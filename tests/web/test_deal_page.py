"""Deal page: fields, timeline newest first, plug-in panels, edit form validation and version conflicts."""

from __future__ import annotations

from kanban.events import Actor
from kanban.models import Deal, Person
from kanban.services.deals import move_deal, update_deal
from tests.conftest import csrf_of


def _form(deal, **overrides):
    data = {"title": deal.title, "amount": "1200.00", "currency": "USD", "responsible_id": "",
            "contact_name": "Alice Moreau", "contact_email": "alice@acme.test", "contact_phone": "",
            "contact_company": "", "tags": "vip, renewal", "version": str(deal.version),
            "field_key": [], "field_value": []}
    data.update(overrides)
    return data


def _load(runtime, deal_id):
    with runtime.sessions() as s:
        deal = s.get(Deal, deal_id)
        contact = s.get(Person, deal.person_id) if deal.person_id else None
        return deal, contact


def test_deal_page_shows_fields_and_timeline_newest_first(rep_web, runtime, deals, pipeline, admin):
    deal = deals[0]
    with runtime.sessions() as s, s.begin():
        move_deal(s, deal.id, pipeline.stages[1].id, actor=Actor.user(admin.id))
    response = rep_web.get(f"/deals/{deal.id}")
    assert response.status_code == 200
    ctx = response.context
    assert ctx["values"]["amount"] == "1200.00" and ctx["values"]["tags"] == "vip, renewal"
    assert [i.entry.kind for i in ctx["timeline"]] == ["stage_changed", "created"]
    assert [i.actor_name for i in ctx["timeline"]] == ["Ada Admin", "Rex Rep"]
    html = response.text
    assert "Moved from “New” to “Qualified”" in html and "Alice Moreau" in html and "1,200.00 USD" in html
    assert rep_web.get("/deals/999999").status_code == 404


def test_deal_panels_are_rendered(rep_web, runtime, deals):
    runtime.deal_panels.append(lambda request, session, deal: f"<h2>Panel for {deal.id}</h2>")
    response = rep_web.get(f"/deals/{deals[0].id}")
    assert f"<h2>Panel for {deals[0].id}</h2>" in response.text
    live = rep_web.get(f"/deals/{deals[0].id}/live")
    assert live.status_code == 200 and f"<h2>Panel for {deals[0].id}</h2>" in live.text
    assert 'id="deal-live"' in live.text and "<html" not in live.text


def test_edit_saves_fields_contact_tags_and_custom_fields(rep_web, runtime, deals, rep):
    deal = deals[0]
    token = csrf_of(rep_web)
    data = _form(deal, csrf_token=token, title="Acme renewal 2027", amount="1,999.99", currency="eur",
                 responsible_id=str(rep.id), contact_phone="+33 1 23", tags="vip, , big",
                 field_key=["source", "seats", ""], field_value=["web", "40", ""])
    response = rep_web.post(f"/deals/{deal.id}", data=data, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/deals/{deal.id}"
    saved, contact = _load(runtime, deal.id)
    assert (saved.title, saved.amount, saved.currency, saved.responsible_id) == (
        "Acme renewal 2027", 199999, "EUR", rep.id)
    assert saved.tags == ["vip", "big"] and saved.fields == {"source": "web", "seats": "40"}
    assert (contact.name, contact.phone) == ("Alice Moreau", "+33 1 23")
    page = rep_web.get(f"/deals/{deal.id}")
    assert page.context["message"] == "Saved."
    assert page.context["timeline"][0].entry.kind == "updated"

    # Clearing a value removes that custom field; the other is kept.
    data = _form(saved, csrf_token=token, title=saved.title, amount="1999.99", currency="EUR",
                 field_key=["source", "seats"], field_value=["", "40"])
    assert rep_web.post(f"/deals/{deal.id}", data=data, follow_redirects=False).status_code == 303
    assert _load(runtime, deal.id)[0].fields == {"seats": "40"}


def test_edit_validation_errors_keep_input(rep_web, runtime, deals):
    deal = deals[0]
    data = _form(deal, csrf_token=csrf_of(rep_web), title="", amount="12,5x", contact_email="not-an-email",
                 field_key=["", "a", "a"], field_value=["orphan", "1", "2"])
    response = rep_web.post(f"/deals/{deal.id}", data=data)
    assert response.status_code == 422
    errors = response.context["errors"]
    assert errors["title"] == "title is required"
    assert errors["amount"] == "enter an amount like 1234.50"
    assert "fields" in errors
    assert response.context["values"]["amount"] == "12,5x"  # what the user typed is kept
    assert 'aria-invalid="true"' in response.text and "title is required" in response.text
    assert _load(runtime, deal.id)[0].title == "Acme renewal"

    data = _form(deal, csrf_token=csrf_of(rep_web), contact_email="nope", currency="EURO")
    response = rep_web.post(f"/deals/{deal.id}", data=data)
    assert response.status_code == 422
    assert response.context["errors"]["contact.email"] == "not a valid email address"
    assert response.context["errors"]["currency"] == "currency is a 3-letter ISO code"


def test_edit_with_stale_version_shows_current_values(rep_web, runtime, deals, admin):
    deal = deals[0]
    with runtime.sessions() as s, s.begin():
        update_deal(s, deal.id, {"title": "Changed by Ada", "amount": 5000}, actor=Actor.user(admin.id))
    data = _form(deal, csrf_token=csrf_of(rep_web), title="My title")
    response = rep_web.post(f"/deals/{deal.id}", data=data)
    assert response.status_code == 409
    assert "Someone else changed this deal" in response.context["message"]
    values = response.context["values"]
    assert values["title"] == "Changed by Ada" and values["amount"] == "50.00"
    assert values["version"] == str(deal.version + 1)
    assert response.context["attempted"]["title"] == "My title" and "Show what you entered" in response.text
    assert _load(runtime, deal.id)[0].title == "Changed by Ada"


def test_move_from_the_deal_page(rep_web, runtime, deals, pipeline, admin):
    deal = deals[0]
    response = rep_web.post(f"/deals/{deal.id}/move", data={
        "csrf_token": csrf_of(rep_web), "stage_id": pipeline.stages[4].id, "version": deal.version,
        "from_stage_id": deal.stage_id, "return_to": f"/deals/{deal.id}"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/deals/{deal.id}"
    # A stale move from the deal page goes back to the page with the conflict message.
    response = rep_web.post(f"/deals/{deal.id}/move", data={
        "csrf_token": csrf_of(rep_web), "stage_id": pipeline.stages[1].id, "version": deal.version,
        "from_stage_id": deal.stage_id, "return_to": f"/deals/{deal.id}"}, follow_redirects=False)
    assert response.status_code == 303
    page = rep_web.get(f"/deals/{deal.id}")
    assert "was moved by someone else to “Won”" in page.context["message"]
    assert page.context["stage"].name == "Won"
