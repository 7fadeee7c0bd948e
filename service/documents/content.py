"""What an invoice document says, worked out from the invoice's public JSON alone (the
answer of `GET /invoices/{iid}`): the PDF and the statement both lay it out, so every
figure they print is one the JSON carries. Keys added to that JSON later (`credit_notes`)
are shown when present."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from service.documents.money import money

ISSUER = "Partner Ledger"


@dataclass
class Document:
    """A titled page: facts (label, value), a table, totals (label, amount) and notes."""

    title: str
    facts: list[tuple[str, str]]
    columns: list[str]
    rows: list[list[str]]
    totals: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _day(text: str | None) -> str:
    return "" if not text else text[:10]


def _period(invoice: Mapping[str, Any]) -> str:
    # The period is [start, end): the last day billed is the day before the end.
    return f"{_day(invoice['period']['start'])} to {_day(invoice['period']['end'])} (end excluded)"


def _parties(invoice: Mapping[str, Any], partner: Mapping[str, Any]) -> list[tuple[str, str]]:
    tax = invoice.get("tax")
    facts = [("Issued by", ISSUER), ("Billed to", str(partner["name"])),
             ("Partner id", str(partner["id"]))]
    if tax and tax.get("tax_id"):
        facts.append(("Tax id", str(tax["tax_id"])))
    return facts


def _tax_label(tax: Mapping[str, Any]) -> str:
    return f"{tax['name']} {tax['rate']}%" + (" (reverse charge)" if tax["reverse_charge"]
                                              else "")


def invoice_document(invoice: Mapping[str, Any], partner: Mapping[str, Any]) -> Document:
    """The invoice: numbers, parties, period, one line per sub-account, discounts, tax,
    credit, credit notes, amount due, paid and refunded."""
    cur = invoice["currency"]
    tax = invoice.get("tax")
    tax_lines = tax["lines"] if tax else [None] * len(invoice["items"])
    columns = ["Item", "Line-days", "Amount"] + (["Taxable", "Tax"] if tax else [])
    rows = []
    for item, line in zip(invoice["items"], tax_lines, strict=True):
        row = [str(item["name"]), str(item["line_days"]), money(item["amount"], cur)]
        if line is not None:
            row += [money(line["taxable_amount"], cur), money(line["amount"], cur)]
        rows.append(row)
    totals = [("Subtotal", money(invoice["subtotal"], cur))]
    notes = []
    for line in invoice.get("discounts", []):
        totals.append((f"Discount {line['discount_id'][:8]}", money(-line["amount"], cur)))
        if line.get("note"):
            notes.append(f"Discount {line['discount_id'][:8]}: {line['note']}")
    if tax:
        totals.append((_tax_label(tax), money(tax["amount"], cur)))
        if tax.get("note"):
            notes.append(str(tax["note"]))
    totals += [("Total", money(invoice["total"], cur)),
               ("Credit applied", money(-invoice["credit_applied"], cur))]
    for note in invoice.get("credit_notes") or []:
        totals.append((f"Credit note {note.get('number', '')}".rstrip(),
                       money(-int(note["amount"]), cur)))
        if note.get("reason"):
            notes.append(f"Credit note {note.get('number', '')}: {note['reason']}")
    totals += [("Amount due", money(invoice["amount_due"], cur)),
               ("Paid", money(invoice["amount_paid"], cur)),
               ("Refunded", money(invoice["amount_refunded"], cur))]
    facts = [("Invoice number", str(invoice["number"])), ("Invoice id", str(invoice["id"])),
             ("Issued", _day(invoice.get("issued_at"))), ("Period", _period(invoice)),
             ("Status", str(invoice["status"])), ("Currency", cur),
             *_parties(invoice, partner)]
    return Document(title=f"Invoice {invoice['number']}", facts=facts, columns=columns,
                    rows=rows, totals=totals, notes=notes)


@dataclass(frozen=True)
class Share:
    """One item's share of the invoice: its charge, the discounts taken from it and its
    tax (both known item by item once the invoice is taxed), and what it comes to."""

    index: int
    item: Mapping[str, Any]
    amount: int
    discount: int | None
    tax: int | None
    total: int | None


def item_share(invoice: Mapping[str, Any], sub_account_id: str | None) -> Share | None:
    """The share of the item for `sub_account_id` (None: Unassigned), or None when the
    invoice has no such item. Without tax lines the discounts are not split by item (the
    invoice does not record the split), so only the charge is known."""
    for index, item in enumerate(invoice["items"]):
        if item["sub_account_id"] == sub_account_id:
            tax = invoice.get("tax")
            if not tax:
                return Share(index, item, item["amount"], None, None, None)
            line = tax["lines"][index]
            discount = item["amount"] - line["taxable_amount"]
            return Share(index, item, item["amount"], discount, line["amount"],
                         line["taxable_amount"] + line["amount"])
    return None


def statement_document(invoice: Mapping[str, Any], partner: Mapping[str, Any],
                       share: Share) -> Document:
    """One sub-account's share of an invoice, to forward to that client."""
    cur = invoice["currency"]
    tax = invoice.get("tax")
    totals = [("Charge", money(share.amount, cur))]
    if share.discount is not None and share.tax is not None and share.total is not None \
            and tax:
        totals += [("Discounts", money(-share.discount, cur)),
                   (_tax_label(tax), money(share.tax, cur)), ("Share", money(share.total, cur))]
    notes = [] if share.discount is not None else [
        "Discounts and credit apply to the invoice as a whole; this statement shows the "
        "sub-account's charge."]
    if tax and tax.get("note"):
        notes.append(str(tax["note"]))
    return Document(
        title=f"Statement {invoice['number']} - {share.item['name']}",
        facts=[("Invoice number", str(invoice["number"])), ("Period", _period(invoice)),
               ("Sub-account", str(share.item["name"])), ("Currency", cur),
               *_parties(invoice, partner)],
        columns=["Item", "Line-days", "Amount"],
        rows=[[str(share.item["name"]), str(share.item["line_days"]),
               money(share.amount, cur)]],
        totals=totals, notes=notes)
