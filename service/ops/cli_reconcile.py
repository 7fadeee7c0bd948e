"""`ledger reconcile`: the gateway's charges against the recorded payments."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import typer
from rich.console import Console

from service.ops.reconciliation import reconcile_all
from service.runtime.partitions import build_cluster

console = Console(stderr=True)


def _moment(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        console.print(f"[red]{option} must be an ISO-8601 time, got {text!r}[/red]")
        sys.exit(2)
    # As in the API: a time without an offset is UTC.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def reconcile_command(
    since: str | None = typer.Option(None, help="Attempts made at or after (ISO-8601)."),
    until: str | None = typer.Option(None, help="Attempts made before (ISO-8601)."),
) -> None:
    """Compare the gateway's charges with the recorded payments (JSON on stdout). Exits 1
    when a charge or a payment is unmatched."""
    start, end = _moment(since, "--since"), _moment(until, "--until")
    if start is not None and end is not None and start > end:
        console.print("[red]--since must not be after --until[/red]")
        sys.exit(2)
    cluster = build_cluster()
    try:
        report = reconcile_all(cluster.ledgers, since=start, until=end)
    finally:
        cluster.close()
    print(json.dumps(report, indent=2))
    if report["unmatched_charges"] or report["unmatched_payments"]:
        console.print(f"[red]{len(report['unmatched_charges'])} unmatched charges, "
                      f"{len(report['unmatched_payments'])} unmatched payments[/red]")
        sys.exit(1)
    console.print(f"[green]{report['gateway_charges']} gateway charges, "
                  f"{report['recorded_payments']} recorded payments: all matched[/green]")


def register(app: typer.Typer) -> None:
    app.command("reconcile")(reconcile_command)
