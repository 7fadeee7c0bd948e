"""Streaming exports of the audit trail and invoices, as CSV or JSON lines.

Rows are read in keyset-paged chunks and written as they come, so memory stays flat
however long the log is.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any, TextIO
from uuid import UUID

from aggregates.invoice import Invoice
from projections import aggregate_states, billing
from projections.audit import audit_item
from service.as_of import view_source
from service.bootstrap import Ledger

CHUNK = 5000
AUDIT_COLUMNS = ("position", "occurred_at", "partner_id", "entity_type", "entity_id",
                 "event_type", "actor_key_id", "actor_role", "actor_scope", "data")
INVOICE_COLUMNS = ("id", "number", "partner_id", "period_start", "period_end", "status",
                   "subtotal", "discount", "credit_applied", "total", "amount_due",
                   "amount_paid", "amount_refunded", "currency", "issued_at", "items")


def audit_rows(ledger: Ledger, *, partner_id: str | None,
               until_position: int | None) -> Iterator[dict[str, Any]]:
    after = 0
    while True:
        where: list[str] = ["position > ?"]
        params: list[Any] = [after]
        if partner_id:
            where.append("partner_id = ?")
            params.append(partner_id)
        if until_position is not None:
            where.append("position <= ?")
            params.append(until_position)
        with ledger.read_model.reading() as sql:
            rows = sql.all(f"SELECT * FROM v_audit WHERE {' AND '.join(where)} "
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


def write(rows: Iterator[dict[str, Any]], *, columns: tuple[str, ...], fmt: str,
          out: TextIO) -> int:
    count = 0
    try:
        writer = csv.DictWriter(out, fieldnames=list(columns)) if fmt == "csv" else None
        if writer:
            writer.writeheader()
        for row in rows:
            if writer:
                writer.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v
                                 for k, v in row.items()})
            else:
                out.write(json.dumps(row, separators=(",", ":")) + "\n")
            count += 1
        out.flush()
    except OSError as error:
        raise UnableToWrite(f"cannot write the export after {count} rows: "
                            f"{error.strerror or error}") from None
    return count
