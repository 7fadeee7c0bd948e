"""The auditor's commands: verify, replay, export."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from projections import alerts, analytics, billing, lines, sub_accounts
from projections.as_of import AsOfError, resolve
from service.as_of import view_source
from service.bootstrap import Ledger
from service.exports import AUDIT_COLUMNS, INVOICE_COLUMNS, audit_rows, invoice_rows, write
from service.json_numbers import json_numbers
from service.partitions import Cluster, build_cluster
from service.verification import verify_all

console = Console(stderr=True)


def verify_command() -> None:
    """Re-derive every issued invoice from the log, check the views' invoices and the hash
    chain over the stored log. Exits 1 on any mismatch or break."""
    cluster = build_cluster()
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task("Verifying the log", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = verify_all(cluster.ledgers, progress=progress)
    cluster.close()
    for mismatch in report.mismatches:
        console.print(f"[red]MISMATCH[/red] {mismatch}")
    if report.chain_break:
        where = "" if report.chain_partition is None else f" of partition {report.chain_partition}"
        console.print(f"[red]CHAIN BROKEN[/red] at {report.chain_break}{where}")
    console.print(f"{report.events_checked} events, {report.invoices_checked} invoices checked")
    if not report.ok:
        sys.exit(1)
    console.print("[green]every invoice re-derives from the log to the cent; the chain holds[/]")


def replay_command(
    until: str = typer.Option(..., help="An ISO-8601 time or position:<n>."),
    partner: str | None = typer.Option(None, help="One partner's id (default: every partner)."),
) -> None:
    """Print every view of each partner as it stood at --until (JSON)."""
    cluster = build_cluster()
    try:
        for ledger, pid in _partners(cluster, partner):
            source = view_source(ledger, UUID(pid), until)
            views = {
                "partner_id": pid, "as_of": {"position": source.position},
                "overview": source.read(lines.overview, partner_id=pid),
                "sub_accounts": source.read(sub_accounts.list_sub_accounts, partner_id=pid,
                                            status=None, after_seq=0, limit=500)[0],
                "billing_summary": source.read(billing.billing_summary, partner_id=pid,
                                               now=source.now),
                "upcoming_invoice": source.read(billing.upcoming_invoice, partner_id=pid,
                                                now=source.now),
                "invoices": source.read(billing.list_invoices, partner_id=pid, after_seq=0,
                                        limit=500)[0],
                "my_status": source.read(billing.my_status, partner_id=pid, now=source.now),
                # Analytics and alerts rows never change once written: read live up to
                # the position, as the API does.
                "analytics": ledger.read_model.read(
                    analytics.totals, window=analytics.Window(partner_id=pid,
                                                              as_of=source.position)),
                "alerts": ledger.read_model.read(alerts.list_alerts, partner_id=pid,
                                                 status="all", as_of=source.position,
                                                 limit=500)[0],
            }
            print(json.dumps(json_numbers(views), indent=2))
    except AsOfError as e:
        console.print(f"[red]{e}[/red]")
        sys.exit(2)
    finally:
        cluster.close()


def _partners(cluster: Cluster, partner: str | None) -> Iterator[tuple[Ledger, str]]:
    """(partition, partner id) for one partner or for every partner, partition by
    partition."""
    if partner:
        yield cluster.for_partner(UUID(partner)), partner
        return
    for ledger in cluster.ledgers:
        with ledger.read_model.reading() as sql:
            ids = [r["id"] for r in sql.all(
                "SELECT id FROM v_states WHERE kind = 'Partner' ORDER BY id")]
        for pid in ids:
            yield ledger, pid


def _stores(cluster: Cluster, partner: str | None, as_of: str | None) -> list[Ledger]:
    """The partitions an export reads. Positions are per partition, so `position:<n>`
    names a moment only within one partner's partition."""
    if partner:
        return [cluster.for_partner(UUID(partner))]
    if as_of and as_of.startswith("position:") and len(cluster.ledgers) > 1:
        raise AsOfError("position:<n> is a position in one partition's log: "
                        "give --partner, or an ISO time")
    return cluster.ledgers


def export_command(
    what: Literal["audit", "invoices"] = typer.Argument(..., help="audit or invoices"),
    fmt: Literal["csv", "jsonl"] = typer.Option("jsonl", "--format", help="csv or jsonl"),
    as_of: str | None = typer.Option(None, "--as-of", help="ISO time or position:<n>."),
    partner: str | None = typer.Option(None, help="One partner's id (default: all)."),
    output: Path | None = typer.Option(None, help="A file to write (default: stdout)."),
) -> None:
    """Stream the audit trail or the invoices as CSV or JSON lines, in constant memory."""
    cluster = build_cluster()
    out = output.open("w", newline="") if output else sys.stdout
    try:
        stores = _stores(cluster, partner, as_of)
        if what == "audit":
            count = write(chain.from_iterable(_audit(ledger, partner, as_of) for ledger in stores),
                          columns=AUDIT_COLUMNS, fmt=fmt, out=out)
        else:
            count = write(chain.from_iterable(
                invoice_rows(ledger, partner_id=partner, as_of=as_of) for ledger in stores),
                columns=INVOICE_COLUMNS, fmt=fmt, out=out)
    except AsOfError as e:
        console.print(f"[red]{e}[/red]")
        sys.exit(2)
    finally:
        if output:
            out.close()
        cluster.close()
    console.print(f"exported {count} rows")


def _audit(ledger: Ledger, partner: str | None, as_of: str | None) -> Iterator[Any]:
    position = None
    if as_of is not None:
        with ledger.read_model.reading() as sql:
            position = resolve(sql, as_of, now=ledger.clock.now()).position
    yield from audit_rows(ledger, partner_id=partner, until_position=position)


def register(app: typer.Typer) -> None:
    app.command("verify")(verify_command)
    app.command("replay")(replay_command)
    app.command("export")(export_command)
