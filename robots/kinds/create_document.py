"""create_document: an invoice or quote from the deal (products, amount and requisites filled in), as a PDF."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from kanban.i18n import N_
from kanban.services.documents import create_document, document_view
from robots.context import RunContext
from robots.errors import core_refusals
from robots.registry import KindSettings, RobotKind, register


class CreateDocumentSettings(KindSettings):
    type: Literal["invoice", "quote"] = Field(default="invoice", description=N_("Invoice or quote"))
    responsible: int | None = Field(default=None, description=N_("Author of the document (default: the responsible)"))


@register
class CreateDocument(RobotKind):
    """Bitrix24's "Create using source": later robots can send `{{ robots.<key>.pdf_url }}` or attach the id."""

    kind = "create_document"
    title = N_("Create an invoice or quote")
    category = "payments"
    Settings = CreateDocumentSettings
    outputs = ("document_id", "number", "url", "pdf_url")

    def run(self, ctx: RunContext, settings: CreateDocumentSettings) -> dict[str, Any]:
        """One numbered document per run (documents.run_id is unique), written in the run's transaction."""
        author = ctx.user(settings.responsible)
        with core_refusals():
            doc = create_document(ctx.session, ctx.deal_id, settings.type, actor=ctx.actor,
                                  company_name=ctx.settings.company_name, run_id=ctx.run_id, at=ctx.now,
                                  author_id=author.id if author.role != "system" else None)
        view = document_view(doc, ctx.settings.public_url)
        return {"document_id": doc.id, "number": doc.number, "url": view["url"], "pdf_url": view["pdf_url"]}
