"""The `ledger` command line: serve the API, rebuild the views, create keys."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import sys
import threading
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from aggregates.base import Actor
from aggregates.errors import DomainError
from service.commands.partners import IssueKey
from service.ops import cli_audit, cli_keys, cli_quarantine, cli_reconcile, cli_webhooks
from service.ops.cli_database import described, open_existing
from service.ops.cli_errors import CliError, one_line_errors, read_settings
from service.runtime.bootstrap import build
from service.runtime.clock import DATABASE_ERRORS
from service.runtime.partitions import build_cluster, home_partner_id
from service.runtime.settings import Settings
from service.webhooks.runner import Deliverers

# Plain click help (rich_markup_mode=None): paragraphs rewrapped to the terminal, one short
# line per command, flags shown as flags (typer's rich panels print `<bool>` beside every
# flag and keep the docstrings' line breaks).
app = typer.Typer(help="Partner Ledger: event-sourced billing and lifecycle service.",
                  no_args_is_help=True, rich_markup_mode=None)
console = Console(stderr=True)
CLI_ACTOR = Actor(key_id="cli", role="platform:admin")


@app.command()
@one_line_errors
def serve(
    host: str | None = typer.Option(None, help="Listen address (default PORTAL_HOST)."),
    port: int | None = typer.Option(None, help="Listen port (default PORTAL_PORT)."),
    workers: int = typer.Option(1, min=1, help="API processes (use PostgreSQL for more than 1)."),
) -> None:
    """Serve the HTTP API (settings from PORTAL_* environment variables)."""
    import uvicorn

    _quiet_logging()
    settings = read_settings()
    if workers > 1 and not settings.is_postgres:
        console.print("[red]--workers > 1 needs PostgreSQL (PORTAL_DATABASE_URL)[/red]")
        sys.exit(2)
    token_note = ""
    if settings.admin_token is None:
        # Every worker must accept the same token: generate it once, here.
        os.environ["PORTAL_ADMIN_TOKEN"] = secrets.token_urlsafe(32)
        token_note = (f" · admin token {os.environ['PORTAL_ADMIN_TOKEN']} (development only, "
                      f"also in {_save_token(settings.admin_token_file)}; set "
                      f"PORTAL_ADMIN_TOKEN in production)")
    build_cluster(Settings()).close()  # create the tables once, before the workers race to
    address = (host or settings.host, port or settings.port)
    listener = _listening_socket(*address)
    shown = f"[{address[0]}]" if ":" in address[0] else address[0]
    print(f"Partner Ledger on http://{shown}:{listener.getsockname()[1]}/ · database "
          f"{described(settings)} · clock {settings.clock} · {workers} worker(s){token_note}",
          file=sys.stderr, flush=True)
    uvicorn.run("service.api.main:app_from_environment", factory=True, fd=listener.fileno(),
                workers=workers, log_level="warning")


def _quiet_logging() -> None:
    """Warnings and errors only: start-up says where it listens in one line, not in the
    scheduler's and the server's dozen lines of notes."""
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def _save_token(path: str) -> str:
    """Writes the generated admin token where only this user can read it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(os.environ["PORTAL_ADMIN_TOKEN"] + "\n")
    return str(target)


def _listening_socket(host: str, port: int) -> socket.socket:
    """Our own listening socket with TCP_NODELAY, which accepted connections inherit:
    uvicorn's multi-worker path leaves it off, and every keep-alive answer then waits on
    Nagle's algorithm (~40 ms)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind((host, port))
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener


@app.command()
@one_line_errors
def project(
    poll: float = typer.Option(0.2, min=0.01, help="Seconds between looks at the log."),
    partition: int | None = typer.Option(
        None, min=0, help="Run this partition's views, policies and jobs alone "
        "(one process per partition; default: every partition)."),
) -> None:
    """Run the projections, policies and scheduled jobs as their own process: it follows
    the log and keeps every view caught up (API processes then need PORTAL_SCHEDULER=false).
    A partition whose database does not answer is skipped, and taken up when it does."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = read_settings()
    if settings.read_only:
        raise CliError("PORTAL_READ_ONLY=true: a read-only process projects nothing (run "
                       "`ledger project` against the primary)")
    if partition is not None and partition >= settings.partitions:
        console.print(f"[red]no partition {partition}: PORTAL_PARTITIONS is "
                      f"{settings.partitions}[/red]")
        sys.exit(2)
    cluster = build_cluster(settings, only=partition)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    cluster.scheduler.start()
    deliverers = Deliverers(cluster)
    deliverers.start()
    which = f"partition {partition}" if partition is not None else \
        f"{len(cluster.ledgers)} partitions"
    console.print(f"Projecting {described(cluster.settings)} ({which}) every {poll}s",
                  markup=False)
    try:
        while not stop.is_set():
            try:
                # Policies stamp their events with the shared time.
                cluster.clock.refresh()
                cluster.caught_up()
            except DATABASE_ERRORS as error:  # one store's failure; the next pass retries
                logging.getLogger(__name__).error("a catch-up pass failed: %s", error)
            stop.wait(poll)
    finally:
        deliverers.close()
        cluster.close()


@app.command()
@one_line_errors
def rebuild() -> None:
    """Rebuild every view from the event log and print the events each view applied.
    Refuses (exit 2) a database that does not exist or holds no ledger."""
    cluster = open_existing(read_settings())
    try:
        total = sum(ledger.processor.log_length() for ledger in cluster.ledgers)
        with Progress(*Progress.get_default_columns(), MofNCompleteColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("Rebuilding the views from the log", total=total)
            counts = cluster.rebuild(lambda events: bar.advance(task, events))
    finally:
        cluster.close()
    for name, count in counts.items():
        print(f"{name}: {count} events applied")


@app.command("create-admin-key")
def create_admin_key(
    role: str = typer.Option("admin", help="support, auditor or admin"),
    name: str = typer.Option("created by the CLI", help="A label for the key."),
) -> None:
    """Issue a platform key (support, auditor or admin) and print its token once."""
    ledger = build()  # platform keys live in the home partition, the one this opens
    try:
        key, token = ledger.execute(IssueKey(partner_id=None, role=role, name=name),
                                    actor=CLI_ACTOR)
    except DomainError as e:
        console.print(f"[red]{e}[/red]")
        sys.exit(2)
    console.print(f"key id {key.id} role {key.role}")
    print(token)
    ledger.close()


@app.command("seed-demo")
def seed_demo() -> None:
    """Fill an EMPTY database with a demo partner: sub-accounts, lines in every status,
    three months of usage, invoices and alerts. Prints the partner id and an admin key."""
    from datetime import UTC, datetime, timedelta

    from service.ops.seed import DAYS, DatabaseNotEmpty, database_is_empty
    from service.ops.seed import seed_demo as play

    settings = Settings()
    until = None
    if settings.clock == "system":
        # History is played on a manual clock that ends at the real time now.
        until = datetime.now(UTC)
        start = (until - timedelta(days=DAYS)).replace(hour=0, minute=0, second=0,
                                                        microsecond=0)
        settings = settings.model_copy(update={"clock": "manual", "clock_start": start})
    ledger = build(settings)
    try:
        if not database_is_empty(ledger):
            raise DatabaseNotEmpty(
                "the database is not empty; seed-demo only fills an empty database "
                "(point PORTAL_DATABASE_URL at a new one)")
        # One step a played day (the seed reports each day's usage as it lands).
        with Progress("[progress.description]{task.description}", BarColumn(),
                      MofNCompleteColumn(), TimeRemainingColumn(), console=console,
                      transient=True) as bar:
            task = bar.add_task("Playing three months of a demo partner", total=DAYS + 1)
            seeded = play(ledger, until=until,
                          progress=lambda text: bar.update(task, advance=1, description=text),
                          partner_id=home_partner_id(settings.partitions))
    except DatabaseNotEmpty as e:
        console.print(f"[red]{e}[/red]")
        sys.exit(1)
    finally:
        ledger.close()
    console.print(f"Seeded {seeded.events} events from {seeded.start:%Y-%m-%d} to "
                  f"{seeded.until:%Y-%m-%d}; {seeded.invoices} invoices.")
    print(f"partner id: {seeded.partner_id}")
    print(f"admin key token: {seeded.admin_token}")


cli_audit.register(app)
cli_quarantine.register(app)
cli_keys.register(app)
cli_reconcile.register(app)
cli_webhooks.register(app)

if __name__ == "__main__":
    app()
