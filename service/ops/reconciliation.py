"""Reconciliation: the gateway's books against the payments the ledger recorded.

Both sides are keyed by the payment attempt's id (the gateway's idempotency key) and
dated by the attempt's time, so a window cuts both the same way. A gateway charge that
succeeded and a recorded successful payment match when they name the same attempt, amount
and currency. What is left over is reported:

* `unmatched_charges`: money the gateway took that no recorded payment accounts for (an
  attempt still open — in flight, or waiting to be settled — shows here with its state);
* `unmatched_payments`: a payment recorded with no such charge at the gateway (payments
  recorded before attempts existed carry no attempt id and show here too).

The ledger is read before the gateway: a payment is recorded only after its charge
exists, so reading in that order never reports a recorded payment as unmatched because
its charge came after the read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aggregates.invoice import SUCCEEDED, Invoice
from aggregates.payments import GatewayCharge
from projections import aggregate_states
from projections.sql import Sql
from projections.times import api_time, from_stored
from service.runtime.bootstrap import Ledger


@dataclass(frozen=True)
class _Recorded:
    """A successful payment as the ledger recorded it."""

    attempt_id: str | None
    invoice: Invoice
    amount: int
    at: datetime


def _invoices(sql: Sql) -> list[Invoice]:
    rows = sql.all("SELECT state FROM v_states WHERE kind = 'Invoice' ORDER BY id")
    return [aggregate_states.decode(Invoice, row["state"]) for row in rows]


def _within(at: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or at >= since) and (until is None or at < until)


def _charge_json(charge: GatewayCharge, invoice: Invoice | None,
                 state: str | None) -> dict[str, Any]:
    return {"attempt_id": str(charge.attempt_id), "amount": charge.amount,
            "currency": charge.currency, "at": api_time(charge.at),
            "invoice_id": str(invoice.id) if invoice else None,
            "partner_id": str(invoice.partner_id) if invoice else None,
            # What the ledger holds for the attempt: open, failed, abandoned, or None
            # (no attempt of that id).
            "recorded": state}


def _payment_json(payment: _Recorded, gateway: GatewayCharge | None) -> dict[str, Any]:
    return {"attempt_id": payment.attempt_id, "invoice_id": str(payment.invoice.id),
            "partner_id": str(payment.invoice.partner_id), "amount": payment.amount,
            "currency": payment.invoice.currency, "at": api_time(payment.at),
            # What the gateway holds for the attempt: declined, a charge of another
            # amount, or None (never saw it).
            "gateway": None if gateway is None else
            {"outcome": gateway.outcome, "amount": gateway.amount,
             "currency": gateway.currency}}


def reconcile(ledger: Ledger, *, since: datetime | None = None,
              until: datetime | None = None) -> dict[str, Any]:
    """One partition: its simulated gateway's books against its recorded payments."""
    ledger.caught_up()
    with ledger.read_model.reading() as sql:
        invoices = _invoices(sql)
    charges = ledger.billing.gateway.charges(since=since, until=until)  # after the ledger
    attempts: dict[str, tuple[Invoice, dict[str, Any]]] = {}
    recorded: list[_Recorded] = []
    for invoice in invoices:
        for key, attempt in invoice.attempts.items():
            attempts[key] = (invoice, attempt)
        for payment in invoice.payments:
            if payment["status"] == SUCCEEDED and _within(payment["at"], since, until):
                attempt_id = payment.get("attempt_id")
                recorded.append(_Recorded(attempt_id=str(attempt_id) if attempt_id else None,
                                          invoice=invoice, amount=payment["amount"],
                                          at=payment["at"]))
    taken = {str(c.attempt_id): c for c in charges if c.succeeded}
    booked = {str(c.attempt_id): c for c in charges}
    paid = {p.attempt_id: p for p in recorded if p.attempt_id is not None}

    def matches(charge: GatewayCharge, payment: _Recorded) -> bool:
        return (charge.amount, charge.currency) == (payment.amount, payment.invoice.currency)

    unmatched_charges = []
    for key, charge in taken.items():
        paid_by = paid.get(key)
        if paid_by is not None and matches(charge, paid_by):
            continue
        charged, charged_attempt = attempts.get(key, (None, None))
        unmatched_charges.append(_charge_json(charge, charged,
                                              charged_attempt["status"] if charged_attempt
                                              else None))
    unmatched_payments = [
        _payment_json(payment, booked.get(payment.attempt_id or ""))
        for payment in recorded
        if payment.attempt_id is None or payment.attempt_id not in taken
        or not matches(taken[payment.attempt_id], payment)
    ]
    return {"gateway_charges": len(taken), "recorded_payments": len(recorded),
            "unmatched_charges": unmatched_charges, "unmatched_payments": unmatched_payments}


def reconcile_all(ledgers: Sequence[Ledger], *, since: datetime | None = None,
                  until: datetime | None = None) -> dict[str, Any]:
    """Every partition, summed; the unmatched lists oldest first."""
    total: dict[str, Any] = {"gateway_charges": 0, "recorded_payments": 0,
                             "unmatched_charges": [], "unmatched_payments": []}
    for ledger in ledgers:
        part = reconcile(ledger, since=since, until=until)
        for key in ("gateway_charges", "recorded_payments"):
            total[key] += part[key]
        for key in ("unmatched_charges", "unmatched_payments"):
            total[key].extend(part[key])
    for key in ("unmatched_charges", "unmatched_payments"):
        total[key].sort(key=lambda item: (from_stored(item["at"]), item["attempt_id"] or ""))
    return total
