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
from dataclasses import dataclass, replace
from uuid import UUID, uuid4

from aggregates.api_key import ApiKey
from aggregates.base import Actor
from aggregates.partner import Partner
from service.bootstrap import Ledger, build, build_partition, schema_lock
from service.commands import execute
from service.commands.partners import ClaimInvoicePrefix, CreatePartner
from service.scheduler import Scheduler
from service.settings import Settings


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
    Platform keys live in the home partition (0); a partner's keys in its own."""

    settings: Settings
    ledgers: list[Ledger]
    scheduler: Scheduler

    @classmethod
    def of(cls, ledger: Ledger) -> Cluster:
        """A single store seen as a cluster of one."""
        return cls(settings=ledger.settings, ledgers=[ledger], scheduler=ledger.scheduler)

    @property
    def home(self) -> Ledger:
        return self.ledgers[0]

    @property
    def admin_token(self) -> str:
        return self.home.admin_token

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
        """The live key for `token`, looked for in `first` (the partition the request
        names), then in the others: a partner's key is in its partner's partition, a
        platform key in the home partition."""
        for ledger in (first, *(other for other in self.ledgers if other is not first)):
            key = ledger.app.authenticate(token)
            if key is not None:
                ledger.key_use.seen(key.id)  # at most a write a minute (service/key_use.py)
                return key
        return None

    def caught_up(self) -> None:
        for ledger in self.ledgers:
            ledger.caught_up()

    def rebuild(self) -> dict[str, int]:
        """Rebuilds every partition's views; events applied per view, summed."""
        totals: dict[str, int] = {}
        for ledger in self.ledgers:
            for name, count in ledger.processor.rebuild().items():
                totals[name] = totals.get(name, 0) + count
        return totals

    def close(self) -> None:
        self.scheduler.shutdown()
        for ledger in self.ledgers:
            ledger.close()



def build_cluster(settings: Settings | None = None) -> Cluster:
    """Every partition that `settings.partitions` names, sharing partition 0's clock
    (a manual clock is kept in partition 0's database) and one scheduler."""
    settings = settings or Settings()
    if settings.partitions == 1:
        return Cluster.of(build(settings))
    ledgers: list[Ledger] = []
    with schema_lock(settings):
        home = build_partition(settings, job_suffix="@p0")
        ledgers.append(home)
        for index in range(1, settings.partitions):
            ledgers.append(build_partition(settings.partition(index), clock=home.clock,
                                           scheduler=home.scheduler, job_suffix=f"@p{index}",
                                           partition=index, replicas=home.replicas))
    for ledger in ledgers[1:]:
        ledger.admin_token = home.admin_token
    cluster = Cluster(settings=settings, ledgers=ledgers, scheduler=home.scheduler)
    home.scheduler.after_job = cluster.caught_up
    cluster.caught_up()
    return cluster
