"""The simulated gateway's books: its own table, `gateway_charges`, one row per attempt id.

A real gateway keeps its own record of what it charged, apart from ours; the simulated
one keeps it in a table of the partition's database that nothing of the ledger writes
(not the event store, not the views, not a rebuild). Each row is committed on its own,
outside any ledger transaction, as a gateway's charge would be. The attempt id is the
primary key: two calls with one id book one charge, whichever commits first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from aggregates.payments import SUCCEEDED, GatewayCharge
from projections.read_model import ReadModel
from projections.times import from_stored, stored

DDL = (
    "CREATE TABLE IF NOT EXISTS gateway_charges (attempt_id TEXT PRIMARY KEY, "
    "amount BIGINT NOT NULL, currency TEXT NOT NULL, outcome TEXT NOT NULL, reason TEXT, "
    "at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS gateway_charges_by_at ON gateway_charges (at)",
)
_COLUMNS = "attempt_id, amount, currency, outcome, reason, at"


def _charge(row: dict[str, Any]) -> GatewayCharge:
    return GatewayCharge(attempt_id=UUID(row["attempt_id"]), amount=int(row["amount"]),
                         currency=row["currency"], succeeded=row["outcome"] == SUCCEEDED,
                         reason=row["reason"], at=from_stored(row["at"]))


class SqlChargeBook:
    """A `ChargeBook` in the database `read_model` opens (its connections, its own table).
    Create it while holding the schema lock: it creates its table."""

    def __init__(self, read_model: ReadModel) -> None:
        self.read_model = read_model
        with read_model.writing() as sql:
            for statement in DDL:
                sql.run(statement)

    def find(self, attempt_id: UUID) -> GatewayCharge | None:
        with self.read_model.reading() as sql:
            row = sql.one(f"SELECT {_COLUMNS} FROM gateway_charges WHERE attempt_id = ?",
                          str(attempt_id))
        return _charge(row) if row is not None else None

    def record(self, charge: GatewayCharge) -> GatewayCharge:
        with self.read_model.writing() as sql:
            sql.run(f"INSERT INTO gateway_charges ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (attempt_id) DO NOTHING",
                    str(charge.attempt_id), charge.amount, charge.currency, charge.outcome,
                    charge.reason, stored(charge.at))
            row = sql.one(f"SELECT {_COLUMNS} FROM gateway_charges WHERE attempt_id = ?",
                          str(charge.attempt_id))
        assert row is not None  # inserted, or there already
        return _charge(row)

    def between(self, since: datetime | None, until: datetime | None) -> list[GatewayCharge]:
        where, params = [], []
        if since is not None:
            where.append("at >= ?")
            params.append(stored(since))
        if until is not None:
            where.append("at < ?")
            params.append(stored(until))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self.read_model.reading() as sql:
            rows = sql.all(f"SELECT {_COLUMNS} FROM gateway_charges{clause} "
                           "ORDER BY at, attempt_id", *params)
        return [_charge(row) for row in rows]
