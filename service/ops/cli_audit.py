"""The auditor's commands: verify, replay, export."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Literal
from uuid import UUID

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from projections import alerts, analytics, billing, lines, sub_accounts
from projections.as_of import AsOfError, resolve
from service.api.json_numbers import json_numbers
from service.ops.cli_database import open_existing
from service.ops.cli_errors import (
    CliError,
    one_line_errors,
    open_output,
    partner_option,
    read_settings,
)
from service.ops.exports import (
    AUDIT_COLUMNS,
    INVOICE_COLUMNS,
    audit_filter,
    audit_rows,
    invoice_rows,
    write,
)
from service.ops.verification import verify_all
from service.runtime.as_of import view_source
from service.runtime.bootstrap import Ledger
from service.runtime.partitions import Cluster

console = Console(stderr=True)
answers = Console()  # the answer (the verdict), on stdout


@one_line_errors
def verify_command() -> None:
    """Walk the hash chain over the stored log, re-derive every issued invoice from the
    log and check the views' invoices. The verdict goes to stdout; exits 1 when anything
    differs, 2 when the database is not there."""
    cluster = open_existing(read_settings())
    try:
        with Progress("[progress.description]{task.description}", BarColumn(),
                      MofNCompleteColumn(), TimeRemainingColumn(), console=console) as bar:
            task = bar.add_task("Verifying the log", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = verify_all(cluster.ledgers, progress=progress)
    finally:
        cluster.close()
    if report.chain_break:
        where = "" if report.chain_partition is None else f" of partition {report.chain_partition}"
        verdict(f"CHAIN BROKEN at {report.chain_break}{where}")
    for fault in report.faults:
        verdict(f"MISMATCH {fault}")
    for mismatch in report.mismatches:
        verdict(f"MISMATCH {mismatch}")
    verdict(f"{report.events_checked} events, {report.invoices_checked} invoices checked, "
            f"{report.credit_notes_checked} credit notes re-derived")
    if not report.ok:
        verdict("FAILED: the log or the views differ from what was recorded")
        raise typer.Exit(1)
    verdict("every invoice re-derives from the log to the cent; the chain holds")


def verdict(line: str) -> None:
    """One line of a verdict, on stdout (markup-free: it quotes stored data)."""
    answers.print(line, markup=False, highlight=False, soft_wrap=True)


@one_line_errors
def replay_command(
    until: str = typer.Option(..., help="An ISO-8601 time or position:<n>."),
    partner: str | None = typer.Option(None, help="One partner's id (default: every partner)."),
) -> None:
    """Print every view of each partner as it stood at --until (JSON)."""
    partner_id = partner_option(partner)
    cluster = open_existing(read_settings())
    try:
        for ledger, pid in _partners(cluster, partner_id):
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
    finally:
        cluster.close()


def _partner_store(cluster: Cluster, partner_id: UUID) -> Ledger:
    """The partition holding the partner; a CliError when there is no such partner."""
    ledger = cluster.for_partner(partner_id)
    with ledger.read_model.reading() as sql:
        known = sql.scalar("SELECT 1 FROM v_states WHERE kind = 'Partner' AND id = ?",
                           str(partner_id))
    if not known:
        raise CliError(f"--partner {partner_id}: no such partner")
    return ledger


def _partners(cluster: Cluster, partner: UUID | None) -> Iterator[tuple[Ledger, str]]:
    """(partition, partner id) for one partner or for every partner, partition by
    partition."""
    if partner:
        yield _partner_store(cluster, partner), str(partner)
        return
    for ledger in cluster.ledgers:
        with ledger.read_model.reading() as sql:
            ids = [r["id"] for r in sql.all(
                "SELECT id FROM v_states WHERE kind = 'Partner' ORDER BY id")]
        for pid in ids:
            yield ledger, pid


def _stores(cluster: Cluster, partner: UUID | None, as_of: str | None) -> list[Ledger]:
    """The partitions an export reads. Positions are per partition, so `position:<n>`
    names a moment only within one partner's partition."""
    if partner:
        return [_partner_store(cluster, partner)]
    if as_of and as_of.startswith("position:") and len(cluster.ledgers) > 1:
        raise AsOfError("position:<n> is a position in one partition's log: "
                        "give --partner, or an ISO time")
    return cluster.ledgers


@one_line_errors
def export_command(
    what: Literal["audit", "invoices"] = typer.Argument(..., help="audit or invoices"),
    fmt: Literal["csv", "jsonl"] = typer.Option("jsonl", "--format", help="csv or jsonl"),
    as_of: str | None = typer.Option(None, "--as-of", help="ISO time or position:<n>."),
    partner: str | None = typer.Option(None, help="One partner's id (default: all)."),
    output: Path | None = typer.Option(None, help="A file to write (default: stdout)."),
) -> None:
    """Stream the audit trail or the invoices as CSV or JSON lines, in constant memory.
    Nothing is left at --output when the export fails."""
    partner_id = partner_option(partner)
    cluster = open_existing(read_settings())
    try:
        stores = _stores(cluster, partner_id, as_of)
        positions = [_position(ledger, as_of) for ledger in stores]  # refuses a bad --as-of
        pid = None if partner_id is None else str(partner_id)
        out = open_output(output) if output else sys.stdout
        try:
            with Progress("[progress.description]{task.description}", BarColumn(),
                          MofNCompleteColumn(), TimeRemainingColumn(), console=console,
                          transient=True) as bar:
                total = _audit_total(stores, pid, positions) if what == "audit" else None
                task = bar.add_task(f"Exporting {what}", total=total)

                def progress(done: int) -> None:
                    bar.update(task, completed=done)

                if what == "audit":
                    rows = chain.from_iterable(
                        audit_rows(ledger, partner_id=pid, until_position=position)
                        for ledger, position in zip(stores, positions, strict=True))
                    count = write(rows, columns=AUDIT_COLUMNS, fmt=fmt, out=out,
                                  progress=progress)
                else:
                    count = write(chain.from_iterable(
                        invoice_rows(ledger, partner_id=pid, as_of=as_of) for ledger in stores),
                        columns=INVOICE_COLUMNS, fmt=fmt, out=out, progress=progress)
        except BaseException:
            if output:
                out.close()
                output.unlink(missing_ok=True)
            raise
        if output:
            out.close()
    finally:
        cluster.close()
    console.print(f"exported {count} rows")


def _audit_total(stores: list[Ledger], partner_id: str | None,
                 positions: list[int | None]) -> int:
    """How many rows the audit export will write: the progress bar's length."""
    total = 0
    for ledger, position in zip(stores, positions, strict=True):
        where, params = audit_filter(partner_id=partner_id, until_position=position)
        with ledger.read_model.reading() as sql:
            total += int(sql.scalar(f"SELECT COUNT(*) FROM v_audit WHERE {where}",
                                    *params) or 0)
    return total


def _position(ledger: Ledger, as_of: str | None) -> int | None:
    if as_of is None:
        return None
    with ledger.read_model.reading() as sql:
        return resolve(sql, as_of, now=ledger.clock.now()).position


def register(app: typer.Typer) -> None:
    app.command("verify")(verify_command)
    app.command("replay")(replay_command)
    app.command("export")(export_command)
