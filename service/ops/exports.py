"""Streaming exports of the audit trail and invoices, as CSV or JSON lines.

Rows are read in keyset-paged chunks and written as they come, so memory stays flat
however long the log is. JSON lines keep the API's shapes (amounts in minor units); CSV is
for spreadsheets: plain columns, amounts in major units beside their currency, an
invoice's items and an event's data as plain text, never embedded JSON.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, TextIO
from uuid import UUID

from aggregates.invoice import Invoice
from aggregates.invoice_figures import MONEY
from projections import aggregate_states, billing
from projections.audit import audit_item
from service.runtime.as_of import view_source
from service.runtime.bootstrap import Ledger

CHUNK = 5000
# ISO 4217 minor-unit exponents other than 2 (JPY has no minor unit, KWD has three).
_ZERO_DECIMALS = ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX",
                  "VND", "VUV", "XAF", "XOF", "XPF")
_THREE_DECIMALS = ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")
_EXPONENTS = {**dict.fromkeys(_ZERO_DECIMALS, 0), **dict.fromkeys(_THREE_DECIMALS, 3)}
MONEY_COLUMNS = (*MONEY, "amount_paid", "amount_refunded")
AUDIT_COLUMNS = ("position", "occurred_at", "partner_id", "entity_type", "entity_id",
                 "event_type", "actor_key_id", "actor_role", "actor_scope", "data")
INVOICE_COLUMNS = ("id", "number", "partner_id", "period_start", "period_end", "status",
                   *MONEY_COLUMNS, "currency", "issued_at", "items")


def audit_filter(*, partner_id: str | None, until_position: int | None,
                 after: int = 0) -> tuple[str, list[Any]]:
    """The `v_audit` condition and its parameters for an export: the partner's rows (all
    when None), up to `until_position` (all when None), after `after`."""
    where: list[str] = ["position > ?"]
    params: list[Any] = [after]
    if partner_id:
        where.append("partner_id = ?")
        params.append(partner_id)
    if until_position is not None:
        where.append("position <= ?")
        params.append(until_position)
    return " AND ".join(where), params


def audit_rows(ledger: Ledger, *, partner_id: str | None,
               until_position: int | None) -> Iterator[dict[str, Any]]:
    after = 0
    while True:
        where, params = audit_filter(partner_id=partner_id, until_position=until_position,
                                     after=after)
        with ledger.read_model.reading() as sql:
            rows = sql.all(f"SELECT * FROM v_audit WHERE {where} "
                           "ORDER BY position LIMIT ?", *params, CHUNK)
        if not rows:
            return
        for row in rows:
            # The trail's own item: the actor as issued, the data without secrets.
            item = audit_item(row)
            actor = item["actor"]
            yield {"position": item["position"], "occurred_at": item["occurred_at"],
                   "partner_id": row["partner_id"], "entity_type": item["entity_type"],
                   "entity_id": item["entity_id"], "event_type": item["event_type"],
                   "actor_key_id": actor["key_id"], "actor_role": actor["role"],
                   "actor_scope": actor["scope"], "data": item["data"]}
        after = rows[-1]["position"]


def _invoice_row(invoice: Invoice) -> dict[str, Any]:
    body = billing.invoice_json(invoice)
    return {"id": body["id"], "number": body["number"], "partner_id": str(invoice.partner_id),
            "period_start": body["period"]["start"], "period_end": body["period"]["end"],
            **{k: body[k] for k in INVOICE_COLUMNS if k in body and k not in ("id", "number")}}


def invoice_rows(ledger: Ledger, *, partner_id: str | None,
                 as_of: str | None) -> Iterator[dict[str, Any]]:
    with ledger.read_model.reading() as sql:
        partners = [partner_id] if partner_id else aggregate_states.partner_ids(sql)
    for pid in partners:
        if as_of is None:
            with ledger.read_model.reading() as sql:
                invoices = aggregate_states.invoices(sql, partner_id=pid)
        else:
            source = view_source(ledger, UUID(pid), as_of)
            invoices = source.read(aggregate_states.invoices, partner_id=pid)
        for invoice in invoices:
            yield _invoice_row(invoice)


class UnableToWrite(Exception):
    """The destination refused the export (disk full, pipe closed): how far it got."""


def major_units(minor: int, currency: str) -> str:
    """Integer minor units as a decimal in major units: 52548 USD → "525.48"."""
    exponent = _EXPONENTS.get(currency, 2)
    return f"{Decimal(minor).scaleb(-exponent):.{exponent}f}"


def _plain(value: Any, prefix: str = "") -> list[str]:
    """`key=value` pairs of nested data, dotted paths for nesting, text as it is."""
    if isinstance(value, dict):
        return [pair for key, inner in value.items()
                for pair in _plain(inner, f"{prefix}{key}.")]
    if isinstance(value, list):
        return [pair for index, inner in enumerate(value)
                for pair in _plain(inner, f"{prefix}{index}.")]
    text = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return [f"{prefix.removesuffix('.')}={text}"]


def csv_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row as CSV shows it: amounts in major units when the row names its currency,
    items as "name: line-days, amount" and other nested data as `key=value` pairs."""
    currency = row.get("currency")
    shown: dict[str, Any] = {}
    for key, value in row.items():
        if currency and key in MONEY_COLUMNS and isinstance(value, int):
            shown[key] = major_units(value, currency)
        elif key == "items" and isinstance(value, list) and currency:
            shown[key] = "; ".join(
                f"{item['name']}: {item['line_days']} line-days, "
                f"{major_units(item['amount'], currency)} {currency}" for item in value)
        elif isinstance(value, dict | list):
            shown[key] = "; ".join(_plain(value))
        else:
            shown[key] = value
    return shown


def write(rows: Iterator[dict[str, Any]], *, columns: tuple[str, ...], fmt: str,
          out: TextIO, progress: Callable[[int], None] | None = None) -> int:
    """Writes `rows`; `progress(count)` is told every 500 rows and at the end."""
    count = 0
    try:
        writer = csv.DictWriter(out, fieldnames=list(columns)) if fmt == "csv" else None
        if writer:
            writer.writeheader()
        for row in rows:
            if writer:
                writer.writerow(csv_row(row))
            else:
                out.write(json.dumps(row, separators=(",", ":")) + "\n")
            count += 1
            if progress and count % 500 == 0:
                progress(count)
        out.flush()
        if progress:
            progress(count)
    except OSError as error:
        raise UnableToWrite(f"cannot write the export after {count} rows: "
                            f"{error.strerror or error}") from None
    return count
