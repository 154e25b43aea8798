"""create_payment_link: an invoice and a payment link for the deal amount, via the payment provider."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kanban.i18n import N_, _
from kanban.models import Deal
from kanban.outbound import OutboundError
from kanban.services.products import payment_lines
from robots.context import RunContext
from robots.errors import PermanentError
from robots.outside import robot_error, service
from robots.registry import KindSettings, RobotKind, register
from robots.values import format_amount


class CreatePaymentLinkSettings(KindSettings):
    amount: int | None = Field(default=None, gt=0, description=N_("Amount in minor units (default: the deal amount)"))
    description: str | None = Field(default=None, description=N_("What is paid for (default: the deal title)"))


@register
class CreatePaymentLink(RobotKind):
    """Create an invoice with a payment link; later robots can send `{{ robots.<key>.url }}`."""

    kind = "create_payment_link"
    title = N_("Create a payment link")
    category = "payments"
    Settings = CreatePaymentLinkSettings
    outputs = ("url", "invoice_id", "payment_link_id")
    templates = {"description": "text"}
    effect = "external"

    def run(self, ctx: RunContext, settings: CreatePaymentLinkSettings) -> dict[str, Any]:
        """One invoice per run (invoices.run_id is unique); the provider call is made with no transaction open and
        carries the run's idempotency key."""
        payments = service(ctx, "payments")
        deal: Deal = ctx.deal()
        amount = settings.amount if settings.amount is not None else deal.amount
        if amount <= 0:
            raise PermanentError(_("the deal amount is 0: set an amount on the deal or in the robot"))
        # The deal's products go with the link when they are what is paid (their gross total is the amount).
        lines = payment_lines(ctx.session, deal.id)
        if sum(gross for _, gross in lines) != amount:
            lines = []
        description = " ".join(ctx.render(settings.description).split()) if settings.description else deal.title
        if lines and not settings.description:
            description = f"{deal.title}: {', '.join(label for label, _ in lines)}"
        try:
            invoice = payments.create_payment_link(ctx.session, deal, amount, deal.currency, description[:500],
                                                   f"run-{ctx.run_id}", run_id=ctx.run_id, at=ctx.now,
                                                   outside=ctx.outside, lines=lines)
        except OutboundError as exc:
            raise robot_error(exc) from exc
        shown = f"{format_amount(amount, deal.currency)} {deal.currency}"
        ctx.timeline("payment", f"Payment link for {shown}: {invoice.url}", invoice_id=invoice.id, url=invoice.url)
        return {"url": invoice.url, "invoice_id": invoice.id, "payment_link_id": invoice.payment_link_id}
