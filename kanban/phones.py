"""Client phone numbers in E.164 (phonenumbers), with the country to assume for national numbers."""

from __future__ import annotations

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban.commerce import Requisite
from kanban.models import Deal


class PhoneNumberError(ValueError):
    """A number that is not a valid phone number."""


def e164(raw: str, region: str) -> str:
    """The number in E.164 ("+33612345678"); `region` is assumed when it has no +<country code>."""
    try:
        number = phonenumbers.parse(raw, region.upper())
    except phonenumbers.NumberParseException as exc:
        raise PhoneNumberError(f"{raw!r} is not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise PhoneNumberError(f"{raw!r} is not a valid phone number (assumed country {region.upper()})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def deal_region(session: Session, deal: Deal, default: str) -> str:
    """The country of the deal's person or organization (from their requisites' addresses), else `default`."""
    owners = [("person", deal.person_id), ("organization", deal.organization_id)]
    for owner_type, owner_id in owners:
        if owner_id is None:
            continue
        rows = session.scalars(select(Requisite).where(Requisite.owner_type == owner_type,
                                                       Requisite.owner_id == owner_id).order_by(Requisite.id))
        for row in rows:
            for address in (row.addresses or {}).values():
                if address.get("country"):
                    return str(address["country"])
    return default
