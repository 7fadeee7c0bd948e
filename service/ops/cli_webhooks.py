"""`ledger webhooks deliveries --partner …`: a partner's recent webhook deliveries, with
their last attempt, as a table (docs/OPERATIONS.md, "Webhooks")."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.table import Table

from projections import webhook_deliveries as store
from service.ops.cli_database import open_existing
from service.ops.cli_errors import CliError, one_line_errors, partner_option, read_settings

app = typer.Typer(help="Webhook endpoints' deliveries.", no_args_is_help=True)
out = Console(width=None if sys.stdout.isatty() else 240)  # ids stay whole in a pipe


@app.command("deliveries")
@one_line_errors
def deliveries_command(
    partner: str = typer.Option(..., help="The partner's id."),
    endpoint: str | None = typer.Option(None, help="One endpoint's id (default: all)."),
    limit: int = typer.Option(50, min=1, max=500, help="How many, newest first."),
) -> None:
    """Print the partner's most recent deliveries, newest first: endpoint, event, status,
    attempts, the last attempt's answer, the next retry."""
    partner_id = partner_option(partner)
    assert partner_id is not None
    endpoint_id = None
    if endpoint is not None:
        try:
            endpoint_id = str(partner_option(endpoint))
        except CliError:
            raise CliError(f"--endpoint {endpoint!r} is not an endpoint id (a UUID)") from None
    cluster = open_existing(read_settings())
    try:
        ledger = cluster.for_partner(partner_id)
        ledger.app.partner(partner_id)  # NotFound: one line, exit 2
        rows = ledger.read_model.read(store.partner_deliveries, partner_id=str(partner_id),
                                      endpoint_id=endpoint_id, limit=limit)
    finally:
        cluster.close()
    table = Table(title=f"Webhook deliveries of partner {partner_id}")
    for column in ("endpoint", "event", "type", "status", "attempts", "last answer",
                   "next attempt"):
        table.add_column(column)
    for row in rows:
        last = row["attempts"][-1] if row["attempts"] else None
        answer = "-" if last is None else (str(last["status_code"]) if last["status_code"]
                                           else last["error"] or "-")
        table.add_row(row["endpoint_id"], row["event_id"], row["event_type"], row["status"],
                      str(len(row["attempts"])), answer, row["next_attempt_at"] or "-")
    out.print(table)
    if not rows:
        out.print("no deliveries")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="webhooks")



