"""Partners spread over several event stores by a stable hash of their id.

The library serialises every writer of one events table (shared/EVENTSOURCING.md), so
one table is the write ceiling. Each partition is a whole `Ledger`: its own events
table, views, tracking, hash chain and policies. Everything the API does is scoped to one
partner, and a partner's events all live in its partition, so audit order, positions
and `as_of` stay per partner exactly as on one store. What spans partners (creating a
partner, platform keys, the clock and its jobs, verify, rebuild) is done here.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, cast
from uuid import UUID, uuid4

from aggregates.api_key import ApiKey, token_partition
from aggregates.base import Actor
from aggregates.partner import Partner
from service.commands import execute
from service.commands.partners import ClaimInvoicePrefix, CreatePartner
from service.runtime.bootstrap import (
    Ledger,
    build,
    build_partition,
    ensure_database,
    replica_cache,
    schema_lock,
    shared_clock,
)
from service.runtime.clock import Clock, SystemClock
from service.runtime.partition_health import (
    PROBE_INTERVAL_SECONDS,
    PartitionGuard,
    PartitionMonitor,
    PartitionUnavailable,
    UnbuiltPartition,
    first_start_check,
    probe_for,
)
from service.runtime.partition_layout import LayoutMismatch
from service.runtime.scheduler import Scheduler
from service.runtime.settings import Settings

log = logging.getLogger(__name__)


def partition_of(partner_id: UUID, count: int) -> int:
    """The partition holding `partner_id`: the same on every process and every run
    (Python's own `hash` is salted per process, so a digest is used)."""
    digest = hashlib.blake2b(partner_id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def home_partner_id(count: int) -> UUID:
    """A new partner id that hashes to partition 0, for tools that work on the home
    partition alone (`ledger seed-demo`)."""
    while partition_of(candidate := uuid4(), count) != 0:
        pass
    return candidate


@dataclass
class Cluster:
    """Every partition of the deployment, with the clock and scheduler they share.
    Platform keys live in the home partition (0); a partner's keys in its own.

    Each partition has a guard (service/runtime/partition_health.py): while its database does
    not answer, its partners get 503 `partition_unavailable` at once and the others are
    served; a partition down at start stands as an `UnbuiltPartition` until it answers."""

    settings: Settings
    ledgers: list[Ledger]
    scheduler: Scheduler
    guards: list[PartitionGuard] = field(default_factory=list)
    # The partition numbers of `ledgers` (all of them, but for `ledger project --partition`).
    indexes: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.indexes:
            self.indexes = list(range(len(self.ledgers)))
        self.monitor = PartitionMonitor(self.guards)
        for position, index in enumerate(self.indexes[len(self.guards):], len(self.guards)):
            self.guards.append(self._guard(index))
            self.guards[position].attach(*_datastores(self.ledgers[position]))

    def _guard(self, index: int) -> PartitionGuard:
        guard = PartitionGuard(index, probe_for(self.settings.partition(index)))
        guard.on_open.append(self.monitor.start)
        return guard

    @classmethod
    def of(cls, ledger: Ledger) -> Cluster:
        """A single store seen as a cluster of one."""
        return cls(settings=ledger.settings, ledgers=[ledger], scheduler=ledger.scheduler)

    @property
    def home(self) -> Ledger:
        return self.ledgers[0]

    @property
    def admin_token(self) -> str:
        return self.settings.admin_token or self.home.admin_token

    @property
    def clock(self) -> Clock:
        """The deployment's one clock (the scheduler's), whichever partitions answer."""
        return self.scheduler.clock

    def guard_of(self, partner_id: UUID) -> PartitionGuard:
        return self.guards[partition_of(partner_id, len(self.ledgers))]

    def for_partner(self, partner_id: UUID) -> Ledger:
        return self.ledgers[partition_of(partner_id, len(self.ledgers))]

    def create_partner(self, command: CreatePartner, *, actor: Actor) -> tuple[Ledger, Partner]:
        """The command carries its partner's id, so it runs in the partition that id
        hashes to. Its invoice prefix is claimed in the home partition first, so that no
        two partitions hand out one prefix."""
        ledger = self.for_partner(command.partner_id)
        if ledger is not self.home:
            prefix = execute(self.home, ClaimInvoicePrefix(
                partner_id=command.partner_id, name=command.name,
                invoice_prefix=command.invoice_prefix), actor=actor)
            command = replace(command, invoice_prefix=prefix)
        return ledger, execute(ledger, command, actor=actor)

    def authenticate(self, token: str, *, first: Ledger) -> ApiKey | None:
        """The live key for `token`. A token that names its partition is looked up there
        alone; an older one in `first` (the partition the request names), then in the
        others: a partner's key is in its partner's partition, a platform key in the
        home partition."""
        named = token_partition(token)
        if named is not None:
            candidates = [self.ledgers[named]] if named < len(self.ledgers) else []
        else:
            candidates = [first, *(other for other in self.ledgers if other is not first)]
        skipped: PartitionUnavailable | None = None
        for ledger in candidates:
            try:
                key = ledger.app.authenticate(token)
            except PartitionUnavailable as down:  # the key may be there: look on, then say so
                skipped = skipped or down
                continue
            if key is not None:
                ledger.key_use.seen(key.id)  # at most a write a minute (service/runtime/key_use.py)
                return key
        if skipped is not None:
            raise skipped
        return None

    def caught_up(self) -> None:
        """Catches every partition up; one whose database does not answer is skipped
        (its guard logged it), and any other failure is raised once the rest ran."""
        failure: Exception | None = None
        for guard, ledger in zip(self.guards, self.ledgers, strict=True):
            if not guard.breaker.allows:
                continue
            try:
                ledger.caught_up()
            except PartitionUnavailable:
                continue
            except Exception as error:
                failure = failure or error
        if failure is not None:
            raise failure

    def rebuild(self, progress: Callable[[int], None] | None = None) -> dict[str, int]:
        """Rebuilds every partition's views; events applied per view, summed. `progress` is
        told how many events each batch read."""
        totals: dict[str, int] = {}
        for ledger in self.ledgers:
            for name, count in ledger.processor.rebuild(progress).items():
                totals[name] = totals.get(name, 0) + count
        return totals

    def close(self) -> None:
        self.monitor.stop()
        self.scheduler.shutdown()
        for ledger in self.ledgers:
            if not isinstance(ledger, UnbuiltPartition):
                ledger.close()


def _datastores(ledger: Ledger) -> tuple[object, ...]:
    if isinstance(ledger, UnbuiltPartition):
        return ()
    return ledger.app.recorder.datastore, ledger.read_model.datastore  # type: ignore[attr-defined]


def _build_or_stand_in(cluster: Cluster, index: int, build_one: Callable[[], Ledger]) -> None:
    """Builds partition `index` into `cluster`; when its database does not answer, an
    `UnbuiltPartition` stands in and the guard builds it once a probe answers."""
    guard = cluster._guard(index)
    cluster.guards.append(guard)
    cluster.indexes.append(index)
    check = first_start_check(cluster.settings.partition(index))
    try:
        # Fast: the library would retry a server that does not answer for a minute.
        check()
        ledger = build_one()
        ledger.admin_token = cluster.admin_token
    except LayoutMismatch:
        raise  # a wrong count or order of partitions refuses the start; it is no outage
    except Exception as error:
        if _answers(check):
            raise  # a database that answers and still fails to build: not an outage
        cluster.ledgers.append(cast(Ledger, UnbuiltPartition(guard)))
        position = len(cluster.ledgers) - 1

        def take_up() -> None:
            # Runs on the monitor's thread when a probe answers; a failure keeps the
            # breaker open for the next probe.
            if isinstance(cluster.ledgers[position], UnbuiltPartition):
                built = build_one()
                guard.attach(*_datastores(built))
                built.admin_token = cluster.admin_token
                cluster.ledgers[position] = built
                built.caught_up()

        guard.breaker.on_close(take_up)
        guard.mark_down(f"{type(error).__name__}: {error}".strip())
        return
    guard.attach(*_datastores(ledger))
    cluster.ledgers.append(ledger)


def _answers(check: Callable[[], None]) -> bool:
    try:
        check()
    except Exception:
        return False
    return True


def build_cluster(settings: Settings | None = None, *, only: int | None = None) -> Cluster:
    """Every partition that `settings.partitions` names, sharing partition 0's clock
    (a manual clock is kept in partition 0's database) and one scheduler; `only` builds
    that one partition (`ledger project --partition`). A partition whose database does
    not answer at start (with the system clock, any of them) is taken up when it does."""
    settings = settings or Settings()
    if only is not None:
        return _build_one_partition(settings, only)
    if settings.partitions == 1:
        return Cluster.of(build(settings))
    if settings.admin_token is None:  # one token for every partition, whichever answers
        settings = settings.model_copy(update={"admin_token": secrets.token_urlsafe(32)})
    if settings.clock == "manual":
        # A manual clock is kept in partition 0's database: that one must answer at start.
        with schema_lock(settings):
            home = build_partition(settings, job_suffix="@p0")
        clock, scheduler, replicas = home.clock, home.scheduler, home.replicas
        cluster = Cluster(settings=settings, ledgers=[home], scheduler=scheduler)
    else:
        # The system clock needs no database: any partition may be down at start.
        clock = SystemClock()
        scheduler = Scheduler(clock=clock, after_job=lambda: None,
                              tick_seconds=settings.tick_seconds)
        replicas = replica_cache(settings)
        cluster = Cluster(settings=settings, ledgers=[], scheduler=scheduler)
    for index in range(len(cluster.ledgers), settings.partitions):
        _build_or_stand_in(cluster, index, partial(
            _locked_build, settings.partition(index), clock=clock, scheduler=scheduler,
            job_suffix=f"@p{index}", partition=index, replicas=replicas))
    scheduler.after_job = cluster.caught_up
    cluster.caught_up()
    return cluster


def _locked_build(settings: Settings, **options: Any) -> Ledger:
    """One partition, its tables created under its own database's schema lock (the
    database created first, on a first start)."""
    if settings.is_postgres:
        ensure_database(settings)
    with schema_lock(settings):
        return build_partition(settings, **options)


def _build_one_partition(settings: Settings, index: int) -> Cluster:
    """Partition `index` alone, with its views, policies and jobs; the clock is shared
    through partition 0's database when it is a manual one."""
    if not 0 <= index < settings.partitions:
        raise ValueError(f"no partition {index}: there are {settings.partitions}")
    own = settings.partition(index)
    check, waited = first_start_check(own), False
    while True:  # a projector started while its partition is down waits for it
        try:
            check()
            break
        except Exception as error:
            if not waited:
                log.error("partition %s does not answer (%s); waiting for it", index, error)
                waited = True
            time.sleep(PROBE_INTERVAL_SECONDS)
    clock = shared_clock(settings) if index else None
    with schema_lock(own):
        ledger = build_partition(own, clock=clock, job_suffix=f"@p{index}", partition=index)
    cluster = Cluster(settings=settings, ledgers=[ledger], scheduler=ledger.scheduler,
                      indexes=[index])
    ledger.scheduler.after_job = cluster.caught_up
    cluster.caught_up()
    return cluster
