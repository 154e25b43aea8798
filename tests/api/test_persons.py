"""Persons and organizations over the API: CRUD, search, case-insensitive unique email, the deal's contact."""

from __future__ import annotations

from sqlalchemy import select

from kanban.domain_events import DomainEvent
from tests.api.conftest import error_of


def test_person_crud_and_duplicate_email(client, admin_h, runtime):
    org = client.post("/api/v1/organizations", headers=admin_h, json={"name": "Acme", "address": "1 Road"})
    assert org.status_code == 201, org.text
    org_id = org.json()["id"]
    made = client.post("/api/v1/persons", headers=admin_h, json={
        "name": "Ann Lee", "email": "Ann@Acme.test", "phone": "+1", "organization_id": org_id})
    assert made.status_code == 201, made.text
    person = made.json()
    assert (person["email"], person["organization_id"]) == ("Ann@Acme.test", org_id)
    dup = client.post("/api/v1/persons", headers=admin_h, json={"name": "Other", "email": "ann@ACME.test"})
    err = error_of(dup, 409, "conflict")
    assert "email" in err["fields"] and err["existing_id"] == person["id"]
    changed = client.patch(f"/api/v1/persons/{person['id']}", headers=admin_h, json={"phone": "+2"})
    assert changed.json()["phone"] == "+2"
    found = client.get("/api/v1/persons", headers=admin_h, params={"q": "acme.TEST"}).json()["items"]
    assert [p["id"] for p in found] == [person["id"]]
    assert client.get("/api/v1/persons", headers=admin_h, params={"q": "zzz"}).json()["items"] == []
    assert client.get("/api/v1/organizations", headers=admin_h, params={"q": "acm"}).json()["items"][0]["id"] == org_id
    assert client.delete(f"/api/v1/persons/{person['id']}", headers=admin_h).status_code == 204
    error_of(client.get(f"/api/v1/persons/{person['id']}", headers=admin_h), 404, "not_found")
    with runtime.sessions() as s:
        types = [e.type for e in s.scalars(select(DomainEvent).order_by(DomainEvent.id))]
    assert types == ["organization.created", "person.created", "person.updated", "person.deleted"]


def test_person_validation_writes_nothing(client, admin_h):
    err = error_of(client.post("/api/v1/persons", headers=admin_h, json={
        "name": " ", "email": "no-at-sign", "organization_id": 999}), 422, "validation_error")
    assert set(err["fields"]) == {"name", "email", "organization_id"}
    assert client.get("/api/v1/persons", headers=admin_h).json()["items"] == []


def test_deal_contact_maps_onto_a_person(client, admin_h, pipeline):
    deal = client.post("/api/v1/deals", headers=admin_h, json={
        "title": "A", "pipeline_id": pipeline.id,
        "contact": {"name": "Bo", "email": "bo@x.test", "company": "Initech"}}).json()
    person = client.get(f"/api/v1/persons/{deal['person_id']}", headers=admin_h).json()
    assert person["name"] == "Bo" and deal["contact"]["id"] == person["id"]
    assert deal["organization_id"] == person["organization_id"] is not None
    # A second deal with the same email (other case) links the same person instead of a duplicate.
    other = client.post("/api/v1/deals", headers=admin_h, json={
        "title": "B", "pipeline_id": pipeline.id, "contact": {"name": "Bo", "email": "BO@x.test"}}).json()
    assert other["person_id"] == person["id"]
    by_person = client.get("/api/v1/deals", headers=admin_h, params={"person_id": person["id"]}).json()["items"]
    assert {d["id"] for d in by_person} == {deal["id"], other["id"]}
    linked = client.patch(f"/api/v1/deals/{other['id']}", headers=admin_h, json={"person_id": None}).json()
    assert linked["person_id"] is None
