"""Requisites (legal details) of organizations, persons and our own company: templates, validation, reading.

Identifiers are checked with python-stdnum (French SIREN, SIRET and TVA, Italian Partita IVA and Codice
Fiscale, EU VAT numbers) and IBAN/BIC with schwifty; a bad one is a ValidationError naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pycountry
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as NumberError
from stdnum.fr import siren, siret, tva
from stdnum.it import codicefiscale, iva

from kanban.commerce import Requisite
from kanban.errors import NotFoundError, ValidationError
from kanban.i18n import _
from kanban.models import Deal, Organization, Person

ADDRESS_TYPES = ("legal", "business", "delivery")
ADDRESS_FIELDS = ("street", "city", "postal_code", "country")
OWNER_TYPES = {"organization": Organization, "person": Person}
COMPANY = ("company", 1)  # our own requisites: the seller on documents


@dataclass(frozen=True)
class Field:
    """One requisite field: its label and, for identifiers, the stdnum module that validates and compacts it."""

    label: str
    number: Any = None
    prefix: str = ""  # country prefix the compact form keeps (stdnum's fr.tva drops "FR")

    def clean(self, value: str) -> str:
        """The compact form of a valid identifier (plain text is only trimmed); raises NumberError."""
        if self.number is None:
            return value.strip()
        compact = str(self.number.validate(value))
        return compact if compact.startswith(self.prefix) else self.prefix + compact


TEMPLATES: dict[str, dict[str, Field]] = {
    "fr_company": {"company_name": Field("Raison sociale"), "siren": Field("SIREN", siren),
                   "siret": Field("SIRET", siret), "vat_number": Field("TVA intracommunautaire", tva, "FR")},
    "it_company": {"company_name": Field("Ragione sociale"), "partita_iva": Field("Partita IVA", iva),
                   "codice_fiscale": Field("Codice Fiscale", codicefiscale)},
    "generic_company": {"company_name": Field("Company name"), "registration_number": Field("Registration number"),
                        "vat_number": Field("VAT number", eu_vat)},
    "person": {"name": Field("Name"), "codice_fiscale": Field("Codice Fiscale", codicefiscale),
               "tax_id": Field("Tax id")},
}
ENTITY_TEMPLATES = {"organization": ("fr_company", "it_company", "generic_company"), "person": ("person",),
                    "company": ("fr_company", "it_company", "generic_company")}


def check_fields(template: str, fields: Any, errors: dict[str, str]) -> dict[str, str]:
    """The template's fields, identifiers validated and compacted; problems go to errors["fields.<name>"]."""
    spec = TEMPLATES[template]
    if not isinstance(fields, dict):
        errors["fields"] = _("must be an object")
        return {}
    out: dict[str, str] = {}
    for name, value in fields.items():
        key = f"fields.{name}"
        if name not in spec:
            errors[key] = _("not a field of %(template)s (fields: %(spec)s)", template=template, spec=', '.join(spec))
        elif value is None or value == "":
            continue
        elif not isinstance(value, str) or len(value) > 200:
            errors[key] = _("must be text of at most 200 characters")
        else:
            try:
                out[name] = spec[name].clean(value)
            except NumberError as exc:
                errors[key] = _("not a valid %(label)s: %(exc)s", label=spec[name].label, exc=exc)
    return out


def check_address(kind: str, value: Any, errors: dict[str, str]) -> dict[str, str]:
    """An address with street, city, postal_code and an ISO 3166 country code."""
    where = f"addresses.{kind}"
    if kind not in ADDRESS_TYPES:
        errors[where] = _("address type is one of %(address_types)s", address_types=', '.join(ADDRESS_TYPES))
        return {}
    if not isinstance(value, dict) or set(value) - set(ADDRESS_FIELDS):
        errors[where] = _("an object with %(address_fields)s", address_fields=', '.join(ADDRESS_FIELDS))
        return {}
    out = {k: str(v).strip()[:200] for k, v in value.items() if isinstance(v, str) and v.strip()}
    if "country" in out:
        country = pycountry.countries.get(alpha_2=out["country"].upper())
        if country is None:
            errors[f"{where}.country"] = _("not an ISO 3166 country code (e.g. FR, IT)")
        else:
            out["country"] = country.alpha_2
    return out


def check_bank(value: Any, errors: dict[str, str]) -> dict[str, str]:
    """IBAN (required when bank is given) and BIC, validated by schwifty."""
    if not isinstance(value, dict) or set(value) - {"iban", "bic"}:
        errors["bank"] = _("an object with iban and bic")
        return {}
    out: dict[str, str] = {}
    for name, parse in (("iban", IBAN), ("bic", BIC)):
        raw = value.get(name)
        if raw in (None, ""):
            continue
        try:
            out[name] = parse(str(raw)).compact
        except SchwiftyException as exc:
            errors[f"bank.{name}"] = _("not a valid %(upper)s: %(exc)s", upper=name.upper(), exc=exc)
    return out


def _owner(session: Session, owner_type: str, owner_id: int) -> None:
    model = OWNER_TYPES.get(owner_type)
    if (owner_type, owner_id) != COMPANY and (model is None or session.get(model, owner_id) is None):
        raise NotFoundError(_("%(owner_type)s %(owner_id)s not found", owner_type=owner_type, owner_id=owner_id))


def save_requisite(session: Session, owner_type: str, owner_id: int, data: dict[str, Any], *,
                   merge: bool = False) -> Requisite:
    """Create or replace (merge=True: update the given values of) the owner's requisite of a template."""
    _owner(session, owner_type, owner_id)
    template = data.get("template")
    if template not in ENTITY_TEMPLATES[owner_type]:
        raise ValidationError(_("unknown template"),
                              {"template": _("one of %(choices)s", choices=", ".join(ENTITY_TEMPLATES[owner_type]))})
    errors: dict[str, str] = {}
    fields = check_fields(template, data.get("fields", {}), errors)
    addresses = {k: check_address(k, v, errors) for k, v in (data.get("addresses") or {}).items()}
    bank = check_bank(data["bank"], errors) if data.get("bank") is not None else {}
    if errors:
        raise ValidationError("invalid requisites: " + "; ".join(f"{k}: {v}" for k, v in errors.items()), errors)
    row = find_requisite(session, owner_type, owner_id, template)
    if row is None:
        row = Requisite(owner_type=owner_type, owner_id=owner_id, template=template, fields={}, addresses={},
                        bank={})
        session.add(row)
    if merge:
        fields = {**row.fields, **fields}
        addresses = {**row.addresses, **{k: {**row.addresses.get(k, {}), **v} for k, v in addresses.items()}}
        bank = {**row.bank, **bank}
    row.fields, row.addresses, row.bank = fields, addresses, bank
    session.flush()
    return row


def find_requisite(session: Session, owner_type: str, owner_id: int, template: str | None = None) -> Requisite | None:
    """The owner's requisite of a template (any template: the most recently changed)."""
    stmt = select(Requisite).where(Requisite.owner_type == owner_type, Requisite.owner_id == owner_id)
    if template is not None:
        stmt = stmt.where(Requisite.template == template)
    return session.scalars(stmt.order_by(Requisite.updated_at.desc(), Requisite.id.desc())).first()


def requisites_of(session: Session, owner_type: str, owner_id: int) -> list[Requisite]:
    """Every requisite of an owner (404 for an unknown owner)."""
    _owner(session, owner_type, owner_id)
    return list(session.scalars(select(Requisite).where(Requisite.owner_type == owner_type,
                                                        Requisite.owner_id == owner_id).order_by(Requisite.id)))


def deal_owner(session: Session, deal: Deal, entity: str) -> tuple[str, int] | None:
    """The deal's organization (else its person's organization) or person, as (owner_type, id)."""
    if entity == "person":
        return ("person", deal.person_id) if deal.person_id else None
    if deal.organization_id:
        return "organization", deal.organization_id
    person = session.get(Person, deal.person_id) if deal.person_id else None
    return ("organization", person.organization_id) if person and person.organization_id else None


def one_line(address: dict[str, str] | None) -> str:
    """An address on one line: "12 rue de la Paix, 75002 Paris, FR"."""
    if not address:
        return ""
    town = " ".join(p for p in (address.get("postal_code"), address.get("city")) if p)
    return ", ".join(p for p in (address.get("street"), town, address.get("country")) if p)


def flat_values(row: Requisite | None, address_type: str | None = None) -> dict[str, str]:
    """The values later robots and documents use: company_name, vat_number, address, iban (those present)."""
    if row is None:
        return {}
    fields = row.fields or {}
    vat = fields.get("vat_number") or (f"IT{fields['partita_iva']}" if fields.get("partita_iva") else None)
    kinds = [address_type] if address_type else list(ADDRESS_TYPES)
    address = next((one_line(row.addresses.get(k)) for k in kinds if row.addresses.get(k)), "")
    values = {"company_name": fields.get("company_name") or fields.get("name"), "vat_number": vat,
              "address": address, "iban": (row.bank or {}).get("iban")}
    return {k: v for k, v in values.items() if v}


def requisite_view(row: Requisite) -> dict[str, Any]:
    """A requisite as JSON."""
    return {"id": row.id, "owner_type": row.owner_type, "owner_id": row.owner_id, "template": row.template,
            "fields": row.fields, "addresses": row.addresses, "bank": row.bank or None,
            "updated_at": row.updated_at.isoformat() if row.updated_at else None}


