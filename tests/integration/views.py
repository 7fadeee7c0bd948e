"""Helpers to compare the read model's tables, row for row."""

from __future__ import annotations

from typing import Any

from service.runtime.bootstrap import Ledger


def _order(row: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((k, str(v)) for k, v in row.items())


def snapshot(ledger: Ledger) -> dict[str, list[dict[str, Any]]]:
    """Every view table's rows, in a stable order."""
    tables: dict[str, list[dict[str, Any]]] = {}
    with ledger.read_model.reading() as sql:
        for view in ledger.read_model.views.applied:
            for table in view.TABLES:
                rows = sql.all(f"SELECT * FROM {table}")
                tables[table] = sorted(rows, key=_order)
    return tables


def event_count(ledger: Ledger) -> int:
    return ledger.app.recorder.max_notification_id() or 0
