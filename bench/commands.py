"""Commands per second in-process with the views caught up (issue 7: ≥ 2,000/s on
SQLite, ≥ 1,000/s on PostgreSQL), each beside two baselines measured in the same process
on the same backend:

- bare inserts: sqlite3 / psycopg, one row (about an event's size) per transaction;
- the bare library: an eventsourcing `Application` saving one small aggregate a command,
  no views (creates, then get-and-update without and with the aggregate cache).

Our command is `PauseSending` / `ResumeSending` (its handler, then its catch-up, as
`execute` runs them; `caught_up_after` skips it when the views took the command's
events): a command is done when the views reflect it. The same command is also timed
without the catch-up, and the catch-up of those commands in one go, so that the figures
show where a command's time goes. A missed target gets a profile.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from bench.common import (
    OPS,
    Context,
    figure,
    handled,
    met,
    phone_number,
    profile,
    progress,
    scratch,
    settings_for,
    start_ledger,
)
from service.commands import own_writes
from service.commands.execute import caught_up_after
from service.commands.lines import PauseSending, ResumeSending
from service.commands.version_races import with_retries

TITLE = "Commands per second in-process, views caught up"
TARGETS = {"sqlite": 2_000.0, "postgres": 1_000.0}
PAYLOAD = b'{"actor_id":"bench-ops","actor_role":"operations","timestamp":' \
          b'{"_type_":"datetime_iso","_data_":"2026-01-01T00:00:00+00:00"},' \
          b'"originator_topic":"aggregates.line:Line","reason":null}' + b" " * 40


class Tally(Aggregate):
    """The bare library's aggregate: one small event a command."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


class BareApplication(Application[UUID]):
    name = "barelib"


# -- baselines ---------------------------------------------------------------------------

def bare_insert_sqlite(path: Path, n: int, *, synchronous: str | None = None) -> float:
    """WAL like the library; `synchronous` left at the default (FULL) as the library
    leaves it, unless given."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        if synchronous:
            conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("CREATE TABLE bare (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                     "originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL, "
                     "topic TEXT NOT NULL, state BLOB NOT NULL)")
        t0 = time.perf_counter()
        for i in range(n):
            conn.execute("BEGIN")
            conn.execute("INSERT INTO bare (originator_id, originator_version, topic, state) "
                         "VALUES (?, ?, ?, ?)", (str(uuid4()), i, "bench:Row", PAYLOAD))
            conn.execute("COMMIT")
        return n / (time.perf_counter() - t0)
    finally:
        conn.close()


def bare_insert_postgres(url: str, n: int) -> float:
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE bare (id BIGSERIAL PRIMARY KEY, originator_id UUID NOT NULL, "
                     "originator_version INTEGER NOT NULL, topic TEXT NOT NULL, "
                     "state BYTEA NOT NULL)")
        conn.commit()
        t0 = time.perf_counter()
        for i in range(n):
            conn.execute("INSERT INTO bare (originator_id, originator_version, topic, state) "
                         "VALUES (%s, %s, %s, %s)", (uuid4(), i, "bench:Row", PAYLOAD))
            conn.commit()
        return n / (time.perf_counter() - t0)


def bare_library(env: dict[str, str], n: int) -> dict[str, float]:
    app = BareApplication(env=env)
    cached = BareApplication(env={**env, "AGGREGATE_CACHE_MAXSIZE": str(n)})
    try:
        ids = []
        t0 = time.perf_counter()
        for i in range(n):
            tally = Tally(name=f"t{i}")
            app.save(tally)
            ids.append(tally.id)
        creates = n / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for tally_id in ids:
            tally = app.repository.get(tally_id)
            tally.increment()
            app.save(tally)
        updates = n / (time.perf_counter() - t0)
        for tally_id in ids:  # fill the second instance's cache
            cached.repository.get(tally_id)
        t0 = time.perf_counter()
        for tally_id in ids:
            tally = cached.repository.get(tally_id)
            tally.increment()
            cached.save(tally)
        cached_updates = n / (time.perf_counter() - t0)
    finally:
        app.close()
        cached.close()
    return {"creates": creates, "get-and-update": updates,
            "get-and-update, aggregate cache": cached_updates}


# -- our command -------------------------------------------------------------------------

class Toggler:
    """Pauses and resumes sending on a fixed set of active lines, one command each."""

    def __init__(self, ledger: Any, partner_id: UUID, lines: list[UUID]) -> None:
        self.ledger = ledger
        self.partner_id = partner_id
        self.lines = lines
        self.paused = dict.fromkeys(lines, False)
        self.turn = itertools.count()
        self.command_seconds = 0.0
        self.catch_up_seconds = 0.0

    def sync(self) -> None:
        """Reads each line's sending state back (after other togglers used the lines)."""
        self.paused = {line: self.ledger.app.line(self.partner_id, line).sending == "paused"
                       for line in self.lines}

    def command(self) -> None:
        line = self.lines[next(self.turn) % len(self.lines)]
        step = ResumeSending if self.paused[line] else PauseSending
        with_retries(lambda _: handled(self.ledger, step(partner_id=self.partner_id,
                                                         line_id=line), OPS))
        self.paused[line] = not self.paused[line]

    def command_and_catch_up(self) -> None:
        self.command()
        self.catch_up()

    def catch_up(self) -> None:
        """The catch-up as `execute` runs it after the command: skipped when the service
        knows the views took the command's events in its insert (nothing else to do)."""
        caught_up_after(self.ledger, own_writes.LAST_RECORDED.get())

    def timed(self, n: int) -> float:
        """Commands per second, each followed by the catch-up; splits the time."""
        self.command_seconds = self.catch_up_seconds = 0.0
        t0 = time.perf_counter()
        for _ in range(n):
            a = time.perf_counter()
            self.command()
            b = time.perf_counter()
            self.catch_up()
            c = time.perf_counter()
            self.command_seconds += b - a
            self.catch_up_seconds += c - b
        return n / (time.perf_counter() - t0)


THREADS = 8


def concurrent(ledger: Any, partner_id: UUID, lines: list[UUID], n: int) -> tuple[float, float]:
    """Commands per second from THREADS threads of one process, each on its own lines and
    each command followed by `caught_up()`, as concurrent API requests run; and the
    commands per insert transaction that group commit made of them."""
    shares = [lines[i::THREADS] for i in range(THREADS)]
    togglers = [Toggler(ledger, partner_id, share) for share in shares]
    for toggler in togglers:
        toggler.sync()
    group = ledger.app.group_commit
    before = (group.batches, group.saves) if group else (0, 0)
    start = threading.Barrier(THREADS + 1)

    def work(toggler: Toggler) -> None:
        start.wait()
        for _ in range(n // THREADS):
            toggler.command_and_catch_up()

    threads = [threading.Thread(target=work, args=(t,)) for t in togglers]
    for thread in threads:
        thread.start()
    start.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    rate = (n // THREADS) * THREADS / (time.perf_counter() - t0)
    if not group:
        return rate, 1.0
    batches, saves = group.batches - before[0], group.saves - before[1]
    return rate, saves / max(batches, 1)


def count_checkouts(ledger: Any, toggler: Toggler, k: int) -> dict[str, float]:
    """Database connection checkouts per command, by phase: each is one transaction (or,
    on PostgreSQL, one autocommit use of a pooled connection). Counted by wrapping the
    datastores' `get_connection` on these instances for `k` commands (not a timed run)."""
    counts = {"command": 0, "catch_up": 0}
    phase = "command"
    stores = {id(s): s for s in (ledger.app.recorder.datastore,
                                 ledger.read_model.datastore)}.values()

    def counting(original: Any) -> Any:
        def get_connection(*args: Any, **kwargs: Any) -> Any:
            counts[phase] += 1
            return original(*args, **kwargs)
        return get_connection

    for store in stores:
        store.get_connection = counting(store.get_connection)
    try:
        for _ in range(k):
            phase = "command"
            toggler.command()
            phase = "catch_up"
            ledger.caught_up()
    finally:
        for store in stores:
            del store.get_connection
    return {p: n / k for p, n in counts.items()}


def _statement_calls(stats: Any, backend: str) -> int:
    """SQL statements sent, counted from the profile: sqlite3's execute methods, or
    psycopg's `Cursor.execute`/`executemany`."""
    total = 0
    for (filename, _, name), (_, ncalls, *_rest) in stats.stats.items():
        sqlite = "execute' of 'sqlite3." in name
        postgres = name in ("execute", "executemany") and filename == "cursor.py"
        if (sqlite and backend == "sqlite") or (postgres and backend == "postgres"):
            total += ncalls
    return total


def measure(ctx: Context, backend: str) -> tuple[list[dict[str, Any]], list[str],
                                                 dict[str, str]]:
    n = 300 if ctx.quick else 2_000
    line_count = 100 if ctx.quick else 200
    figures: list[dict[str, Any]] = []
    notes: list[str] = []
    profiles: dict[str, str] = {}
    with scratch(backend, "commands") as url:
        settings = settings_for(url)
        progress(f"commands on {backend}: bare inserts ({n})")
        if backend == "sqlite":
            directory = Path(url.removeprefix("sqlite:///")).parent
            insert_rate = bare_insert_sqlite(directory / "bare.db", n)
            normal_rate = bare_insert_sqlite(directory / "bare_normal.db", n,
                                             synchronous="NORMAL")
            library_env = {**settings.persistence_env(),
                           "SQLITE_DBNAME": str(directory / "barelib.db")}
        else:
            insert_rate = bare_insert_postgres(url, n)
            library_env = settings.persistence_env()
        progress(f"commands on {backend}: bare library ({n} each)")
        library = bare_library(library_env, n)

        progress(f"commands on {backend}: our command, {n} with catch-up")
        ledger = start_ledger(url)
        try:
            app = ledger.app
            pid = app.create_partner(name="Commands", currency="USD", billing_anchor_day=1,
                                     pricing={"structure": "standard", "unit_amount": 1000},
                                     actor=OPS).id
            sub = app.create_sub_account(partner_id=pid, name="Team", actor=OPS).id
            lines = [app.provision_line(partner_id=pid, phone_number=phone_number(i),
                                        sub_account_id=sub, actor=OPS).id
                     for i in range(line_count)]
            ledger.caught_up()
            toggler = Toggler(ledger, pid, lines)
            for _ in range(50):  # warm-up
                toggler.command_and_catch_up()
            with_views = toggler.timed(n)
            split_command = toggler.command_seconds / n * 1000
            split_catch_up = toggler.catch_up_seconds / n * 1000
            progress(f"commands on {backend}: {n} without catch-up, then one catch-up")
            t0 = time.perf_counter()
            for _ in range(n):
                toggler.command()
            alone = n / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            ledger.caught_up()
            batched_catch_up = n / (time.perf_counter() - t0)
            progress(f"commands on {backend}: {n} from {THREADS} threads")
            threaded, per_commit = concurrent(ledger, pid, lines, n)
            toggler.sync()
            target = TARGETS[backend]
            figures += [
                figure(f"{backend} command + catch-up, {THREADS} threads", threaded, "/s",
                       target=(">=", target),
                       note=f"{n} commands from {THREADS} threads of one process, each on its "
                            f"own lines; group commit recorded {per_commit:.1f} commands per "
                            "insert transaction"),
                figure(f"{backend} command + catch-up", with_views, "/s",
                       target=(">=", target),
                       note=f"{n} line pause/resume commands, each followed by "
                            f"`caught_up()`; per command {split_command:.2f} ms in the "
                            f"command, {split_catch_up:.2f} ms in the catch-up"),
                figure(f"{backend} command alone (no catch-up)", alone, "/s"),
                figure(f"{backend} catch-up of those events in one go", batched_catch_up,
                       "events/s"),
                figure(f"{backend} baseline: bare {'sqlite3' if backend == 'sqlite' else 'psycopg'}"
                       " insert, one row per transaction", insert_rate, "/s",
                       note="WAL, synchronous=FULL (SQLite's default, which the library "
                            "keeps)" if backend == "sqlite" else "one connection"),
            ]
            if backend == "sqlite":
                figures.append(figure(
                    "sqlite reference: the same bare insert with synchronous=NORMAL",
                    normal_rate, "/s", note="not the library's setting: no fsync per commit"))
            figures += [figure(f"{backend} baseline: bare library {name}", rate, "/s",
                               note="no aggregate cache (library default)"
                               if "cache" not in name else "")
                        for name, rate in library.items()]
            counts = count_checkouts(ledger, toggler, 100)
            notes.append(
                f"{backend}: database connection checkouts (a transaction, or an autocommit "
                f"use of a pooled connection) per command: {counts['command']:.1f} in the "
                f"command, {counts['catch_up']:.1f} in its `caught_up()` (counted over 100 "
                "commands).")
            if not met(figures[0]):
                k = 100 if ctx.quick else 300
                progress(f"commands on {backend}: target missed, profiling {k} commands")
                text, stats = profile(lambda: [toggler.command_and_catch_up()
                                               for _ in range(k)])
                statements = _statement_calls(stats, backend)
                profiles[f"{backend}: {k} × (command + caught_up), top 15 by cumulative "
                         f"time; {statements / k:.1f} SQL statements per command"] = text
                notes.append(f"{backend}: {statements / k:.1f} SQL statements executed per "
                             f"command with its catch-up (counted in the profile).")
        finally:
            ledger.close()
    return figures, notes, profiles


def run(ctx: Context) -> dict[str, Any]:
    figures: list[dict[str, Any]] = []
    notes: list[str] = []
    profiles: dict[str, str] = {}
    for backend in ctx.backends:
        f, n, p = measure(ctx, backend)
        figures += f
        notes += n
        profiles.update(p)
    if ctx.postgres_problem:
        figures.append(figure("postgres", None, "", note=ctx.postgres_problem))
    return {"figures": figures, "notes": notes, "profiles": profiles}
