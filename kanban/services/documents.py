"""Invoices and quotes made from a deal: gap-free numbers per year, a snapshot of what is printed, the PDF.

Numbering: each series (invoice, quote) and year has one counter row. Taking a number increments that row in
the document's own transaction (UPDATE … RETURNING locks the row until commit, as SELECT … FOR UPDATE would),
so concurrent creations queue on the row, a rolled-back creation gives its number back, and numbers have
neither gaps nor duplicates. The PDF is rendered from templates/documents/document.html by WeasyPrint.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kanban import clock, i18n, policy
from kanban.commerce import PERCENT_SCALE, QUANTITY_SCALE, Document, DocumentCounter, EmailAttachment
from kanban.db import insert_ignoring_conflict
from kanban.errors import NotFoundError, ValidationError
from kanban.events import Actor
from kanban.i18n import N_, _
from kanban.models import Invoice, Organization, Person
from kanban.paths import resource
from kanban.pricing import display
from kanban.services.deals import get_deal, timeline
from kanban.services.products import line_items
from kanban.services.requisites import COMPANY, TEMPLATES, deal_owner, find_requisite, flat_values, one_line

TYPES = {"invoice": (N_("Invoice"), ""), "quote": (N_("Quote"), "Q")}  # title, number prefix
DUE_DAYS = 30
_env = Environment(loader=FileSystemLoader(str(resource("templates"))), autoescape=select_autoescape(["html"]))
_env.filters["money"] = display
i18n.install(_env)


def next_number(session: Session, series: str, year: int) -> int:
    """The next number of a series in a year; the counter row stays locked until the caller's commit."""
    session.execute(insert_ignoring_conflict(session, DocumentCounter, {"series": series, "year": year, "last": 0},
                                             ["series", "year"]))
    return int(session.execute(update(DocumentCounter)
                               .where(DocumentCounter.series == series, DocumentCounter.year == year)
                               .values(last=DocumentCounter.last + 1).returning(DocumentCounter.last)).scalar_one())


def _party(session: Session, owner: tuple[str, int] | None, name: str) -> dict[str, Any]:
    """A seller or buyer as printed: name, VAT number, address and the template's identifiers."""
    row = find_requisite(session, *owner) if owner else None
    values = flat_values(row)
    ids = []
    if row is not None:
        spec = TEMPLATES[row.template]
        ids = [(spec[k].label, v) for k, v in row.fields.items() if k in spec and spec[k].number is not None]
        legal = row.addresses.get("legal") or row.addresses.get("business")
        values["address"] = one_line(legal) if legal else values.get("address", "")
    return {"name": values.get("company_name") or name, "vat_number": values.get("vat_number", ""),
            "address": values.get("address", ""), "ids": ids, "iban": values.get("iban", "")}


def buyer_of(session: Session, deal: Any) -> dict[str, Any]:
    """The deal's buyer as printed: its organization's requisites, else its person's."""
    org_owner, person_owner = deal_owner(session, deal, "organization"), deal_owner(session, deal, "person")
    if org_owner is not None:
        org = session.get(Organization, org_owner[1])
        return _party(session, org_owner, org.name if org else "")
    person = session.get(Person, person_owner[1]) if person_owner else None
    return _party(session, person_owner, person.name if person else "")


def _lines(session: Session, deal: Any) -> list[dict[str, Any]]:
    rows = line_items(session, deal.id)
    if not rows:  # a deal without products is billed as one line for its amount
        return [{"name": deal.title, "quantity": "1", "price": deal.amount, "discount": "0", "tax_rate": "0",
                 "net": deal.amount, "tax": 0, "gross": deal.amount}]
    return [{"name": r.name, "quantity": _num(r.quantity_milli, QUANTITY_SCALE), "price": r.price,
             "discount": _num(r.discount_bp, PERCENT_SCALE), "tax_rate": _num(r.tax_bp, PERCENT_SCALE),
             "net": r.net, "tax": r.tax, "gross": r.gross} for r in rows]


def _num(value: int, scale: int) -> str:
    return f"{(Decimal(value) / scale).normalize():f}"


def create_document(session: Session, deal_id: int, doc_type: str, *, actor: Actor, company_name: str,
                    run_id: int | None = None, at: datetime | None = None, author_id: int | None = None) -> Document:
    """Number, snapshot and render an invoice or quote of the deal, in the caller's transaction."""
    if doc_type not in TYPES:
        raise ValidationError(_("unknown document type"), {"type": _("one of %(types)s", types=', '.join(TYPES))})
    deal = get_deal(session, deal_id)
    policy.authorize(session, actor, "edit", deal)
    at = at or clock.now()
    lines = _lines(session, deal)
    pay = session.scalars(select(Invoice.url).where(Invoice.deal_id == deal.id, Invoice.status == "open",
                                                    Invoice.url.is_not(None)).order_by(Invoice.id.desc())).first()
    seq = next_number(session, doc_type, at.year)
    doc = Document(deal_id=deal.id, type=doc_type, year=at.year, seq=seq,
                   number=f"{TYPES[doc_type][1]}{at.year}-{seq:04d}", currency=deal.currency,
                   net=sum(x["net"] for x in lines), tax=sum(x["tax"] for x in lines),
                   gross=sum(x["gross"] for x in lines), issued_at=at, due_at=at + timedelta(days=DUE_DAYS),
                   pay_url=pay, run_id=run_id,
                   created_by_id=author_id if author_id is not None else actor.id if actor.type == "user" else None,
                   data={"seller": _party(session, COMPANY, company_name), "buyer": buyer_of(session, deal),
                         "lines": lines, "deal_title": deal.title})
    doc.pdf = render_pdf(doc)
    session.add(doc)
    session.flush()
    timeline(session, deal.id, "document", f"{TYPES[doc_type][0]} {doc.number} created "
             f"({display(doc.gross, doc.currency)})", actor, document_id=doc.id, number=doc.number)
    return doc


def render_html(doc: Document) -> str:
    """The document as HTML (what the PDF shows)."""
    return _env.get_template("documents/document.html").render(doc=doc, title=str(TYPES[doc.type][0]), **doc.data)


def render_pdf(doc: Document) -> bytes:
    """The document's PDF, rendered by WeasyPrint (imported here: it loads Pango, which takes a moment)."""
    try:
        from weasyprint import HTML
    except OSError as exc:  # the Python package installs anywhere; its system libraries may be missing
        raise ValidationError(_("PDF rendering is not available on this server"),
                              {"type": _("install Pango for WeasyPrint (Debian: apt-get install libpango-1.0-0 "
                                       "libpangoft2-1.0-0): %(exc)s", exc=exc)}) from exc
    return bytes(HTML(string=render_html(doc)).write_pdf())


def get_document(session: Session, document_id: int) -> Document:
    """A document or NotFoundError."""
    doc = session.get(Document, document_id)
    if doc is None:
        raise NotFoundError(_("document %(document_id)s not found", document_id=document_id))
    return doc


def readable_document(session: Session, user: Any, document_id: int) -> Document:
    """A document the user may see: its deal must be readable to them (NotFoundError otherwise, as for deals)."""
    doc = get_document(session, document_id)
    try:
        policy.require(session, user, "read", get_deal(session, doc.deal_id))
    except NotFoundError:
        raise NotFoundError(_("document %(document_id)s not found", document_id=document_id)) from None
    return doc


def deal_documents(session: Session, deal_id: int) -> list[Document]:
    """A deal's documents, newest first."""
    return list(session.scalars(select(Document).where(Document.deal_id == deal_id).order_by(Document.id.desc())))


def attach(session: Session, email_id: int, deal_id: int, refs: list[str]) -> list[int]:
    """Attach documents of the deal, given as id texts (rendered templates), to an outbox email."""
    ids: list[int] = []
    for ref in refs:
        doc = session.get(Document, int(ref.strip())) if ref.strip().isdigit() else None
        if doc is None or doc.deal_id != deal_id:
            raise ValidationError(_("attachment %(strip)s is not a document of this deal",
                                     strip=repr(ref.strip()[:40])),
                                  {"attachments": _("document ids of the deal")})
        ids.append(doc.id)
    session.add_all([EmailAttachment(email_id=email_id, document_id=d) for d in dict.fromkeys(ids)])
    session.flush()
    return ids


def attached_documents(session: Session, email_id: int) -> list[Document]:
    """The documents attached to an outbox email."""
    return list(session.scalars(select(Document).join(EmailAttachment, EmailAttachment.document_id == Document.id)
                                .where(EmailAttachment.email_id == email_id).order_by(Document.id)))


def attachments_of(session: Session, email_id: int) -> list[tuple[str, bytes]]:
    """(file name, PDF bytes) of the documents attached to an outbox email."""
    return [(pdf_name(d), d.pdf) for d in attached_documents(session, email_id)]


def pdf_name(doc: Document) -> str:
    """The PDF's file name: invoice-2026-0001.pdf."""
    return f"{doc.type}-{doc.number}.pdf"


def document_view(doc: Document, public_url: str) -> dict[str, Any]:
    """A document as JSON, with the deal page link (url) and the PDF link (pdf_url)."""
    base = public_url.rstrip("/")
    return {"id": doc.id, "deal_id": doc.deal_id, "type": doc.type, "number": doc.number,
            "url": f"{base}/deals/{doc.deal_id}#document-{doc.id}", "pdf_url": f"{base}/documents/{doc.id}.pdf",
            "total": doc.gross, "net": doc.net, "tax": doc.tax, "gross": doc.gross, "currency": doc.currency,
            "issued_at": doc.issued_at.isoformat(), "due_at": doc.due_at.isoformat() if doc.due_at else None,
            "pay_url": doc.pay_url, "buyer": doc.data.get("buyer"), "seller": doc.data.get("seller")}
