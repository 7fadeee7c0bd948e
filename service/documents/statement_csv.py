"""One sub-account's share of an invoice as CSV: one header row, one row per item shown,
amounts in the currency's major unit at its ISO 4217 exponent ("50.32", JPY "5032")."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from service.documents.content import Share
from service.documents.money import plain

COLUMNS = ("invoice_number", "period_start", "period_end", "currency", "sub_account_id",
           "name", "line_days", "amount", "discount", "tax_name", "tax_rate", "tax", "total")


def _cell(value: Any) -> str:
    # A cell a spreadsheet would run as a formula is quoted with a leading apostrophe.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render_csv(invoice: Mapping[str, Any], share: Share) -> str:
    cur = invoice["currency"]
    tax = invoice.get("tax")

    def amount(minor: int | None) -> str:
        return "" if minor is None else plain(minor, cur)

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerow([_cell(v) for v in (
        invoice["number"], invoice["period"]["start"], invoice["period"]["end"], cur,
        share.item["sub_account_id"] or "", share.item["name"], share.item["line_days"],
        amount(share.amount), amount(share.discount), tax["name"] if tax else "",
        tax["rate"] if tax else "", amount(share.tax), amount(share.total))])
    return out.getvalue()
