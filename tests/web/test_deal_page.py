"""Deal page: fields, timeline newest first, plug-in panels, edit form validation and version conflicts."""

from __future__ import annotations

from kanban.events import Actor
from kanban.models import Deal, Person
from kanban.services.deals import move_deal, update_deal
from tests.conftest import csrf_of


def _form(deal, **overrides):
    data = {"title": deal.title, "amount": "1200.00", "currency": "USD",
            "responsible_id": str(deal.responsible_id or ""),
            "person_id": str(deal.person_id or ""), "tags": "vip, renewal", "version": str(deal.version),
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
    assert "Moved from “New” to “Qualified”" in html and "Alice Moreau" in html and "$1,200.00" in html
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
                 responsible_id=str(rep.id), tags="vip, , big",
                 field_key=["source", "seats", ""], field_value=["web", "40", ""])
    response = rep_web.post(f"/deals/{deal.id}", data=data, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/deals/{deal.id}"
    saved, contact = _load(runtime, deal.id)
    assert (saved.title, saved.amount, saved.currency, saved.responsible_id) == (
        "Acme renewal 2027", 199999, "EUR", rep.id)
    assert saved.tags == ["vip", "big"] and saved.fields == {"source": "web", "seats": "40"}
    assert contact.name == "Alice Moreau"
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
    data = _form(deal, csrf_token=csrf_of(rep_web), title="", amount="12,5x",
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

    data = _form(deal, csrf_token=csrf_of(rep_web), person_id="new", new_name="Zed", new_email="nope")
    response = rep_web.post(f"/deals/{deal.id}", data=data)
    assert response.status_code == 422
    assert response.context["errors"]["new_email"] == "not a valid email address"
    assert "person" in response.context["editing"] and response.context["values"]["new_name"] == "Zed"
    response = rep_web.post(f"/deals/{deal.id}", data=_form(deal, csrf_token=csrf_of(rep_web), currency="EURO"))
    assert response.context["errors"]["currency"] == "not an ISO 4217 code"
    assert response.context["editing"] == {"amount"}


def test_edit_with_stale_version_keeps_typed_values_and_shows_what_changed(rep_web, runtime, deals, admin):
    deal = deals[0]
    page = rep_web.get(f"/deals/{deal.id}")
    seen = page.context["seen"]
    with runtime.sessions() as s, s.begin():
        update_deal(s, deal.id, {"title": "Changed by Ada", "amount": 5000}, actor=Actor.user(admin.id))
    data = _form(deal, csrf_token=csrf_of(rep_web), tags="vip, renewal, hot", seen=seen)
    response = rep_web.post(f"/deals/{deal.id}", data=data)
    assert response.status_code == 409
    assert "Someone else changed this deal" in response.context["message"]
    values = response.context["values"]
    # Ada's title and amount are taken, the rep's tag edit is kept; saving again is a deliberate overwrite.
    assert values["title"] == "Changed by Ada" and values["amount"] == "50.00"
    assert values["tags"] == "vip, renewal, hot"
    assert values["version"] == str(deal.version + 1)
    changed = {c["key"]: c for c in response.context["changed"]}
    assert set(changed) == {"title", "amount"}
    assert changed["title"]["seen"] == "Acme renewal" and changed["title"]["now"] == "Changed by Ada"
    assert not changed["title"]["mine"]
    assert "was “Acme renewal”, now “Changed by Ada”" in response.text
    assert {"title", "amount", "tags"} <= response.context["editing"]
    assert _load(runtime, deal.id)[0].title == "Changed by Ada"
    data = _form(deal, csrf_token=csrf_of(rep_web), **{k: values[k] for k in ("title", "amount", "tags", "version")})
    assert rep_web.post(f"/deals/{deal.id}", data=data, follow_redirects=False).status_code == 303
    saved = _load(runtime, deal.id)[0]
    assert (saved.title, saved.amount, saved.tags) == ("Changed by Ada", 5000, ["vip", "renewal", "hot"])


def test_stale_edit_of_the_same_field_keeps_mine_and_names_theirs(rep_web, runtime, deals, admin):
    deal = deals[0]
    seen = rep_web.get(f"/deals/{deal.id}").context["seen"]
    with runtime.sessions() as s, s.begin():
        update_deal(s, deal.id, {"title": "Changed by Ada"}, actor=Actor.user(admin.id))
    response = rep_web.post(f"/deals/{deal.id}", data=_form(deal, csrf_token=csrf_of(rep_web), title="My title",
                                                            seen=seen))
    assert response.status_code == 409
    assert response.context["values"]["title"] == "My title"
    (change,) = response.context["changed"]
    assert change["now"] == "Changed by Ada" and change["mine"] and change["mine_value"] == "My title"
    assert "you typed “My title” (kept in the form)" in response.text


def test_read_view_with_inline_edit_links(rep_web, deals):
    deal = deals[0]
    response = rep_web.get(f"/deals/{deal.id}")
    html = response.text
    assert response.context["editing"] == set()
    assert f'href="/deals/{deal.id}?edit=title#f-title"' in html  # no-JS path to edit one field
    assert "version" not in response.text.replace('name="version"', "")
    assert 'class="inline-edit"' in html and "is-editing" not in html
    edit = rep_web.get(f"/deals/{deal.id}?edit=amount")
    assert edit.context["editing"] == {"amount"} and 'class="field editing" data-field="amount"' in edit.text
    assert "today" in html  # friendly local times on the timeline, no seconds, no "UTC"
    assert " UTC" not in html


def test_stage_bar_moves_the_deal(rep_web, runtime, deals, pipeline):
    deal = deals[0]
    html = rep_web.get(f"/deals/{deal.id}").text
    assert 'class="stagebar"' in html and 'aria-current="step"' in html
    response = rep_web.post(f"/deals/{deal.id}/move", data={
        "csrf_token": csrf_of(rep_web), "stage_id": pipeline.stages[2].id, "version": deal.version,
        "from_stage_id": deal.stage_id, "return_to": f"/deals/{deal.id}"}, follow_redirects=False)
    assert response.status_code == 303
    page = rep_web.get(f"/deals/{deal.id}")
    assert page.context["stage"].id == pipeline.stages[2].id
    assert page.text.count('class="step kind-open passed"') == 2


def test_live_fragment_carries_head_stage_bar_and_details(rep_web, runtime, deals, pipeline, admin):
    deal = deals[0]
    with runtime.sessions() as s, s.begin():
        move_deal(s, deal.id, pipeline.stages[1].id, actor=Actor.user(admin.id))
    live = rep_web.get(f"/deals/{deal.id}/live").text
    for element in ('id="deal-head"', 'id="deal-stagebar"', 'id="deal-details"', 'id="deal-live"'):
        assert element in live
    assert f'value="{pipeline.stages[1].id}" aria-current="step"' in live


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


def test_person_field_picks_creates_or_clears(rep_web, runtime, deals):
    deal, bob_deal = deals[0], deals[3]
    token = csrf_of(rep_web)
    _, bob = _load(runtime, bob_deal.id)
    found = rep_web.get(f"/persons/picker?q=bob&current={deal.person_id}")
    assert f'name="person_id" value="{bob.id}"' in found.text and "<html" not in found.text
    no_js = rep_web.get(f"/deals/{deal.id}?edit=person&person_q=stone")
    assert [p.name for p in no_js.context["person_found"]] == ["Bob Stone"]
    # Pick an existing person.
    response = rep_web.post(f"/deals/{deal.id}", data=_form(deal, csrf_token=token, person_id=str(bob.id)),
                            follow_redirects=False)
    assert response.status_code == 303
    saved, person = _load(runtime, deal.id)
    assert person.id == bob.id
    # Create a new one (with an organization); the old person is untouched.
    response = rep_web.post(f"/deals/{deal.id}", data=_form(saved, csrf_token=token, person_id="new",
                            new_name="Carol King", new_email="carol@acme.test", new_company="Acme"),
                            follow_redirects=False)
    assert response.status_code == 303
    saved, person = _load(runtime, deal.id)
    assert person.name == "Carol King" and saved.organization_id == person.organization_id is not None
    assert rep_web.get(f"/deals/{deal.id}").context["person_label"] == "Carol King · Acme"
    # A duplicate email names the existing person and nothing is written.
    dup = rep_web.post(f"/deals/{deal.id}", data=_form(saved, csrf_token=token, person_id="new",
                       new_name="Again", new_email="CAROL@acme.test"))
    assert dup.status_code == 422 and "already used by Carol King" in dup.context["errors"]["new_email"]
    # Clear it.
    response = rep_web.post(f"/deals/{deal.id}", data=_form(saved, csrf_token=token, person_id=""),
                            follow_redirects=False)
    assert response.status_code == 303 and _load(runtime, deal.id)[1] is None


def test_a_stale_form_saves_when_only_the_stage_changed_meanwhile(rep_web, runtime, deals, pipeline, admin):
    deal = deals[0]
    seen = rep_web.get(f"/deals/{deal.id}").context["seen"]
    with runtime.sessions() as s, s.begin():
        move_deal(s, deal.id, pipeline.stages[1].id, actor=Actor.user(admin.id))
    response = rep_web.post(f"/deals/{deal.id}", data=_form(deal, csrf_token=csrf_of(rep_web), tags="vip", seen=seen),
                            follow_redirects=False)
    assert response.status_code == 303
    saved = _load(runtime, deal.id)[0]
    assert saved.tags == ["vip"] and saved.stage_id == pipeline.stages[1].id
