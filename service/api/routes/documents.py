"""Invoice documents (billing readers): the invoice as a PDF, and one sub-account's share
of it as a PDF or CSV statement, each rendered from the invoice's public JSON answer."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response

from aggregates.errors import NotFound
from service.api.auth import Context, partner_access
from service.api.routes import billing
from service.documents.content import invoice_document, item_share, statement_document
from service.documents.pdf import render_pdf
from service.documents.statement_csv import render_csv

router = APIRouter(prefix="/v1/partners/{pid}", tags=["billing"])

UNASSIGNED = "unassigned"
PDF = "application/pdf"
CSV = "text/csv; charset=utf-8"
_PDF_ANSWER: dict[int | str, dict[str, Any]] = {200: {"content": {PDF: {
    "schema": {"type": "string", "format": "binary"}}}, "description": "The PDF."}}
_STATEMENT_ANSWER: dict[int | str, dict[str, Any]] = {200: {"content": {
    PDF: {"schema": {"type": "string", "format": "binary"}},
    "text/csv": {"schema": {"type": "string"}}}, "description": "The statement."}}


def _public(ctx: Context, iid: UUID) -> tuple[dict[str, Any], dict[str, Any]]:
    """The invoice exactly as `GET /invoices/{iid}` answers it, and the partner billed."""
    invoice = billing.get_invoice(iid, None, ctx)
    partner = ctx.ledger.app.partner(ctx.partner_id)
    return invoice, {"id": str(partner.id), "name": partner.name}


def _filename(number: str, suffix: str) -> str:
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in number)
    return f'inline; filename="{safe}{suffix}"'


@router.get("/invoices/{iid}/pdf", response_class=Response, response_model=None,
            responses=_PDF_ANSWER)
def invoice_pdf(iid: UUID, ctx: Context = partner_access("billing.read")) -> Response:
    """The invoice as a PDF: numbers, parties, period, one line per sub-account,
    discounts, tax, credit, credit notes, amount due, paid and refunded."""
    invoice, partner = _public(ctx, iid)
    return Response(render_pdf(invoice_document(invoice, partner)), media_type=PDF,
                    headers={"Content-Disposition": _filename(invoice["number"], ".pdf")})


@router.get("/invoices/{iid}/statement", response_class=Response, response_model=None,
            responses=_STATEMENT_ANSWER)
def invoice_statement(
        iid: UUID,
        sub_account_id: str = Query(description="The sub-account's id, or `unassigned` for "
                                                "the Available pool's share."),
        format: Literal["pdf", "csv"] = "pdf",
        ctx: Context = partner_access("billing.read")) -> Response:
    """One sub-account's share of the invoice (its charge and, on a taxed invoice, the
    discounts taken from it and its tax), to forward to that client."""
    bucket: str | None = None
    if sub_account_id != UNASSIGNED:
        try:
            bucket = str(UUID(sub_account_id))
        except ValueError:
            raise NotFound(f"invoice {iid} has no share for {sub_account_id!r}") from None
    invoice, partner = _public(ctx, iid)
    share = item_share(invoice, bucket)
    if share is None:
        raise NotFound(f"invoice {invoice['number']} has no item for {sub_account_id}")
    name = f"{invoice['number']}-{share.index}"
    if format == "csv":
        return Response(render_csv(invoice, share), media_type=CSV,
                        headers={"Content-Disposition": _filename(name, ".csv")})
    return Response(render_pdf(statement_document(invoice, partner, share)), media_type=PDF,
                    headers={"Content-Disposition": _filename(name, ".pdf")})
