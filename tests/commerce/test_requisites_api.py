"""Requisites over the API: per-country templates, identifiers validated by stdnum and schwifty (422 by field)."""

from __future__ import annotations

from tests.api.conftest import error_of
from tests.commerce.conftest import FR_BUYER

IT_COMPANY = {"template": "it_company",
              "fields": {"company_name": "Rossi S.r.l.", "partita_iva": "00743110157",
                         "codice_fiscale": "00743110157"},
              "addresses": {"business": {"street": "Via Roma 1", "city": "Milano", "postal_code": "20121",
                                         "country": "IT"}}}


def test_french_requisites_are_compacted_and_read_back(client, admin_h, buyer_deal):
    org = buyer_deal["organization_id"]
    body = {**FR_BUYER, "fields": {**FR_BUYER["fields"], "siret": "732 829 320 00074", "vat_number": "FR 44 732829320"}}
    saved = client.post(f"/api/v1/organizations/{org}/requisites", headers=admin_h, json=body)
    assert saved.status_code == 201, saved.text
    row = saved.json()
    assert row["fields"]["siret"] == "73282932000074" and row["fields"]["vat_number"] == "FR44732829320"
    assert row["addresses"]["delivery"]["country"] == "FR"
    assert row["bank"] == {"iban": "FR1420041010050500013M02606", "bic": "BNPAFRPP"}
    items = client.get(f"/api/v1/organizations/{org}/requisites", headers=admin_h).json()["items"]
    assert [r["id"] for r in items] == [row["id"]]  # same template: replaced, not added


def test_invalid_french_identifiers_are_refused_by_name(client, admin_h, buyer_deal):
    org = buyer_deal["organization_id"]
    body = {"template": "fr_company", "fields": {"company_name": "X", "siren": "732829321", "siret": "123",
                                                  "vat_number": "FR00732829320"}}
    err = error_of(client.post(f"/api/v1/organizations/{org}/requisites", headers=admin_h, json=body), 422,
                   "validation_error")
    assert err["fields"]["fields.siren"] == "not a valid SIREN: The number's checksum or check digit is invalid."
    assert err["fields"]["fields.siret"] == "not a valid SIRET: The number has an invalid length."
    assert err["fields"]["fields.vat_number"].startswith("not a valid TVA intracommunautaire")
    assert "SIREN" in err["message"]


def test_italian_requisites_and_invalid_ones(client, admin_h, buyer_deal):
    org = buyer_deal["organization_id"]
    assert client.post(f"/api/v1/organizations/{org}/requisites", headers=admin_h, json=IT_COMPANY).status_code == 201
    bad = {"template": "it_company", "fields": {"partita_iva": "00743110158", "codice_fiscale": "RCCMNL83S18D969X"}}
    err = error_of(client.post(f"/api/v1/organizations/{org}/requisites", headers=admin_h, json=bad), 422,
                   "validation_error")
    assert err["fields"]["fields.partita_iva"].startswith("not a valid Partita IVA")
    assert err["fields"]["fields.codice_fiscale"].startswith("not a valid Codice Fiscale")
    person = buyer_deal["person_id"]
    ok = {"template": "person", "fields": {"name": "Manuel Rocca", "codice_fiscale": "RCCMNL83S18D969H"}}
    assert client.post(f"/api/v1/persons/{person}/requisites", headers=admin_h, json=ok).status_code == 201


def test_bank_address_template_and_owner_errors(client, admin_h, rep_h, buyer_deal):
    org = buyer_deal["organization_id"]
    body = {"template": "generic_company", "fields": {"company_name": "Y", "colour": "blue"},
            "addresses": {"home": {"city": "Rome"}, "legal": {"city": "Rome", "country": "XX"}},
            "bank": {"iban": "FR14 2004 1010 0505 0001 3M02 607", "bic": "NOTABIC"}}
    fields = error_of(client.post(f"/api/v1/organizations/{org}/requisites", headers=admin_h, json=body), 422,
                      "validation_error")["fields"]
    assert set(fields) == {"fields.colour", "addresses.home", "addresses.legal.country", "bank.iban", "bank.bic"}
    assert fields["bank.iban"].startswith("not a valid IBAN")
    assert "template" in error_of(client.post(f"/api/v1/organizations/{org}/requisites", headers=admin_h,
                                              json={"template": "person"}), 422, "validation_error")["fields"]
    error_of(client.post("/api/v1/organizations/9999/requisites", headers=admin_h, json=IT_COMPANY), 404, "not_found")
    error_of(client.post("/api/v1/company/requisites", headers=rep_h, json=IT_COMPANY), 403, "forbidden")
    assert client.post("/api/v1/company/requisites", headers=admin_h, json=IT_COMPANY).status_code == 201
    assert client.get(f"/api/v1/organizations/{org}/requisites", headers=admin_h).json()["items"][0][
        "template"] == "fr_company"


def test_person_sms_opt_out(client, rep_h, buyer_deal):
    person = buyer_deal["person_id"]
    out = client.put(f"/api/v1/persons/{person}/sms-opt-out", headers=rep_h, json={"sms_opt_out": True}).json()
    assert out["sms_opt_out"] is True and out["sms_opt_out_at"]
    back = client.put(f"/api/v1/persons/{person}/sms-opt-out", headers=rep_h, json={"sms_opt_out": False}).json()
    assert back == {"person_id": person, "sms_opt_out": False, "sms_opt_out_at": None}
