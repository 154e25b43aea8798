"""Tables of the payment group: products, deal line items, requisites, documents and their counters.

Quantities, discounts and tax rates are stored as integers (thousandths of a unit, hundredths of a percent) so
SQLite and PostgreSQL keep them exactly alike; kanban.pricing does the arithmetic.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kanban.clock import now
from kanban.models import Base

QUANTITY_SCALE = 1000  # quantity_milli: 1500 = 1.5 units
PERCENT_SCALE = 100  # *_bp: 2000 = 20.00 %


class Product(Base):
    """A catalogue entry: name, optional SKU, unit price in minor units of its currency, tax rate."""

    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str | None] = mapped_column(String(64), unique=True)
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    tax_bp: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=now)


class LineItem(Base):
    """One line of a deal: a product (or free text), quantity, unit price, discount, tax and rounded totals."""

    __tablename__ = "deal_line_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(300))
    quantity_milli: Mapped[int] = mapped_column(BigInteger)
    price: Mapped[int] = mapped_column(BigInteger)
    discount_bp: Mapped[int] = mapped_column(Integer, default=0)
    tax_bp: Mapped[int] = mapped_column(Integer, default=0)
    net: Mapped[int] = mapped_column(BigInteger)
    tax: Mapped[int] = mapped_column(BigInteger)
    gross: Mapped[int] = mapped_column(BigInteger)


class Requisite(Base):
    """Legal details of an organization, a person or our own company (owner_type "company", owner_id 1)."""

    __tablename__ = "requisites"
    __table_args__ = (UniqueConstraint("owner_type", "owner_id", "template"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign key: the owner is a row of organizations or persons (or the company), chosen by owner_type.
    owner_type: Mapped[str] = mapped_column(String(20))
    owner_id: Mapped[int] = mapped_column(Integer)
    template: Mapped[str] = mapped_column(String(30))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    addresses: Mapped[dict[str, Any]] = mapped_column(default=dict)  # legal|business|delivery -> address
    bank: Mapped[dict[str, Any]] = mapped_column(default=dict)  # iban, bic
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class DocumentCounter(Base):
    """The last number given in a series (invoice or quote) and year; locked while a document takes the next."""

    __tablename__ = "document_counters"
    series: Mapped[str] = mapped_column(String(10), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Document(Base):
    """An invoice or quote made from a deal: numbered, with the values it was made from and its PDF."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("type", "year", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(10))  # invoice | quote
    number: Mapped[str] = mapped_column(String(20))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    net: Mapped[int] = mapped_column(BigInteger)
    tax: Mapped[int] = mapped_column(BigInteger)
    gross: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[datetime] = mapped_column(default=now)
    due_at: Mapped[datetime | None]
    pay_url: Mapped[str | None] = mapped_column(String(1000))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # seller, buyer, lines as printed
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    run_id: Mapped[int | None] = mapped_column(unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class EmailAttachment(Base):
    """A document attached to an outbox email (the PDF is read from the document when the mail is built)."""

    __tablename__ = "email_attachments"
    email_id: Mapped[int] = mapped_column(ForeignKey("email_outbox.id", ondelete="CASCADE"), primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)

