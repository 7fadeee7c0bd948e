"""One place wires the world: storage, clock, application, read model, policies, scheduler."""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from uuid import UUID

import psycopg
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment, get_topic
from psycopg.sql import SQL, Identifier

from aggregates.base import Actor
from aggregates.payments import SimulatedGateway
from aggregates.usage import FlagThresholds
from policies import alerts as alerts_job
from policies import auto_flag, auto_pause, cycle_close, dunning
from projections import (
    aggregate_states,
    analytics,
    api_keys,
    audit,
    idempotency_records,
    line_day_counts,
    lines,
    pricing_requests,
    public_events,
    sub_accounts,
    timers,
    webhook_deliveries,
    webhook_endpoints,
)
from projections import alerts as alert_view
from projections.inline import InlinePostgresRecorder, InlineSQLiteRecorder, InlineViews
from projections.read_model import PostgresReadModel, ReadModel, SQLiteReadModel
from projections.replica_cache import ReplicaCache
from projections.view import Views
from service.commands import Command, execute
from service.commands.alert_checks import Alerts
from service.commands.application import LedgerApplication
from service.commands.billing_operations import Billing
from service.commands.gateway_books import SqlChargeBook
from service.commands.lines import PauseFlaggedLine
from service.commands.usage import AutoFlagLine
from service.commands.usage_ingest import Usage
from service.runtime import key_use, pg_connect, read_only
from service.runtime.clock import Clock, DatabaseClockStore, ManualClock, SystemClock
from service.runtime.key_use import KeyUse
from service.runtime.partition_layout import check_layout
from service.runtime.processing import Processor
from service.runtime.scheduler import Job, Scheduler
from service.runtime.settings import Settings

log = logging.getLogger(__name__)
R = TypeVar("R")
SCHEMA_LOCK = 0x1ED6E2  # any fixed number: the advisory lock guarding table creation

# The views, applied to each event in this order, in one transaction. public_events comes
# last: an event's public payload is read from the rows the views before it wrote for that
# same event. (The read model's own tables, the hash chain, the as-of checkpoints and the
# quarantine, are rebuilt with these: see `projections.read_model.OWN`.)
VIEWS = Views(
    applied=(audit, sub_accounts, lines, line_day_counts, aggregate_states, analytics,
             alert_view, api_keys, pricing_requests, timers, webhook_endpoints, public_events),
    service_ddl=(*idempotency_records.DDL, *timers.SERVICE_DDL, *webhook_deliveries.DDL,
                 *key_use.DDL),
)


@dataclass
class Ledger:
    """The running service: what every entry point (HTTP, CLI, tests) talks to."""

    settings: Settings
    clock: Clock
    app: LedgerApplication
    read_model: ReadModel
    processor: Processor
    scheduler: Scheduler
    billing: Billing
    usage: Usage
    alerts: Alerts
    key_use: KeyUse
    admin_token: str
    replicas: ReplicaCache = field(default_factory=ReplicaCache)
    known_partners: set[UUID] = field(default_factory=set)

    @property
    def manual_clock(self) -> ManualClock:
        """The clock, when it is the manual one (seeding, tests and benchmarks move it);
        TypeError on the system clock."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("this needs the manual clock (PORTAL_CLOCK=manual)")
        return self.clock

    def require_partner(self, partner_id: UUID) -> None:
        """NotFound unless the partner exists. Partners are never deleted, so one found
        is remembered and later requests skip the load."""
        if partner_id not in self.known_partners:
            self.app.partner(partner_id)
            self.known_partners.add(partner_id)

    def caught_up(self) -> None:
        """Brings views and policies up to the end of the log: a read after a command
        sees the command's effects."""
        self.processor.run()

    def settled(self, position: int) -> bool:
        """Whether the views and policies are known to be done up to `position`, so a
        command that recorded up to it needs no catch-up (service/runtime/processing.py)."""
        return self.processor.settled(position)

    def execute(self, command: Command[R], *, actor: Actor) -> R:
        """Runs `command` as `actor` on this service (service/commands/execute.py)."""
        return execute(self, command, actor=actor)

    def close(self) -> None:
        self.scheduler.shutdown()
        self.app.close()
        self.read_model.close_datastore()


def _env(settings: Settings) -> dict[str, str]:
    env = settings.persistence_env()
    if not settings.is_postgres:
        Path(env["SQLITE_DBNAME"]).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return env


def _read_model(env: dict[str, str], *, postgres: bool) -> ReadModel:
    factory = InfrastructureFactory[ReadModel].construct(Environment("views", env))
    if postgres:
        return factory.tracking_recorder(PostgresReadModel.over(VIEWS))
    return factory.tracking_recorder(SQLiteReadModel.over(VIEWS))


def manual_clock(read_model: ReadModel, settings: Settings) -> ManualClock:
    """The manual clock over its row in the database, which every process shares: it
    starts where the row stands, or (on a new database) at PORTAL_CLOCK_START or now."""
    if settings.clock_start is not None:
        default = settings.clock_start if settings.clock_start.tzinfo else \
            settings.clock_start.replace(tzinfo=UTC)
    else:
        default = datetime.now(UTC).replace(microsecond=0)
    store = (read_only.ReadOnlyClockStore if settings.read_only else DatabaseClockStore)(read_model)
    return ManualClock(store.start(default), store=store)


@contextmanager
def schema_lock(settings: Settings) -> Iterator[None]:
    """Serialises table creation between processes starting at once: PostgreSQL's
    `CREATE ... IF NOT EXISTS` is not safe against a concurrent twin ("tuple
    concurrently updated"). SQLite serialises its writers by itself; a read-only process
    creates nothing (and a standby grants no such lock).

    The lock is the transaction's (`pg_advisory_xact_lock`): it ends with the transaction
    whatever happens, so behind pgBouncer it never stays on a pooled server connection
    that the next process would be handed."""
    if not settings.is_postgres or settings.read_only:
        yield
        return
    with pg_connect.connect(settings.database_url, connect_timeout=settings.connect_timeout_seconds,
                            prepared_statements=settings.prepared_statements) as conn, \
            conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        yield


def build(settings: Settings | None = None) -> Ledger:
    """The service on one event store: the database PORTAL_DATABASE_URL names (partition
    0 of a partitioned deployment; `service.runtime.partitions.build_cluster` builds them all)."""
    settings = settings or Settings()
    with schema_lock(settings):
        ledger = build_partition(settings)
    ledger.caught_up()
    return ledger


def _clock(read_model: ReadModel, settings: Settings) -> Clock:
    return manual_clock(read_model, settings) if settings.clock == "manual" else SystemClock()


def shared_clock(settings: Settings) -> Clock:
    """The deployment's clock for a process that builds one partition other than the home
    one: a manual clock is read from partition 0's database, the system clock is local."""
    if settings.clock != "manual":
        return SystemClock()
    with schema_lock(settings):
        read_model = _read_model(_env(settings), postgres=settings.is_postgres)
    return manual_clock(read_model, settings)


def replica_cache(settings: Settings) -> ReplicaCache:
    return ReplicaCache(per_partner=settings.as_of_replicas_per_partner,
                        total=settings.as_of_replicas,
                        memory_bytes=settings.as_of_replica_memory_mb * 2**20)


def build_partition(settings: Settings, *, clock: Clock | None = None,
                    scheduler: Scheduler | None = None, job_suffix: str = "",
                    partition: int = 0, replicas: ReplicaCache | None = None) -> Ledger:
    """One event store with its views and policies. A partitioned deployment shares one
    clock, one scheduler and one as-of replica cache (its caps are the process's) between
    its partitions; each partition adds its jobs to the scheduler."""
    env = _env(settings)
    if settings.is_postgres:
        ensure_database(settings)
    read_model = _read_model(env, postgres=settings.is_postgres)
    read_model.partition = partition  # named in its quarantine rows and logs
    read_model.wall_clock = lambda: datetime.now(UTC)
    check_layout(read_model, index=partition, count=settings.partitions,
                 read_only=settings.read_only)
    clock = clock or _clock(read_model, settings)
    app_env = {**env, "AGGREGATE_CACHE_MAXSIZE": str(settings.aggregate_cache_size)}
    if settings.inline_views:
        recorder = InlinePostgresRecorder if settings.is_postgres else InlineSQLiteRecorder
        app_env["APPLICATION_RECORDER_TOPIC"] = get_topic(recorder)
    app = LedgerApplication(env=app_env, clock=clock, group_commit=settings.group_commit)
    app.partition = partition
    if settings.inline_views:
        # The recorder is one of the two inline classes: the topic above chose it.
        inline_recorder = app.recorder
        if not isinstance(inline_recorder, InlineSQLiteRecorder | InlinePostgresRecorder):
            raise TypeError(f"inline views need an inline recorder, not {inline_recorder!r}")
        inline_recorder.inline = InlineViews(
            read_model, app.mapper, events_table=read_model.events_table,
            position_column=read_model.position_column)
    thresholds = FlagThresholds(
        volume_limit_hits=settings.autoflag_volume_limit_hits,
        min_conversations=settings.autoflag_min_conversations,
        min_response_rate_percent=settings.autoflag_min_response_rate_percent,
    )
    processor = (read_only.ReadOnlyProcessor if settings.read_only else Processor)(
        source=app, read_model=read_model,
        # `ledger` is bound below, before the processor first runs.
        reactions=[lambda event: auto_pause.react(event, lambda **fields: ledger.execute(
                       PauseFlaggedLine(**fields), actor=auto_pause.ACTOR)),
                   lambda event: auto_flag.react(event, lambda **fields: ledger.execute(
                       AutoFlagLine(**fields), actor=auto_flag.ACTOR), thresholds)],
        reacts_to=(*auto_pause.REACTS_TO, *auto_flag.REACTS_TO),
    )
    if isinstance(app.recorder, InlineSQLiteRecorder | InlinePostgresRecorder) and \
            app.recorder.inline is not None:
        app.recorder.inline.on_committed = processor.inline_committed
    usage = Usage(app=app, read_model=read_model, caught_up=processor.run)
    alerts = Alerts(app=app, read_model=read_model, caught_up=processor.run)
    scheduler = scheduler or Scheduler(clock=clock, after_job=processor.run,
                                       tick_seconds=settings.tick_seconds)
    books = read_only.ReadOnlyChargeBook if settings.read_only else SqlChargeBook
    gateway = SimulatedGateway(books(read_model),
                               delay=timedelta(milliseconds=settings.gateway_delay_ms))
    billing = Billing(app=app, read_model=read_model, gateway=gateway, caught_up=processor.run,
                      lease=timedelta(seconds=settings.payment_lease_seconds))
    # Added in the order they run at one instant (projections/timers.KINDS).
    for job in (cycle_close, dunning):
        scheduler.add(Job(name=job.NAME + job_suffix, kind=job.NAME, trigger=job.TRIGGER,
                          read_model=read_model,
                          run=lambda at, due, job=job: job.fire(billing, at, due,
                                                                outcomes=alerts)))
    scheduler.add(Job(name=alerts_job.NAME + job_suffix, kind=alerts_job.NAME,
                      trigger=alerts_job.TRIGGER, read_model=read_model,
                      run=lambda at, due: alerts_job.fire(alerts, at, due)))
    admin_token = settings.admin_token or secrets.token_urlsafe(32)
    ledger = Ledger(settings=settings, clock=clock, app=app, read_model=read_model,
                    processor=processor, scheduler=scheduler, billing=billing,
                    usage=usage, alerts=alerts, admin_token=admin_token,
                    key_use=(read_only.ReadOnlyKeyUse if settings.read_only else KeyUse)(
                        read_model=read_model, clock=clock),
                    replicas=replicas or replica_cache(settings))
    billing.commands = alerts.commands = ledger.execute
    return ledger


def ensure_database(settings: Settings) -> None:
    """Creates a partition's database on first start (partition 0's must exist), on the
    partition's own server: the database itself is asked first, and only when its server
    answers that it does not exist is it created there. (Asking a `postgres` database
    instead would, behind a router such as pgBouncer, ask whichever server the router
    sends `postgres` to, and create a stray database there.)"""
    if settings.read_only:
        return
    timeout, prepared = settings.connect_timeout_seconds, settings.prepared_statements
    name = pg_connect.url_parameters(settings.database_url).get("dbname") or "postgres"
    try:
        pg_connect.connect(settings.database_url, connect_timeout=timeout,
                           prepared_statements=prepared).close()
        return
    except psycopg.OperationalError as error:
        # libpq gives no SQLSTATE for a failed connection, only PostgreSQL's message.
        if f'database "{name}" does not exist' not in str(error):
            raise
    with pg_connect.connect(settings.database_url, dbname="postgres", autocommit=True,
                            connect_timeout=timeout, prepared_statements=prepared) as conn, \
            contextlib.suppress(psycopg.errors.DuplicateDatabase):
        conn.execute(SQL("CREATE DATABASE {}").format(Identifier(name)))
