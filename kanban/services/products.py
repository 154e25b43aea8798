"""Products catalogue and deal line items; the deal amount follows the items' gross total."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kanban import policy
from kanban.commerce import PERCENT_SCALE, QUANTITY_SCALE, LineItem, Product
from kanban.errors import NotFoundError, ValidationError
from kanban.events import Actor
from kanban.i18n import _, ngettext
from kanban.pricing import check_currency, decimal_of, line_totals
from kanban.services.deals import get_deal, timeline, update_deal

MAX_PRICE = 10**13
MAX_LINES = 200
PRODUCT_FIELDS = ("name", "sku", "price", "currency", "tax_rate", "active")


def percent(value: object, field: str) -> int:
    """A percentage (0-100, two decimals) as hundredths of a percent."""
    return int(decimal_of(value, field, places=2, low=Decimal(0), high=Decimal(100)) * PERCENT_SCALE)


def _price(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PRICE:
        raise ValidationError(_("%(field)s is a non-negative integer in minor units", field=field),
                              {field: _("minor units, ≥ 0")})
    return value


def _name(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(_("%(field)s is required", field=field), {field: _("is required")})
    if len(value.strip()) > limit:
        raise ValidationError(_("%(field)s is at most %(limit)s characters", field=field, limit=limit),
                              {field: _("at most %(limit)s characters", limit=limit)})
    return value.strip()


def get_product(session: Session, product_id: int) -> Product:
    """A product or NotFoundError."""
    product = session.get(Product, product_id)
    if product is None:
        raise NotFoundError(_("product %(product_id)s not found", product_id=product_id))
    return product


def save_product(session: Session, data: dict[str, Any], product: Product | None = None) -> Product:
    """Create a product, or change the given one's fields; SKUs are unique (409 otherwise)."""
    unknown = set(data) - set(PRODUCT_FIELDS)
    if unknown:
        raise ValidationError(_("unknown fields"), {k: "unknown field" for k in sorted(unknown)})
    row = product or Product(tax_bp=0, active=True)
    if product is None or "name" in data:
        row.name = _name(data.get("name"), "name", 200)
    if product is None or "price" in data:
        row.price = _price(data.get("price"), "price")
    if product is None or "currency" in data:
        row.currency = check_currency(data.get("currency"))
    if data.get("tax_rate") is not None:
        row.tax_bp = percent(data["tax_rate"], "tax_rate")
    if "sku" in data:
        row.sku = _name(data["sku"], "sku", 64) if data["sku"] is not None else None
        taken = session.scalar(select(Product.id).where(Product.sku == row.sku, Product.id != (row.id or 0)))
        if row.sku is not None and taken is not None:
            raise ValidationError(_("SKU already used"), {"sku": _("already used by product %(taken)s", taken=taken)})
    if "active" in data:
        row.active = bool(data["active"])
    session.add(row)
    session.flush()
    return row


def delete_product(session: Session, product_id: int) -> None:
    """Remove a product; lines that used it keep their name and price (product_id becomes null)."""
    session.delete(get_product(session, product_id))
    session.flush()


def line_items(session: Session, deal_id: int) -> list[LineItem]:
    """A deal's lines in order."""
    return list(session.scalars(select(LineItem).where(LineItem.deal_id == deal_id)
                                .order_by(LineItem.position, LineItem.id)))


def totals(lines: list[LineItem]) -> dict[str, int]:
    """Sums of the lines' rounded totals (kanban.pricing's rule)."""
    return {"net": sum(x.net for x in lines), "tax": sum(x.tax for x in lines), "gross": sum(x.gross for x in lines)}


def _line(session: Session, index: int, item: Any, currency: str) -> LineItem:
    """One validated line; a product supplies name, price and tax unless the item overrides them."""
    where = f"items.{index}"
    if not isinstance(item, dict):
        raise ValidationError(_("each item is an object"), {where: _("must be an object")})
    product = None
    if item.get("product_id") is not None:
        product = session.get(Product, item["product_id"]) if isinstance(item["product_id"], int) else None
        if product is None:
            raise ValidationError(_("unknown product"), {f"{where}.product_id": _("no such product")})
        if item.get("price") is None and product.currency != currency:
            raise ValidationError(_("product priced in another currency"),
                                  {f"{where}.price": _("the product is priced in %(currency)s, the deal in "
                                                     "%(currency2)s: give a price", currency=product.currency,
                                                     currency2=currency)})
    name = _name(item.get("name") or (product.name if product else None), f"{where}.name", 300)
    quantity = decimal_of(item.get("quantity", 1), f"{where}.quantity", places=3, low=Decimal("0.001"),
                          high=Decimal(10**9))
    price = _price(item["price"] if item.get("price") is not None else (product.price if product else None),
                   f"{where}.price")
    discount = percent(item.get("discount") or 0, f"{where}.discount")
    tax = percent(item["tax_rate"], f"{where}.tax_rate") if item.get("tax_rate") is not None else (
        product.tax_bp if product else 0)
    sums = line_totals(quantity, price, Decimal(discount) / PERCENT_SCALE, Decimal(tax) / PERCENT_SCALE)
    return LineItem(position=index, product_id=product.id if product else None, name=name,
                    quantity_milli=int(quantity * QUANTITY_SCALE), price=price, discount_bp=discount, tax_bp=tax,
                    net=sums.net, tax=sums.tax, gross=sums.gross)


def set_line_items(session: Session, deal_id: int, items: Any, *, actor: Actor) -> list[LineItem]:
    """Replace a deal's lines; with lines, the deal amount becomes their gross total (through update_deal, so
    stage totals, events and field_changed triggers follow)."""
    deal = get_deal(session, deal_id, for_update=True)
    policy.authorize(session, actor, "edit", deal)
    if not isinstance(items, list) or len(items) > MAX_LINES:
        raise ValidationError(_("items is a list"), {"items": _("a list of at most %(max_lines)s lines",
                                                                 max_lines=MAX_LINES)})
    lines = [_line(session, i, item, deal.currency) for i, item in enumerate(items)]
    session.execute(delete(LineItem).where(LineItem.deal_id == deal.id))
    for line in lines:
        line.deal_id = deal.id
    session.add_all(lines)
    session.flush()
    text = ngettext("Products: %(num)d line", "Products: %(num)d lines", len(lines))
    timeline(session, deal.id, "products", text, actor, **totals(lines))
    if lines and deal.amount != totals(lines)["gross"]:
        update_deal(session, deal.id, {"amount": totals(lines)["gross"]}, actor=actor)
    return lines


def payment_lines(session: Session, deal_id: int) -> list[tuple[str, int]]:
    """The deal's lines for a payment provider: ("Widget × 3", gross in minor units)."""
    return [(f"{x.name} × {Decimal(x.quantity_milli) / QUANTITY_SCALE:f}", x.gross)
            for x in line_items(session, deal_id)]


def line_view(line: LineItem) -> dict[str, Any]:
    """A line as JSON (quantity and percentages as numbers)."""
    return {"id": line.id, "product_id": line.product_id, "name": line.name,
            "quantity": float(Decimal(line.quantity_milli) / QUANTITY_SCALE), "price": line.price,
            "discount": line.discount_bp / PERCENT_SCALE, "tax_rate": line.tax_bp / PERCENT_SCALE,
            "net": line.net, "tax": line.tax, "gross": line.gross}


def product_view(product: Product) -> dict[str, Any]:
    """A product as JSON."""
    return {"id": product.id, "name": product.name, "sku": product.sku, "price": product.price,
            "currency": product.currency, "tax_rate": product.tax_bp / PERCENT_SCALE, "active": product.active}
