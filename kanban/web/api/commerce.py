"""API: products catalogue, a deal's line items, invoices and quotes (PDF)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.responses import Response
from starlette.routing import Route

from kanban.commerce import Product
from kanban.events import Actor
from kanban.services import documents as docs
from kanban.services import products as svc
from kanban.services.deals import get_deal
from kanban.web.api.base import PAGE_PARAMS, Call, endpoint, page, paginate
from kanban.web.api.schema import BIGINT, BOOL, INT, STR, TIME, arr, component, nullable, obj, page_of

NUM = {"type": ["number", "string"]}
PRODUCT = component("Product", obj({
    "id": INT, "name": STR, "sku": nullable(STR), "price": BIGINT, "currency": STR, "tax_rate": {"type": "number"},
    "active": BOOL}, ["id", "name", "price", "currency", "tax_rate"]))
PRODUCT_PROPS = {"name": STR, "sku": nullable(STR), "price": BIGINT, "currency": STR, "tax_rate": nullable(NUM),
                 "active": BOOL}
LINE_IN = obj({"product_id": nullable(INT), "name": nullable(STR), "quantity": NUM, "price": nullable(BIGINT),
               "discount": nullable(NUM), "tax_rate": nullable(NUM)})
LINES = component("DealProducts", obj({
    "items": arr(obj({"id": INT, "product_id": nullable(INT), "name": STR, "quantity": {"type": "number"},
                      "price": BIGINT, "discount": {"type": "number"}, "tax_rate": {"type": "number"},
                      "net": BIGINT, "tax": BIGINT, "gross": BIGINT})),
    "net": BIGINT, "tax": BIGINT, "gross": BIGINT, "currency": STR, "deal_amount": BIGINT,
}, ["items", "net", "tax", "gross", "currency"]))
DOCUMENT = component("Document", obj({
    "id": INT, "deal_id": INT, "type": STR, "number": STR, "url": STR, "pdf_url": STR, "total": BIGINT,
    "net": BIGINT, "tax": BIGINT, "gross": BIGINT, "currency": STR, "issued_at": TIME, "due_at": nullable(TIME),
    "pay_url": nullable(STR), "buyer": {}, "seller": {},
}, ["id", "type", "number", "url", "pdf_url", "total", "currency", "issued_at"]))


@endpoint("Products of the catalogue", response=page_of(PRODUCT), params=PAGE_PARAMS, access="authenticated")
def list_products(call: Call) -> dict[str, Any]:
    """Oldest first."""
    rows, nxt = paginate(call, select(Product), Product.id)
    return page([svc.product_view(p) for p in rows], nxt)


@endpoint("Add a product (admin)", status=201, admin=True, response=PRODUCT,
          body=obj(PRODUCT_PROPS, ["name", "price", "currency"]))
def create_product(call: Call) -> dict[str, Any]:
    """A new catalogue entry; price in minor units of its currency, tax_rate in percent."""
    return svc.product_view(svc.save_product(call.session, call.body()))


@endpoint("A product", response=PRODUCT, access="authenticated")
def get_product(call: Call) -> dict[str, Any]:
    """One product."""
    return svc.product_view(svc.get_product(call.session, call.path_int("product_id")))


@endpoint("Change a product (admin)", admin=True, response=PRODUCT, body=obj(PRODUCT_PROPS))
def update_product(call: Call) -> dict[str, Any]:
    """The changed product; deals keep the lines they have."""
    product = svc.get_product(call.session, call.path_int("product_id"))
    return svc.product_view(svc.save_product(call.session, call.body(), product))


@endpoint("Delete a product (admin)", status=204, admin=True)
def delete_product(call: Call) -> None:
    """Lines that used it keep their name and price."""
    svc.delete_product(call.session, call.path_int("product_id"))


def _lines_view(call: Call, deal_id: int) -> dict[str, Any]:
    deal = get_deal(call.session, deal_id)
    lines = svc.line_items(call.session, deal.id)
    return {"items": [svc.line_view(x) for x in lines], **svc.totals(lines), "currency": deal.currency,
            "deal_amount": deal.amount}


@endpoint("A deal's line items and totals (net, tax, gross in minor units)", access="deal:read", response=LINES)
def get_lines(call: Call) -> dict[str, Any]:
    """Lines in order with their rounded totals."""
    return _lines_view(call, call.path_int("deal_id"))


@endpoint("Replace a deal's line items; the deal amount becomes their gross total", access="deal:edit", response=LINES,
          body=obj({"items": arr(LINE_IN)}, ["items"]))
def put_lines(call: Call) -> dict[str, Any]:
    """The new lines and totals."""
    deal_id = call.path_int("deal_id")
    svc.set_line_items(call.session, deal_id, call.body()["items"], actor=Actor.user(call.user.id))
    return _lines_view(call, deal_id)


@endpoint("Create an invoice or a quote from a deal (numbered per year without gaps)", access="deal:edit", status=201,
          response=DOCUMENT, body=obj({"type": STR}, ["type"]))
def create_document(call: Call) -> dict[str, Any]:
    """The new document with its links."""
    settings = call.request.app.state.runtime.settings
    doc = docs.create_document(call.session, call.path_int("deal_id"), call.body()["type"],
                               actor=Actor.user(call.user.id), company_name=settings.company_name)
    return docs.document_view(doc, settings.public_url)


@endpoint("A deal's documents, newest first", access="deal:read", response=obj({"items": arr(DOCUMENT)}, ["items"]))
def list_documents(call: Call) -> dict[str, Any]:
    """Every invoice and quote of the deal."""
    deal = get_deal(call.session, call.path_int("deal_id"))
    public = call.request.app.state.runtime.settings.public_url
    return {"items": [docs.document_view(d, public) for d in docs.deal_documents(call.session, deal.id)]}


@endpoint("A document", response=DOCUMENT, access="authenticated")
def get_document(call: Call) -> dict[str, Any]:
    """One invoice or quote."""
    doc = docs.readable_document(call.session, call.user, call.path_int("document_id"))
    return docs.document_view(doc, call.request.app.state.runtime.settings.public_url)


@endpoint("A document's PDF (application/pdf)", access="authenticated")
def get_document_pdf(call: Call) -> Response:
    """The stored PDF bytes."""
    return pdf_response(docs.readable_document(call.session, call.user, call.path_int("document_id")))


def pdf_response(doc: Any) -> Response:
    """The stored PDF as a download named after the document."""
    return Response(doc.pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{docs.pdf_name(doc)}"'})


routes = [
    Route("/api/v1/products", list_products, methods=["GET"]),
    Route("/api/v1/products", create_product, methods=["POST"]),
    Route("/api/v1/products/{product_id:int}", get_product, methods=["GET"]),
    Route("/api/v1/products/{product_id:int}", update_product, methods=["PATCH"]),
    Route("/api/v1/products/{product_id:int}", delete_product, methods=["DELETE"]),
    Route("/api/v1/deals/{deal_id:int}/products", get_lines, methods=["GET"]),
    Route("/api/v1/deals/{deal_id:int}/products", put_lines, methods=["PUT"]),
    Route("/api/v1/deals/{deal_id:int}/documents", create_document, methods=["POST"]),
    Route("/api/v1/deals/{deal_id:int}/documents", list_documents, methods=["GET"]),
    Route("/api/v1/documents/{document_id:int}.pdf", get_document_pdf, methods=["GET"]),
    Route("/api/v1/documents/{document_id:int}", get_document, methods=["GET"]),
]
