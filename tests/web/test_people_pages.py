"""Persons and organizations pages: search, create (duplicate email named), edit, detail with deals and more."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from kanban import clock
from kanban.crm_models import Activity, Note
from kanban.models import Organization, Person
from tests.conftest import csrf_of


def test_persons_list_and_search(rep_web, deals):
    response = rep_web.get("/persons")
    assert response.status_code == 200
    names = [p.name for p in response.context["rows"]]
    assert names == ["Alice Moreau", "Bob Stone"]
    assert [p.name for p in rep_web.get("/persons?q=ACME.test").context["rows"]] == ["Alice Moreau"]
    empty = rep_web.get("/persons?q=nobody")
    assert empty.context["rows"] == [] and "Nothing matches “nobody”." in empty.text
    assert 'href="/persons"' in response.text and 'href="/activities"' in response.text  # nav links


def test_create_person_with_organization_and_duplicate_email(rep_web, runtime, deals):
    token = csrf_of(rep_web)
    rep_web.post("/organizations", data={"csrf_token": token, "name": "Acme Corp", "address": "1 Road"})
    with runtime.sessions() as s:
        org = s.scalars(select(Organization).where(Organization.name == "Acme Corp")).one()
    response = rep_web.post("/persons", data={"csrf_token": token, "name": "Carol King", "email": "carol@acme.test",
                                              "phone": "+1 555", "organization_id": str(org.id)},
                            follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/persons/")
    with runtime.sessions() as s:
        carol = s.scalars(select(Person).where(Person.name == "Carol King")).one()
        assert (carol.organization_id, carol.phone) == (org.id, "+1 555")
    dup = rep_web.post("/persons", data={"csrf_token": token, "name": "Other", "email": "ALICE@acme.test"})
    assert dup.status_code == 409
    assert dup.context["existing"].name == "Alice Moreau" and "That email belongs to" in dup.text
    bad = rep_web.post("/persons", data={"csrf_token": token, "name": "", "email": "nope"})
    assert bad.status_code == 422 and set(bad.context["errors"]) == {"name", "email"}
    with runtime.sessions() as s:
        assert s.scalar(select(Person.id).where(Person.name == "Other")) is None


def test_person_detail_shows_deals_activities_and_notes(rep_web, runtime, deals, rep):
    with runtime.sessions() as s, s.begin():
        alice = s.scalars(select(Person).where(Person.name == "Alice Moreau")).one()
        s.add(Activity(type="call", subject="Call Alice", deal_id=deals[0].id, assignee_id=rep.id,
                       due_date=clock.now().date() - timedelta(days=1)))
        s.add(Note(deal_id=deals[0].id, author_id=rep.id, text="Line one\n<b>bold?</b>"))
        alice_id = alice.id
    response = rep_web.get(f"/persons/{alice_id}")
    assert response.status_code == 200
    html = response.text
    assert "Acme renewal" in html and "Call Alice" in html and "state-overdue" in html
    assert "Line one<br>\n&lt;b&gt;bold?&lt;/b&gt;" in html  # escaped, line breaks kept
    edit = rep_web.post(f"/persons/{alice_id}", data={"csrf_token": csrf_of(rep_web), "name": "Alice M.",
                                                      "email": "alice@acme.test", "phone": "", "organization_id": ""},
                        follow_redirects=False)
    assert edit.status_code == 303
    assert rep_web.get(f"/persons/{alice_id}").context["record"].name == "Alice M."
    assert rep_web.get("/persons/999999").status_code == 404


def test_organization_detail_lists_people_and_deals(rep_web, runtime, pipeline, rep):
    from tests.web.conftest import add_deal

    add_deal(runtime, pipeline, rep, "Hooli expansion", contact={"name": "Gavin B", "company": "Hooli"})
    with runtime.sessions() as s:
        org = s.scalars(select(Organization).where(Organization.name == "Hooli")).one()
    listing = rep_web.get("/organizations?q=hoo")
    assert [o.name for o in listing.context["rows"]] == ["Hooli"]
    page = rep_web.get(f"/organizations/{org.id}")
    assert "Gavin B" in page.text and "Hooli expansion" in page.text


def test_received_email_shows_on_the_person_and_organization_pages(rep_web, runtime, deals):
    from kanban import inbox

    raw = (b"From: Alice <ALICE@acme.test>\r\nTo: sales@crm.example\r\nSubject: Renewal question\r\n"
           b"Message-ID: <renewal-1@acme.test>\r\n\r\nCan we talk about the renewal?\r\n")
    with runtime.sessions() as s, s.begin():
        alice = s.scalars(select(Person).where(Person.name == "Alice Moreau")).one()
        org = Organization(name="Acme Corp")
        s.add(org)
        s.flush()
        alice.organization_id = org.id
        inbox.receive(s, raw)
        ids = (alice.id, org.id)
    page = rep_web.get(f"/persons/{ids[0]}")
    assert page.status_code == 200 and "Renewal question" in page.text and "Can we talk about the renewal?" in page.text
    assert "Renewal question" in rep_web.get(f"/organizations/{ids[1]}").text
    bob = rep_web.get("/persons").context["rows"][1]
    assert "No email received." in rep_web.get(f"/persons/{bob.id}").text
