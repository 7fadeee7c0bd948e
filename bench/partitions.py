"""Write throughput as partners are spread over more event stores (issue 7, scale-out).

The library serialises every writer of one events table (it locks the table for each
insert, so that notification ids commit in order): one table is the write ceiling, and
more writer processes on it only queue. Here `WRITERS` processes, each with its own
`Cluster` (as API workers have), command their own partner as fast as they can for a
fixed time: line pause/resume, the same command as the in-process benchmark. The partners
are picked so that they spread evenly over the partitions. The run is repeated with 1, 2
and 4 partitions (one PostgreSQL, one database per partition), and twice for each:

- commands alone: what the event stores take (views caught up afterwards, in one go);
- each command followed by `caught_up()` of its partition, as the API answers.

The 1-partition figure is the baseline measured in the same run. The 2- and 4-partition
rounds run again with each partition on a PostgreSQL cluster of its own (local clusters on
spare ports, made with `pg_createcluster` and dropped afterwards: service/ops/pg_clusters.py), as
`PORTAL_PARTITION_URLS` places them on separate servers; on one machine they still share
its cores and disk, so this shows what one server's own locks and WAL cost, not what more
machines add. Quick mode runs 1 and 4 partitions only (4 on separate clusters), 2 s a
round.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import urlparse
from uuid import UUID

import psycopg

from aggregates.line import PAUSED
from bench.common import (
    OPS,
    STANDARD,
    Context,
    figure,
    handled,
    phone_number,
    progress,
    scratch_postgres,
    settings_for,
)
from service.commands.lines import PauseSending, ResumeSending
from service.commands.version_races import with_retries
from service.ops.pg_clusters import clusters, tools_missing
from service.runtime.partitions import Cluster, build_cluster, partition_of
from service.runtime.settings import Settings, partition_url

TITLE = "Write throughput against partitions (PostgreSQL)"
WRITERS = 4
LINES = 20
PARTITION_COUNTS = (1, 2, 4)


def _partner_ids(partitions: int, writers: int) -> list[UUID]:
    """One partner per writer, round-robin over the partitions."""
    from uuid import uuid4

    wanted = [w % partitions for w in range(writers)]
    found: list[UUID] = []
    while len(found) < writers:
        candidate = uuid4()
        if partition_of(candidate, partitions) == wanted[len(found)]:
            found.append(candidate)
    return found


def _provision(cluster: Cluster, partner_id: UUID) -> list[UUID]:
    ledger = cluster.for_partner(partner_id)
    app = ledger.app
    app.create_partner(partner_id=partner_id, name="Writer", currency="USD",
                       billing_anchor_day=1, pricing=STANDARD, actor=OPS)
    sub = app.create_sub_account(partner_id=partner_id, name="Team", actor=OPS).id
    lines = [app.provision_line(partner_id=partner_id, phone_number=phone_number(i),
                                sub_account_id=sub, actor=OPS).id for i in range(LINES)]
    ledger.caught_up()
    return lines


def _settings(urls: list[str], **overrides: Any) -> Settings:
    """The deployment over one database per partition, in partition order."""
    return settings_for(urls[0], partition_urls=urls, **overrides)


def _writer(urls: list[str], partner_id: UUID, lines: list[UUID], catch_up: bool,
            seconds: float, start: Any, results: Any) -> None:
    """One writer process: commands its partner until the time is up; reports the count."""
    done = -1  # reported when the writer fails, so the round ends at once
    cluster: Cluster | None = None
    try:
        # One pooled connection per pool: a writer runs one command at a time, and 4
        # writers x 4 partitions x 2 pools must fit a shared server's max_connections.
        cluster = build_cluster(_settings(urls, pool_size=1, max_overflow=2))
        ledger = cluster.for_partner(partner_id)
        paused = {lid: ledger.app.line(partner_id, lid).sending == PAUSED for lid in lines}
        start.wait()
        done = 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            line = lines[done % len(lines)]
            step = ResumeSending if paused[line] else PauseSending
            with_retries(lambda _, step=step, line=line: handled(
                ledger, step(partner_id=partner_id, line_id=line), OPS))
            paused[line] = not paused[line]
            if catch_up:
                ledger.caught_up()
            done += 1
    finally:
        if done < 0:
            start.abort()  # the others (and the round) stop waiting for this writer
        results.put(done)
        if cluster is not None:
            cluster.close()


class LockSampler:
    """Samples, every 20 ms while a round runs, what the writers' PostgreSQL backends are
    doing: the share found waiting on a lock (the events table's, or the tracking row's)
    shows how much of the time one table makes writers queue."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.waiting = self.active = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        database = urlparse(self.url).path.lstrip("/")
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.wait(0.02):
                for wait_type, in conn.execute(
                        "SELECT wait_event_type FROM pg_stat_activity WHERE state = 'active' "
                        "AND datname LIKE %s AND pid <> pg_backend_pid()", (f"{database}%",)):
                    self.active += 1
                    self.waiting += wait_type == "Lock"

    def __enter__(self) -> LockSampler:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def share(self) -> float:
        return self.waiting / self.active if self.active else 0.0


def _round(urls: list[str], partners: dict[UUID, list[UUID]], *, catch_up: bool,
           seconds: float) -> tuple[float, float]:
    """Commands per second of all writers together, and the share of sampled busy
    backends that were waiting on a lock."""
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(len(partners) + 1)
    results = spawn.Queue()
    writers = [spawn.Process(target=_writer, args=(urls, pid, lines, catch_up, seconds, start,
                                                   results))
               for pid, lines in partners.items()]
    for process in writers:
        process.start()
    start.wait()
    t0 = time.perf_counter()
    with LockSampler(urls[0]) as locks:  # partition 0's server
        counts = [results.get(timeout=seconds + 120) for _ in writers]
    if min(counts) < 0:
        raise RuntimeError("a writer process failed (its traceback is above)")
    elapsed = max(time.perf_counter() - t0, seconds)
    for process in writers:
        process.join(timeout=60)
    return sum(counts) / elapsed, locks.share


@contextmanager
def _same_server(partitions: int) -> Iterator[list[str]]:
    """One database per partition on the one server: `<db>` and its `<db>_p<i>` siblings."""
    with scratch_postgres(f"partitions{partitions}") as url:
        yield [url, *(partition_url(url, index) for index in range(1, partitions))]


@contextmanager
def _own_clusters(partitions: int) -> Iterator[list[str]]:
    """One database per partition, each on a new local cluster of its own."""
    with clusters(f"bench{os.getpid()}", partitions) as made:
        for server in made:
            server.create_database("ledger")
        yield [server.url("ledger") for server in made]


def _measure(placed: AbstractContextManager[list[str]], seconds: float,
             report: Callable[[str], None], where: str) -> dict[str, tuple[float, float]]:
    with placed as urls:
        partitions = len(urls)
        cluster = build_cluster(_settings(urls))
        try:
            partners = {pid: _provision(cluster, pid)
                        for pid in _partner_ids(partitions, WRITERS)}
        finally:
            cluster.close()
        figures = {}
        for catch_up in (False, True):
            report(f"partitions: {partitions} partition(s) {where}, {WRITERS} writers, "
                   f"{'with' if catch_up else 'without'} catch-up, {seconds:.0f}s")
            figures[catch_up] = _round(urls, partners, catch_up=catch_up, seconds=seconds)
        check = build_cluster(_settings(urls))
        try:
            check.caught_up()  # the commands without catch-up reach the views too
        finally:
            check.close()
    return {"alone": figures[False], "with catch-up": figures[True]}


def run(ctx: Context) -> dict[str, Any]:
    if ctx.postgres_problem:
        return {"figures": [figure("partitions", None, "", note=ctx.postgres_problem)]}
    seconds = 2.0 if ctx.quick else 10.0
    counts = (1, 4) if ctx.quick else PARTITION_COUNTS  # quick: the two ends only
    rates = {p: _measure(_same_server(p), seconds, progress, "on one server") for p in counts}
    missing = tools_missing()
    apart = {} if missing else {
        p: _measure(_own_clusters(p), seconds, progress, "on clusters of their own")
        for p in counts if p > 1}
    figures = []
    for p, rate in rates.items():
        for mode, (value, waiting) in rate.items():
            growth = value / rates[1][mode][0]
            figures.append(figure(
                f"{p} partition{'s' if p > 1 else ''}: commands/s, {mode}", value, "/s",
                note=("baseline: one events table" if p == 1 else
                      f"{growth:.2f}× the one-table figure")
                + f"; {waiting:.0%} of busy database sessions sampled were waiting on a lock"))
            if p in apart:
                other, other_waiting = apart[p][mode]
                figures.append(figure(
                    f"{p} partitions on {p} clusters: commands/s, {mode}", other, "/s",
                    note=f"{other / rates[1][mode][0]:.2f}× the one-table figure, "
                         f"{other / value:.2f}× the same-server figure; "
                         f"{other_waiting:.0%} of partition 0's busy sessions waited on a lock"))
    if missing:
        figures.append(figure("partitions on clusters of their own", None, "",
                              note=f"not run: {missing}"))
    notes = [
        f"{WRITERS} writer processes, each with its own cluster and its own partner "
        f"({LINES} active lines), line pause/resume for {seconds:.0f} s per round; partners "
        "spread round-robin over the partitions; each partition is its own database on the "
        "one PostgreSQL server, on the same 2 cores as the writers.",
        "'on N clusters': each partition's database on a local PostgreSQL cluster of its "
        "own (PORTAL_PARTITION_URLS), made for the round and dropped after; the clusters "
        "share the machine's 2 cores and disk with each other and the writers.",
    ]
    return {"figures": figures, "notes": notes}
