"""API: persons and organizations — list with search, create, read, change, delete."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from kanban.events import Actor
from kanban.models import Organization, Person
from kanban.services import persons as svc
from kanban.web.api.base import PAGE_PARAMS, Call, endpoint, page, paginate
from kanban.web.api.schema import INT, STR, TIME, component, nullable, obj, page_of

PERSON = component("Person", obj({
    "id": INT, "name": STR, "email": nullable(STR), "phone": nullable(STR), "organization_id": nullable(INT),
    "language": nullable(STR), "created_at": TIME,
}, ["id", "name", "email", "phone", "organization_id", "created_at"]))
ORGANIZATION = component("Organization", obj({"id": INT, "name": STR, "address": nullable(STR), "created_at": TIME},
                                             ["id", "name", "address", "created_at"]))
PERSON_PROPS = {"name": STR, "email": nullable(STR), "phone": nullable(STR), "organization_id": nullable(INT),
                "language": nullable(STR)}
ORG_PROPS = {"name": STR, "address": nullable(STR)}
Q = {"name": "q", "in": "query", "schema": STR, "description": "text in the name (persons: or email)"}


def person_view(person: Person) -> dict[str, Any]:
    """A person as JSON."""
    return {**svc.person_snapshot(person), "created_at": person.created_at.isoformat()}


def organization_view(org: Organization) -> dict[str, Any]:
    """An organization as JSON."""
    return {**svc.organization_snapshot(org), "created_at": org.created_at.isoformat()}


def _actor(call: Call) -> Actor:
    return Actor.user(call.user.id)


@endpoint("List persons (search with q)", response=page_of(PERSON),
          params=[Q, {"name": "organization_id", "in": "query", "schema": INT}, *PAGE_PARAMS], access="authenticated")
def list_persons(call: Call) -> dict[str, Any]:
    """Persons by id."""
    stmt = svc.search_persons(call.session, call.query_str("q"), organization_id=call.query_int("organization_id"))
    rows, nxt = paginate(call, stmt, Person.id)
    return page([person_view(p) for p in rows], nxt)


@endpoint("Create a person (409 with existing_id when the email is taken)", status=201,
          body=obj(PERSON_PROPS, ["name"]), response=PERSON, access="authenticated")
def create_person(call: Call) -> dict[str, Any]:
    """A new person."""
    return person_view(svc.create_person(call.session, call.body(), actor=_actor(call)))


@endpoint("Get a person", response=PERSON, access="authenticated")
def get_person(call: Call) -> dict[str, Any]:
    """One person."""
    return person_view(svc.get_person(call.session, call.path_int("person_id")))


@endpoint("Change a person", body=obj(PERSON_PROPS), response=PERSON, access="authenticated")
def update_person(call: Call) -> dict[str, Any]:
    """The changed person."""
    return person_view(svc.update_person(call.session, call.path_int("person_id"), call.body(), actor=_actor(call)))


@endpoint("Delete a person (their deals keep going without one)", status=204, access="authenticated")
def delete_person(call: Call) -> None:
    """Gone."""
    svc.delete_person(call.session, call.path_int("person_id"), actor=_actor(call))


@endpoint("List organizations (search with q)", response=page_of(ORGANIZATION), params=[Q, *PAGE_PARAMS],
          access="authenticated")
def list_organizations(call: Call) -> dict[str, Any]:
    """Organizations by id."""
    rows, nxt = paginate(call, svc.search_organizations(call.session, call.query_str("q")), Organization.id)
    return page([organization_view(o) for o in rows], nxt)


@endpoint("Create an organization", status=201, body=obj(ORG_PROPS, ["name"]), response=ORGANIZATION,
          access="authenticated")
def create_organization(call: Call) -> dict[str, Any]:
    """A new organization."""
    return organization_view(svc.create_organization(call.session, call.body(), actor=_actor(call)))


@endpoint("Get an organization", response=ORGANIZATION, access="authenticated")
def get_organization(call: Call) -> dict[str, Any]:
    """One organization."""
    return organization_view(svc.get_organization(call.session, call.path_int("organization_id")))


@endpoint("Change an organization", body=obj(ORG_PROPS), response=ORGANIZATION, access="authenticated")
def update_organization(call: Call) -> dict[str, Any]:
    """The changed organization."""
    org = svc.update_organization(call.session, call.path_int("organization_id"), call.body(), actor=_actor(call))
    return organization_view(org)


@endpoint("Delete an organization (persons and deals lose the link)", status=204, access="authenticated")
def delete_organization(call: Call) -> None:
    """Gone."""
    svc.delete_organization(call.session, call.path_int("organization_id"), actor=_actor(call))


routes = [
    Route("/api/v1/persons", list_persons, methods=["GET"]),
    Route("/api/v1/persons", create_person, methods=["POST"]),
    Route("/api/v1/persons/{person_id:int}", get_person, methods=["GET"]),
    Route("/api/v1/persons/{person_id:int}", update_person, methods=["PATCH"]),
    Route("/api/v1/persons/{person_id:int}", delete_person, methods=["DELETE"]),
    Route("/api/v1/organizations", list_organizations, methods=["GET"]),
    Route("/api/v1/organizations", create_organization, methods=["POST"]),
    Route("/api/v1/organizations/{organization_id:int}", get_organization, methods=["GET"]),
    Route("/api/v1/organizations/{organization_id:int}", update_organization, methods=["PATCH"]),
    Route("/api/v1/organizations/{organization_id:int}", delete_organization, methods=["DELETE"]),
]
