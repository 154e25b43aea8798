"""HTML for the payment group: the deal page's products-and-documents panel, PDF downloads, the products page."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban.commerce import Product
from kanban.errors import ValidationError
from kanban.events import Actor
from kanban.i18n import N_, _
from kanban.models import Deal
from kanban.pricing import display, exponent, major
from kanban.services import documents as docs
from kanban.services import products as svc
from kanban.services.deals import get_deal
from kanban.web.access import access
from kanban.web.deps import in_tx, require_admin, web_user
from kanban.web.templating import render, templates

LINE_INPUTS = ("product_id", "name", "quantity", "price", "discount", "tax_rate")


def panel(request: Request, session: Session, deal: Deal) -> str:
    """The deal page's panel: line items (editable), totals, documents with their PDFs."""
    lines = svc.line_items(session, deal.id)
    ctx = {"request": request, "deal": deal, "lines": [svc.line_view(x) for x in lines], "totals": svc.totals(lines),
           "documents": docs.deal_documents(session, deal.id), "major": major, "display": display,
           "buyer": docs.buyer_of(session, deal),
           "products": list(session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.name)))}
    return templates.env.get_template("commerce/deal_panel.html").render(ctx)


def minor_of(raw: str, currency: str, field: str) -> int | None:
    """A price typed in major units ("19.99") as minor units of the currency; blank is None."""
    if not raw:
        return None
    try:
        value = Decimal(raw.replace(",", "").replace(" ", ""))
    except InvalidOperation:
        raise ValidationError(_("%(field)s: enter a price like 19.99", field=field),
                              {field: _("enter a price like 19.99")}) from None
    scaled = value.scaleb(exponent(currency))
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        why = _("too many decimals for %(currency)s", currency=currency)
        raise ValidationError(_("%(field)s: %(why)s", field=field, why=why), {field: why})
    return int(scaled)


def items_of(form: FormData, currency: str) -> list[dict[str, Any]]:
    """The line items a submitted panel form asks for (rows left blank or marked for removal are dropped)."""
    columns = {name: form.getlist(f"line_{name}") for name in LINE_INPUTS}
    removed = set(form.getlist("line_remove"))
    items = []
    for i in range(len(columns["name"])):
        row = {name: str(values[i]).strip() if i < len(values) else "" for name, values in columns.items()}
        if str(i) in removed or not (row["name"] or row["product_id"]):
            continue
        items.append({"product_id": int(row["product_id"]) if row["product_id"].isdigit() else None,
                      "name": row["name"] or None, "quantity": row["quantity"] or "1",
                      "price": minor_of(row["price"], currency, f"items.{len(items)}.price"),
                      "discount": row["discount"] or None, "tax_rate": row["tax_rate"] or None})
    return items


@access("deal:edit")
async def save_lines(request: Request) -> Response:
    """POST /deals/{id}/products — replace the deal's line items from the panel form."""
    deal_id = request.path_params["deal_id"]
    form = await request.form()

    def save(session: Session) -> None:
        user = web_user(request, session)
        deal = get_deal(session, deal_id)
        svc.set_line_items(session, deal.id, items_of(form, deal.currency), actor=Actor.user(user.id))

    return await _act(request, save, deal_id, _("Products saved."))


@access("deal:edit")
async def new_document(request: Request) -> Response:
    """POST /deals/{id}/documents — create an invoice or a quote from the deal."""
    deal_id = request.path_params["deal_id"]
    form = await request.form()

    def save(session: Session) -> None:
        user = web_user(request, session)
        docs.create_document(session, deal_id, str(form.get("type", "")), actor=Actor.user(user.id),
                             company_name=request.app.state.runtime.settings.company_name)

    return await _act(request, save, deal_id, _("Document created."))


async def _act(request: Request, work: Any, deal_id: int, done: str) -> Response:
    """Run a panel action; success or the refusal's message is shown on the deal page."""
    try:
        await in_tx(request, work)
        request.session["flash"] = (done, "ok")
    except ValidationError as exc:
        details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items()) or exc.message
        request.session["flash"] = (_("Not saved: %(details)s", details=details), "error")
    return RedirectResponse(f"/deals/{deal_id}#deal-products", status_code=303)


@access("authenticated")
async def document_pdf(request: Request) -> Response:
    """GET /documents/{id}.pdf — download a document's PDF (users who may read its deal)."""
    def load(session: Session) -> Any:
        return docs.readable_document(session, web_user(request, session), request.path_params["document_id"])

    doc = await in_tx(request, load)
    return Response(doc.pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{docs.pdf_name(doc)}"'})


@access("admin")
async def products_page(request: Request) -> Response:
    """GET /admin/products — the catalogue, with a form to add a product."""
    flash = request.session.pop("flash", None)

    def load(session: Session) -> dict[str, Any]:
        require_admin(web_user(request, session))
        rows = list(session.scalars(select(Product).order_by(Product.name)))
        return {"products": [svc.product_view(p) for p in rows], "major": major,
                "message": flash[0] if flash else None, "message_kind": flash[1] if flash else "info"}

    return render(request, "commerce/products.html", await in_tx(request, load))


@access("admin")
async def product_action(request: Request) -> Response:
    """POST /admin/products (add) and /admin/products/{id}/delete."""
    form = await request.form()
    product_id = request.path_params.get("product_id")

    def act(session: Session) -> str:
        require_admin(web_user(request, session))
        if product_id is not None:
            svc.delete_product(session, product_id)
            return _("Product deleted.")
        currency = str(form.get("currency", "")).strip().upper()
        svc.save_product(session, {"name": str(form.get("name", "")), "sku": str(form.get("sku", "")).strip() or None,
                                   "currency": currency, "tax_rate": str(form.get("tax_rate", "")).strip() or None,
                                   "price": minor_of(str(form.get("price", "")).strip(), currency, "price")})
        return _("Product added.")

    try:
        request.session["flash"] = (await in_tx(request, act), "ok")
    except ValidationError as exc:
        request.session["flash"] = ("Not saved: " + "; ".join(f"{k}: {v}" for k, v in exc.fields.items()), "error")
    return RedirectResponse("/admin/products", status_code=303)


def install(runtime: Any) -> None:
    """Add the panel to the deal page and the products page to the admin's navigation."""
    runtime.deal_panels.append(panel)
    runtime.nav_links.append((N_("Products"), "/admin/products", True))


routes = [
    Route("/deals/{deal_id:int}/products", save_lines, methods=["POST"]),
    Route("/deals/{deal_id:int}/documents", new_document, methods=["POST"]),
    Route("/documents/{document_id:int}.pdf", document_pdf, methods=["GET"]),
    Route("/admin/products", products_page, methods=["GET"]),
    Route("/admin/products", product_action, methods=["POST"]),
    Route("/admin/products/{product_id:int}/delete", product_action, methods=["POST"]),
]
