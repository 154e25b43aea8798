"""API: requisites (legal details) of organizations, persons and our company; SMS opt-out of persons."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from kanban import clock
from kanban.services import requisites as svc
from kanban.services.persons import get_person
from kanban.web.api.base import Call, endpoint
from kanban.web.api.schema import ANY_OBJ, BOOL, INT, STR, TIME, arr, component, nullable, obj
from kanban.web.deps import require_admin

ADDRESS = obj({"street": STR, "city": STR, "postal_code": STR, "country": STR})
REQUISITE = component("Requisite", obj({
    "id": INT, "owner_type": STR, "owner_id": INT, "template": STR, "fields": ANY_OBJ,
    "addresses": obj({k: ADDRESS for k in svc.ADDRESS_TYPES}), "bank": nullable(ANY_OBJ), "updated_at": TIME,
}, ["id", "template", "fields", "addresses"]))
REQUISITE_IN = obj({"template": STR, "fields": ANY_OBJ, "addresses": ANY_OBJ, "bank": nullable(ANY_OBJ)},
                   ["template"])
OPT_OUT = obj({"person_id": INT, "sms_opt_out": BOOL, "sms_opt_out_at": nullable(TIME)}, ["person_id", "sms_opt_out"])


def _owner(call: Call) -> tuple[str, int]:
    path = call.request.url.path
    if path.startswith("/api/v1/company/"):
        return svc.COMPANY
    kind = "organization" if path.startswith("/api/v1/organizations/") else "person"
    return kind, call.path_int("owner_id")


@endpoint("Requisites of an organization, a person or our company", response=obj({"items": arr(REQUISITE)}),
          access="authenticated")
def list_requisites(call: Call) -> dict[str, Any]:
    """One per template used."""
    return {"items": [svc.requisite_view(r) for r in svc.requisites_of(call.session, *_owner(call))]}


@endpoint("Set the requisites of a template (replaces that template's values; identifiers validated)",
          status=201, body=REQUISITE_IN, response=REQUISITE, access="authenticated")
def save_requisites(call: Call) -> dict[str, Any]:
    """422 naming each invalid field (SIREN, SIRET, TVA, Partita IVA, Codice Fiscale, IBAN, BIC, country)."""
    owner = _owner(call)
    if owner == svc.COMPANY:
        require_admin(call.user)
    return svc.requisite_view(svc.save_requisite(call.session, *owner, call.body()))


@endpoint("Set or clear a person's SMS opt-out", body=obj({"sms_opt_out": BOOL}, ["sms_opt_out"]), response=OPT_OUT,
          access="authenticated")
def set_opt_out(call: Call) -> dict[str, Any]:
    """sms_client robots never text a person who opted out (the refusal is recorded on the deal)."""
    person = get_person(call.session, call.path_int("owner_id"))
    person.sms_opt_out = call.body()["sms_opt_out"]
    person.sms_opt_out_at = clock.now() if person.sms_opt_out else None
    call.session.flush()
    return {"person_id": person.id, "sms_opt_out": person.sms_opt_out,
            "sms_opt_out_at": person.sms_opt_out_at.isoformat() if person.sms_opt_out_at else None}


routes = [
    Route("/api/v1/organizations/{owner_id:int}/requisites", list_requisites, methods=["GET"]),
    Route("/api/v1/organizations/{owner_id:int}/requisites", save_requisites, methods=["POST"]),
    Route("/api/v1/persons/{owner_id:int}/requisites", list_requisites, methods=["GET"]),
    Route("/api/v1/persons/{owner_id:int}/requisites", save_requisites, methods=["POST"]),
    Route("/api/v1/company/requisites", list_requisites, methods=["GET"]),
    Route("/api/v1/company/requisites", save_requisites, methods=["POST"]),
    Route("/api/v1/persons/{owner_id:int}/sms-opt-out", set_opt_out, methods=["PUT"]),
]
