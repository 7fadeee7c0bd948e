"""Fault isolation per partition: one sick database is not every partner's outage.

Each partition has a `PartitionGuard`: a circuit breaker (service/runtime/circuit_breaker.py), a
probe (a fresh connection and one `SELECT 1`, or opening the SQLite file), and hooks on
the partition's two datastores (event store, read model):

* before a connection is taken, an open breaker refuses at once: `PartitionUnavailable`
  (503 `partition_unavailable` over HTTP) without waiting on the pool or the server;
* a connection failure (no connection within the pool's wait, a connection the server
  dropped or pgBouncer closed, any `psycopg.OperationalError` such as pgBouncer's
  `server conn crashed?` or `query_wait_timeout`, or an AdminShutdown) runs the probe;
  when the probe fails too the breaker opens and the request gets `PartitionUnavailable`
  instead of the library's ten retries. When the probe answers, the failure was one
  connection's (a stale or killed one, a busy pool): `ConnectionLost` is raised, which the
  library retries on another connection like its own OperationalError and which, where
  nothing retries (a read, the idempotency claim) or the retries run out, answers 503
  `partition_unavailable` like an outage: never a 500;
* the probe and the pool's pre-ping wait at most `PING_SECONDS` for their answer: behind
  pgBouncer a query sent while the server is going down waits in pgBouncer's queue (up to
  its `query_wait_timeout`) instead of failing;
* the pool waits at most `POOL_WAIT_SECONDS` for a connection per attempt, and a new
  connection at most `CONNECT_TIMEOUT_SECONDS` (libpq's minimum), so no request thread
  sits for long on a server that stopped answering;
* a `PartitionMonitor` thread probes open breakers every `probe_interval` seconds; a
  probe that answers first flushes the pools' stale connections, then closes the breaker.
"""

from __future__ import annotations

import logging
import select
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from eventsourcing.persistence import OperationalError, PersistenceError
from psycopg import pq

from service.runtime.circuit_breaker import CircuitBreaker, State
from service.runtime.settings import Settings

log = logging.getLogger(__name__)

PROBE_INTERVAL_SECONDS = 0.5
# libpq (and psycopg) never wait less than two seconds for a new connection.
CONNECT_TIMEOUT_SECONDS = 2
# The longest one attempt waits for a pooled connection; the library retries after it.
POOL_WAIT_SECONDS = 1.0
# The longest the probe and the pool's pre-ping wait for their answer once connected.
PING_SECONDS = 2.0


class PartitionUnavailable(PersistenceError):
    """The partition's database does not answer: its partners get 503, others are served.
    A PersistenceError, so code that tolerates a database failure tolerates this one."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"partition {index} is unavailable: {reason}")
        self.index = index
        self.reason = reason


class ConnectionLost(PartitionUnavailable, OperationalError):
    """One connection of a partition failed while its database still answers the probe (a
    killed session, a stale connection, a busy pool). An OperationalError, so the library
    retries it on another connection; a PartitionUnavailable, so where nothing retries it
    answers 503 `partition_unavailable` (retry later), never a 500."""


def ping(conn: psycopg.Connection[Any], timeout: float = PING_SECONDS,
         query: bytes = b"SELECT 1") -> None:
    """Runs `query` on `conn`, waiting at most `timeout` seconds for the answer (psycopg
    itself would wait for ever: behind pgBouncer, a query meeting a server that went down
    waits in pgBouncer's queue). Raises psycopg.OperationalError when no answer came; the
    caller closes or discards `conn` then (it is left busy)."""
    pgconn = conn.pgconn
    deadline = time.monotonic() + timeout

    def wait(readable: bool) -> None:
        remaining = deadline - time.monotonic()
        poller = select.poll()  # not select.select: a busy process has sockets past 1024
        poller.register(pgconn.socket, select.POLLIN if readable else select.POLLOUT)
        if remaining <= 0 or not poller.poll(remaining * 1000):
            raise psycopg.OperationalError(f"no answer within {timeout:g} s")

    pgconn.send_query(query)
    while pgconn.flush():  # the connection is non-blocking: send what is left
        wait(readable=False)
    while True:
        pgconn.consume_input()
        if not pgconn.is_busy():
            break
        wait(readable=True)
    failure = ""
    while (result := pgconn.get_result()) is not None:  # every result, or libpq stays busy
        if result.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK,
                                 pq.ExecStatus.EMPTY_QUERY):
            message = (result.error_message or b"").decode(errors="replace").strip()
            failure = failure or message or f"the query failed ({result.status})"
    if failure:
        raise psycopg.OperationalError(failure)


def _pre_ping(conn: psycopg.Connection[Any]) -> None:
    """The pool's check before it hands a connection out, bounded by `ping`."""
    ping(conn, query=b"")


def probe_for(settings: Settings) -> Callable[[], None]:
    """A check that raises unless the partition's database answers now."""
    if settings.is_postgres:
        url = settings.database_url

        def probe_postgres() -> None:
            conn = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS,
                                   autocommit=True)
            try:
                ping(conn)
            finally:
                conn.close()  # a probe left waiting in pgBouncer's queue leaves it

        return probe_postgres
    path = settings.database_url.removeprefix("sqlite:///")

    def probe_sqlite() -> None:
        # mode=rw: a missing file is a failure here, not a new empty database.
        conn = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=1)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()

    return probe_sqlite


def first_start_check(settings: Settings) -> Callable[[], None]:
    """The probe before a partition is built: a database that does not exist yet is
    fine (the build creates it); one that exists and does not answer is not."""
    probe = probe_for(settings)

    def check() -> None:
        if not settings.is_postgres:
            if Path(settings.database_url.removeprefix("sqlite:///")).exists():
                probe()
            return
        try:
            probe()
        except psycopg.OperationalError as error:
            if "does not exist" not in str(error):
                raise

    return check


class PartitionGuard:
    def __init__(self, index: int, probe: Callable[[], None], *,
                 probe_interval: float = PROBE_INTERVAL_SECONDS) -> None:
        self.index = index
        self.probe = probe
        self.breaker = CircuitBreaker(probe_interval=probe_interval)
        self.datastores: list[Any] = []
        # Requests of this partition under way in the API process (service/api/partition_gate.py).
        self.in_flight = 0
        # Run when a failure opens the breaker (the cluster starts its monitor then).
        self.on_open: list[Callable[[], None]] = []
        # Run once a probe closed the breaker, when requests go through again (the work
        # a partition taken up after the start still owes: service/runtime/partitions.py).
        self.on_up: list[Callable[[], None]] = []
        self._answered_at = 0.0  # monotonic time of the last probe that answered
        self.breaker.on_close(self._flush_pools)

    @property
    def status(self) -> str:
        return "ok" if self.breaker.allows else "unavailable"

    def check(self) -> None:
        """Raises PartitionUnavailable while the breaker is not closed."""
        if not self.breaker.allows:
            raise PartitionUnavailable(self.index, self.breaker.reason or "not yet reached")

    def mark_down(self, reason: str) -> None:
        """The partition could not even be built (start-up with its server down)."""
        if self.breaker.failed(reason):
            log.error("partition %s is unavailable: %s", self.index, reason)
            self._opened()

    def connection_failed(self, error: BaseException) -> None:
        """A request's connection failed: opens the breaker and raises PartitionUnavailable
        when the probe fails too; returns (the caller re-raises `error`) when the database
        answers, so a stale connection or a busy pool costs no 503."""
        self.check()
        if time.monotonic() - self._answered_at < self.breaker.probe_interval:
            return  # the database answered a moment ago: a busy pool, not a dead server
        try:
            self.probe()
        except Exception as probed:
            reason = f"{type(error).__name__}: {error}".strip()
            if self.breaker.failed(reason):
                log.error("partition %s is unavailable (%s); refusing its requests until "
                          "a probe answers", self.index, probed)
                self._opened()
            raise PartitionUnavailable(self.index, reason) from error
        self._answered_at = time.monotonic()

    def _opened(self) -> None:
        for listener in self.on_open:
            try:
                listener()
            except Exception:
                log.exception("partition %s: a listener failed on opening", self.index)

    def try_probe(self) -> bool:
        """One half-open probe if one is due; True when it closed the breaker."""
        if not self.breaker.begin_probe():
            return False
        try:
            self.probe()
        except Exception as error:
            self.breaker.probe_failed(f"{type(error).__name__}: {error}".strip())
            return False
        try:
            self.breaker.probe_succeeded()
        except Exception:
            log.exception("partition %s answers, but could not be taken up again", self.index)
            return False
        log.warning("partition %s answers again", self.index)
        for listener in self.on_up:
            try:
                listener()
            except Exception:  # the next pass (catch-up, dunning) does it instead
                log.exception("partition %s: its work on answering again failed", self.index)
        return True

    def _flush_pools(self) -> None:
        # Connections pooled before the outage are dead: check them all before the first
        # request takes one (psycopg_pool replaces the broken ones).
        for datastore in self.datastores:
            check = getattr(getattr(datastore, "pool", None), "check", None)
            if callable(check) and hasattr(datastore.pool, "kwargs"):
                check()

    # -- the hooks on the datastores -------------------------------------------------------

    def attach(self, *datastores: Any) -> None:
        for datastore in datastores:
            if any(datastore is known for known in self.datastores):
                continue
            self.datastores.append(datastore)
            if hasattr(datastore.pool, "kwargs"):  # psycopg_pool: PostgreSQL
                _guard_postgres(datastore, self)
            else:
                _guard_sqlite(datastore, self)


def _guard_postgres(datastore: Any, guard: PartitionGuard) -> None:
    pool = datastore.pool
    pool.timeout = min(pool.timeout, POOL_WAIT_SECONDS)
    pool.kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    if getattr(pool, "_check", None) is not None:  # pre-ping on: bound its wait
        pool._check = _pre_ping
    original = datastore.get_connection

    def lost(error: BaseException) -> ConnectionLost:
        """Runs the probe (PartitionUnavailable when it fails too); the retryable
        failure of one connection when the database answers."""
        guard.connection_failed(error)
        reason = f"{type(error).__name__}: {error}".strip()
        return ConnectionLost(guard.index, f"a connection failed ({reason})")

    @contextmanager
    def get_connection() -> Iterator[Any]:
        guard.check()
        acquired = False
        try:
            with original() as conn:
                acquired = True
                try:
                    yield conn
                except Exception as error:
                    # The server (or pgBouncer) went away under the statement: a dropped
                    # connection, whatever the exception (a failed ROLLBACK lets a
                    # `psycopg.Rollback` out), or an error of the connection class.
                    if conn.broken or isinstance(error, psycopg.OperationalError | \
                                                 psycopg.InterfaceError):
                        raise lost(error) from error
                    raise
        except PersistenceError as error:
            if not acquired and not isinstance(error, PartitionUnavailable):
                raise lost(error) from error
            raise

    datastore.get_connection = get_connection


def _guard_sqlite(datastore: Any, guard: PartitionGuard) -> None:
    original = datastore.get_connection

    @contextmanager
    def get_connection(*, commit: bool) -> Iterator[Any]:
        guard.check()
        acquired = False
        try:
            with original(commit=commit) as conn:
                acquired = True
                yield conn
        except Exception as error:
            if not acquired and not isinstance(error, PartitionUnavailable):
                guard.connection_failed(error)  # the file cannot be opened
            raise

    datastore.get_connection = get_connection


class UnbuiltPartition:
    """Stands for a partition whose database did not answer when the process started:
    every use raises PartitionUnavailable until a probe answers and the cluster builds
    the partition in its place (service/runtime/partitions.py)."""

    def __init__(self, guard: PartitionGuard) -> None:
        self._guard = guard

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise PartitionUnavailable(self._guard.index,
                                   self._guard.breaker.reason or "not built yet")


class PartitionMonitor:
    """Probes the open breakers of `guards` every `interval` seconds, on its own thread."""

    def __init__(self, guards: Sequence[PartitionGuard], *,
                 interval: float = PROBE_INTERVAL_SECONDS) -> None:
        self.guards = guards
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="partition-monitor",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval / 2):
            self.probe_once()

    def probe_once(self) -> None:
        for guard in list(self.guards):
            if guard.breaker.state is State.OPEN:
                guard.try_probe()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
