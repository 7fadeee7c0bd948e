"""`ledger quarantine list|retry`: the events the views hold back, and re-applying them
once the cause is fixed (see docs/OPERATIONS.md, "Quarantine")."""

from __future__ import annotations

import sys
from enum import StrEnum

import typer
from rich.console import Console

from aggregates.errors import DomainError
from service.ops import quarantine
from service.runtime.partitions import build_cluster

app = typer.Typer(help="Events the views could not apply, and their partners' held events.",
                  no_args_is_help=True)
console = Console(stderr=True)


class Status(StrEnum):
    failed = "failed"
    held = "held"


@app.command("list")
def list_command(
    partition: int | None = typer.Option(None, min=0, help="One partition (default: all)."),
    status: Status | None = typer.Option(None, help="failed (with the error) or held."),
) -> None:
    """Print every event held in quarantine, in log order.

    One line each, tab-separated: partition, position, status, partner, originator, event
    type, attempts, first seen, error."""
    cluster = build_cluster()
    try:
        after: int | None = 0
        shown = 0
        while True:
            items, after = quarantine.listing(cluster, partition=partition,
                                              status=status.value if status else None,
                                              after=after or 0)
            for item in items:
                print("\t".join(str(item[k]) if item[k] is not None else "-" for k in (
                    "partition", "position", "status", "partner_id", "originator_id",
                    "event_type", "attempts", "first_seen", "error")))
            shown += len(items)
            if after is None:
                break
    except DomainError as e:
        console.print(f"[red]{e}[/red]")
        sys.exit(2)
    finally:
        cluster.close()
    console.print(f"{shown} events in quarantine" if shown else "nothing in quarantine")


@app.command("retry")
def retry_command(
    partition: int | None = typer.Option(None, min=0, help="One partition (default: all)."),
    position: int | None = typer.Option(None, min=1, help="The partner held at this position."),
    partner: str | None = typer.Option(None, help="This partner's held events."),
) -> None:
    """Re-apply held events in log order, partner by partner.

    Every quarantined partner, unless --position or --partner names one. Exits 1 when a
    partner fails again (it stays quarantined with the new error), 2 when nothing
    matches."""
    cluster = build_cluster()
    try:
        answers = quarantine.retry(cluster, partition=partition, position=position,
                                   partner_id=partner)
    except DomainError as e:
        console.print(f"[red]{e}[/red]")
        sys.exit(2)
    finally:
        cluster.close()
    if not answers:
        console.print("nothing in quarantine")
    for answer in answers:
        where = f"partition {answer['partition']} partner {answer['partner_id']}"
        if answer["released"]:
            console.print(f"[green]released[/green] {where}: {answer['applied']} events applied")
            continue
        failed = answer["failed"] or {}
        console.print(f"[red]still quarantined[/red] {where}: {answer['applied']} events "
                      f"applied, then position {failed.get('position')} failed again: "
                      f"{failed.get('error')}")
    if not all(answer["released"] for answer in answers):
        sys.exit(1)


def register(cli: typer.Typer) -> None:
    cli.add_typer(app, name="quarantine")
