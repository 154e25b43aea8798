"""Fixtures for the payment group: API headers (from the API tests) and a deal with a French buyer."""

from __future__ import annotations

from typing import Any

import pytest

from kanban.events import Actor
from kanban.services.deals import create_deal
from kanban.services.persons import create_organization, create_person
from kanban.services.requisites import save_requisite
from tests.api.conftest import admin_h, make_deal, rep_h  # noqa: F401  (fixtures shared with the API tests)

FR_BUYER = {"template": "fr_company",
            "fields": {"company_name": "Dupont SAS", "siren": "732829320", "siret": "73282932000074",
                       "vat_number": "FR44732829320"},
            "addresses": {"legal": {"street": "12 rue de la Paix", "city": "Paris", "postal_code": "75002",
                                    "country": "FR"},
                          "delivery": {"street": "3 quai des Docks", "city": "Marseille", "postal_code": "13002",
                                       "country": "fr"}},
            "bank": {"iban": "FR14 2004 1010 0505 0001 3M02 606", "bic": "BNPAFRPP"}}


@pytest.fixture
def buyer_deal(runtime: Any, pipeline: Any, admin: Any, rep: Any) -> dict[str, int]:
    """A EUR deal of Dupont SAS (French requisites) with its person Marie Dupont (a French mobile)."""
    with runtime.sessions() as s, s.begin():
        actor = Actor.user(admin.id)
        org = create_organization(s, {"name": "Dupont"}, actor=actor)
        person = create_person(s, {"name": "Marie Dupont", "email": "marie@dupont.example",
                                   "phone": "06 12 34 56 78", "organization_id": org.id}, actor=actor)
        save_requisite(s, "organization", org.id, FR_BUYER)
        deal = create_deal(s, title="Dupont order", pipeline_id=pipeline.id, actor=actor, amount=50000,
                           currency="EUR", responsible_id=rep.id, person_id=person.id, organization_id=org.id)
        return {"deal_id": deal.id, "organization_id": org.id, "person_id": person.id}
