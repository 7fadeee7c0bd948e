"""What the benchmarks share: scratch databases, ledgers on a manual clock, timing,
profiling, figures, and the seeding of a partner with many lines and a month of changes.

Nothing here asserts a time; a benchmark reports what it measured, and the runner
compares the figures with their targets.
"""

from __future__ import annotations

import cProfile
import io
import math
import os
import pstats
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlparse, urlunparse
from uuid import UUID

import psycopg

from aggregates.base import Actor
from service.commands import Command
from service.commands.base import handler_for
from service.commands.execute import attempt
from service.commands.lines import (
    ApproveLineDelete,
    ApproveLineMove,
    AssignLine,
    RequestLineDelete,
    RequestLineMove,
    UnassignLine,
)
from service.runtime.bootstrap import Ledger, build
from service.runtime.settings import Settings

R = TypeVar("R")
DEFAULT_PG = "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
ADMIN_TOKEN = "bench-admin-token"
PERIOD_START = datetime(2026, 1, 1, tzinfo=UTC)  # partners are created here, anchor day 1
OPS = Actor(key_id="bench-ops", role="operations")
SUPPORT = Actor(key_id="bench-support", role="platform:support")
BACKENDS = ("sqlite", "postgres")
GRADUATED = {"structure": "tiered", "mode": "graduated", "tiers": [
    {"up_to": 100, "unit_amount": 1500}, {"up_to": 1000, "unit_amount": 1200},
    {"up_to": None, "unit_amount": 900}]}
STANDARD = {"structure": "standard", "unit_amount": 1000}
CARD = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2035,
        "token": "tok_visa"}
_AREAS = ("415", "628", "510", "650", "925")
_STARTED = time.perf_counter()


# -- output ------------------------------------------------------------------------------

def progress(message: str) -> None:
    """Progress goes to stderr, stamped with the time since the run started."""
    print(f"[bench {time.perf_counter() - _STARTED:7.1f}s] {message}", file=sys.stderr,
          flush=True)


def figure(name: str, value: float | None, unit: str, *, target: tuple[str, float] | None = None,
           note: str = "") -> dict[str, Any]:
    """One measured figure. `target` is (">=" or "<=", threshold) in the figure's unit."""
    return {"name": name, "value": value, "unit": unit, "target": target, "note": note}


def met(fig: dict[str, Any]) -> bool | None:
    target, value = fig["target"], fig["value"]
    if target is None or value is None:
        return None
    op, threshold = target
    return bool(value >= threshold) if op == ">=" else bool(value <= threshold)


# -- timing ------------------------------------------------------------------------------

def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of the samples."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latencies(call: Callable[[], Any], *, n: int, warmup: int) -> list[float]:
    """Seconds taken by each of `n` calls, after `warmup` calls that are not counted."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t0)
    return samples


def latency_figures(label: str, samples: list[float], *, p99_target_ms: float | None = None,
                    p50_target_ms: float | None = None) -> list[dict[str, Any]]:
    p50 = percentile(samples, 50) * 1000
    p99 = percentile(samples, 99) * 1000
    return [
        figure(f"{label} p50", p50, "ms",
               target=("<=", p50_target_ms) if p50_target_ms is not None else None,
               note=f"{len(samples)} calls"),
        figure(f"{label} p99", p99, "ms",
               target=("<=", p99_target_ms) if p99_target_ms is not None else None,
               note=f"{len(samples)} calls, max {max(samples) * 1000:.2f} ms"),
    ]


def timed_reads(backend: str, reads: dict[str, Callable[[], Any]], *, calls: int,
                p99_target_ms: float, where: str,
                profiles: dict[str, str]) -> list[dict[str, Any]]:
    """Each read's latency figures over `calls` calls (after a warm-up); a read that misses
    its target is profiled into `profiles`, so the run says where its time goes."""
    figures: list[dict[str, Any]] = []
    for name, read in reads.items():
        progress(f"view reads {where}: {calls} × {name}")
        figs = latency_figures(f"{backend} {name}", latencies(read, n=calls, warmup=20),
                               p99_target_ms=p99_target_ms)
        figures += figs
        if not all(met(f) is not False for f in figs):
            text, _ = profile(lambda read=read: [read() for _ in range(100)])
            profiles[f"{backend}: 100 × {name}"] = text
    return figures


def _table(stats: pstats.Stats, order: str, top: int) -> str:
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats(order).print_stats(top)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines() if line.strip())


def profile(call: Callable[[], Any], *, top: int = 15,
            internal: int = 10) -> tuple[str, pstats.Stats]:
    """Runs `call` under cProfile; the top entries by cumulative time and, after them, the
    functions with the most time of their own, as text."""
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        call()
    finally:
        profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs()
    text = _table(stats, "cumulative", top)
    if internal:
        text += "\n\n" + _table(stats, "tottime", internal)
    return text, stats


# -- databases ---------------------------------------------------------------------------

def server_url() -> str:
    return (os.environ.get("PORTAL_BENCH_POSTGRES_URL")
            or os.environ.get("PORTAL_TEST_POSTGRES_URL") or DEFAULT_PG)


def _with_db(url: str, dbname: str) -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{dbname}"))


def postgres_problem() -> str | None:
    """None when the PostgreSQL server answers; otherwise why not."""
    try:
        with psycopg.connect(server_url(), autocommit=True, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as e:
        return f"PostgreSQL unreachable at {urlparse(server_url()).hostname}: {e}".strip()
    return None


def postgres_version() -> str | None:
    try:
        with psycopg.connect(server_url(), autocommit=True, connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.OperationalError:
        return None
    return str(row[0]) if row else None


@contextmanager
def scratch_postgres(tag: str) -> Iterator[str]:
    """A new database on the server for one benchmark, dropped afterwards."""
    name = f"bench_{tag}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_db(server_url(), name)
    finally:
        with psycopg.connect(server_url(), autocommit=True) as conn:
            # A partitioned service creates sibling databases `<name>_p<i>`.
            siblings = [r[0] for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{name}_p%",))]
            for database in [name, *siblings]:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@contextmanager
def scratch_sqlite(tag: str) -> Iterator[str]:
    """A new SQLite file in a temporary directory, removed afterwards."""
    directory = tempfile.mkdtemp(prefix=f"bench_{tag}_")
    try:
        yield f"sqlite:///{directory}/ledger.db"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def scratch(backend: str, tag: str) -> Any:
    return scratch_postgres(tag) if backend == "postgres" else scratch_sqlite(tag)


def settings_for(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"database_url": url, "clock": "manual",
                              "clock_start": PERIOD_START, "admin_token": ADMIN_TOKEN}
    values.update(overrides)
    return Settings(**values)


def start_ledger(url: str, **overrides: Any) -> Ledger:
    """The service as `build` wires it (default pools and cache), on a manual clock."""
    return build(settings_for(url, **overrides))


def event_count(ledger: Ledger) -> int:
    return ledger.app.recorder.max_notification_id() or 0


# -- seeding -----------------------------------------------------------------------------

def phone_number(i: int) -> str:
    """The i-th number of the fictional 555 exchanges (50,000 distinct numbers)."""
    return f"+1{_AREAS[i // 10_000]}555{i % 10_000:04d}"


@dataclass
class BigPartner:
    """A partner with many lines and a month of changes, caught up, on its own ledger."""

    backend: str
    ledger: Ledger
    partner_id: UUID
    now: datetime
    live_lines: int
    commands: int
    seed_seconds: float
    catch_up_seconds: float
    events: int
    changes: dict[str, int] = field(default_factory=dict)

    @property
    def seed_rate(self) -> float:
        return self.commands / self.seed_seconds


def handled(ledger: Ledger, command: Command[R], actor: Actor) -> R:
    """A command's handler alone: `execute` without its catch-up (a seed catches up once
    at its end; a benchmark times the catch-up apart). Single-threaded: no lost races.
    One attempt as `execute` runs it (own writes loaded without a select)."""
    if command.outside_effect:
        answer: R = handler_for(command)(ledger, command, actor, ledger.clock.now())
        return answer
    return attempt(ledger, command, actor=actor)


def seed_big_partner(backend: str, ledger: Ledger, *, lines: int, sub_accounts: int = 20,
                     seed: int = 7) -> BigPartner:
    """One partner: 90% of `lines` provisioned on the period's first day (a fifth of them
    in the pool, the rest spread over the sub-accounts), then on each of the next 27 days
    new lines, assignments from the pool, approved moves, approved deletions and
    unassignments. The clock ends on day 28 at 18:00; views are caught up once at the end."""
    rng = random.Random(seed)
    app, clock = ledger.app, ledger.manual_clock
    t0 = time.perf_counter()
    commands = 0
    partner = app.create_partner(name="Big Resale", currency="USD", billing_anchor_day=1,
                                 pricing=GRADUATED, actor=OPS)
    pid = partner.id
    ledger.billing.add_payment_method(partner_id=pid, actor=OPS, **CARD)
    subs = [app.create_sub_account(partner_id=pid, name=f"Team {k:02d}", actor=OPS).id
            for k in range(sub_accounts)]
    commands += 2 + sub_accounts
    pool: list[UUID] = []
    placed: dict[UUID, UUID] = {}  # line → its sub-account
    numbers = iter(range(lines))

    def provision(k: int) -> None:
        nonlocal commands
        sub = subs[k % sub_accounts] if k % 5 else None
        line = app.provision_line(partner_id=pid, phone_number=phone_number(next(numbers)),
                                  sub_account_id=sub, actor=OPS)
        commands += 1
        if sub is None:
            pool.append(line.id)
        else:
            placed[line.id] = sub

    initial = lines * 9 // 10
    for k in range(initial):
        provision(k)
        if k and k % 2000 == 0:
            progress(f"  {backend}: {k:,}/{lines:,} lines provisioned")
    later = lines - initial
    days = 27
    per_day = max(2, lines // 400)
    changes = {"provisioned_later": 0, "assigned": 0, "moved": 0, "deleted": 0,
               "unassigned": 0}
    for d in range(1, days + 1):
        day = PERIOD_START + timedelta(days=d)
        clock.set(day + timedelta(hours=8))
        for k in range(later * d // days - later * (d - 1) // days):
            provision(initial + k)
            changes["provisioned_later"] += 1
        clock.set(day + timedelta(hours=10))
        for _ in range(min(per_day, len(pool))):
            line_id = pool.pop(rng.randrange(len(pool)))
            sub = rng.choice(subs)
            handled(ledger, AssignLine(partner_id=pid, line_id=line_id, sub_account_id=sub),
                    OPS)
            placed[line_id] = sub
            commands += 1
            changes["assigned"] += 1
        clock.set(day + timedelta(hours=12))
        for line_id in rng.sample(sorted(placed), min(per_day, len(placed))):
            target = rng.choice([s for s in subs if s != placed[line_id]])
            handled(ledger, RequestLineMove(partner_id=pid, line_id=line_id,
                                            sub_account_id=target), OPS)
            handled(ledger, ApproveLineMove(partner_id=pid, line_id=line_id), SUPPORT)
            placed[line_id] = target
            commands += 2
            changes["moved"] += 1
        clock.set(day + timedelta(hours=14))
        for _ in range(per_day):
            from_pool = pool and rng.random() < 0.3
            if from_pool:
                line_id = pool.pop(rng.randrange(len(pool)))
            else:
                line_id = rng.choice(sorted(placed))
                del placed[line_id]
            handled(ledger, RequestLineDelete(partner_id=pid, line_id=line_id), OPS)
            handled(ledger, ApproveLineDelete(partner_id=pid, line_id=line_id), SUPPORT)
            commands += 2
            changes["deleted"] += 1
        clock.set(day + timedelta(hours=16))
        for line_id in rng.sample(sorted(placed), min(per_day // 2, len(placed))):
            handled(ledger, UnassignLine(partner_id=pid, line_id=line_id), OPS)
            del placed[line_id]
            pool.append(line_id)
            commands += 1
            changes["unassigned"] += 1
        if d % 7 == 0:
            progress(f"  {backend}: day {d + 1} of the month seeded")
    clock.set(PERIOD_START + timedelta(days=days, hours=18))
    seed_seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    ledger.caught_up()
    catch_up_seconds = time.perf_counter() - t1
    return BigPartner(backend=backend, ledger=ledger, partner_id=pid, now=clock.now(),
                      live_lines=len(pool) + len(placed), commands=commands,
                      seed_seconds=seed_seconds, catch_up_seconds=catch_up_seconds,
                      events=event_count(ledger), changes=changes)


class Context:
    """What one run shares between benchmarks: the mode, PostgreSQL's availability, and
    the big-partner ledgers (seeded once per backend, used by several benchmarks)."""

    def __init__(self, *, quick: bool) -> None:
        self.quick = quick
        self.postgres_problem = postgres_problem()
        self._big: dict[str, BigPartner] = {}
        self._scratch: list[Any] = []
        self._million: Any = None
        self._million_db: Any = None

    @property
    def backends(self) -> list[str]:
        return [b for b in BACKENDS if b != "postgres" or self.postgres_problem is None]

    @property
    def big_lines(self) -> int:
        return 2_000 if self.quick else 10_000

    def big_partner(self, backend: str) -> BigPartner:
        if backend not in self._big:
            db = scratch(backend, "big")
            url = db.__enter__()
            self._scratch.append(db)
            ledger = start_ledger(url)
            progress(f"seeding a partner with {self.big_lines:,} lines and a month of changes "
                     f"on {backend}")
            big = seed_big_partner(backend, ledger, lines=self.big_lines)
            progress(f"  {backend}: {big.commands:,} commands in {big.seed_seconds:.1f}s "
                     f"({big.seed_rate:,.0f}/s), catch-up of {big.events:,} events in "
                     f"{big.catch_up_seconds:.1f}s")
            self._big[backend] = big
        return self._big[backend]

    def million(self) -> Any:
        """The long log on PostgreSQL (1,000,000 events; 50,000 in quick mode), seeded and
        caught up once, shared by the as-of, rebuild, export, view-read and HTTP benchmarks
        (see `bench/million.py`)."""
        from bench import million

        if self._million is None:
            if self.postgres_problem:
                raise RuntimeError(self.postgres_problem)
            sizes = million.QUICK if self.quick else million.FULL
            db = scratch_postgres("million")
            url = db.__enter__()
            self._million_db = db
            progress(f"seeding a log of {sizes.events:,} events on postgres")
            self._million = million.seed(start_ledger(url), url, sizes)
        return self._million

    def release_million(self) -> None:
        if self._million is not None:
            self._million.ledger.close()
            self._million = None
        if self._million_db is not None:
            self._million_db.__exit__(None, None, None)
            self._million_db = None

    def release_big_partners(self) -> None:
        for big in self._big.values():
            big.ledger.close()
        self._big.clear()
        while self._scratch:
            self._scratch.pop().__exit__(None, None, None)
