"""Verification as a background job, one at a time across every process.

A verification walks the whole log (service/ops/verification.py), so a call must never start
a walk of its own: `start()` answers the job already running, or claims the single
running slot and starts one in a thread of this process. The jobs live in the home
partition's database (`s_verify_jobs`), so any API process answers a poll for any job,
and the slot is one row: the `running` column is 1 for the running job and NULL for the
others, and its UNIQUE constraint lets only one claim win, on SQLite and PostgreSQL alike.

A job that stops without finishing (its process killed) leaves its row running; the
process running a job touches `heartbeat_at` every `HEARTBEAT_SECONDS`, and a claim finds
a running job silent for `STALE_SECONDS` abandoned, marks it failed and starts another.
Job times are wall-clock times (not the service clock, which a manual setting may hold
still): they say when the work actually ran.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.encoders import jsonable_encoder

from projections.read_model import ReadModel
from projections.sql import Sql
from projections.times import api_time, stored
from service.ops.verification import Report, verify_all
from service.runtime.bootstrap import Ledger, schema_lock
from service.runtime.settings import Settings

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 60.0
KEEP = 20  # finished jobs kept for polling; older ones are deleted at the next claim
DDL = (
    "CREATE TABLE IF NOT EXISTS s_verify_jobs (id TEXT PRIMARY KEY, running INTEGER UNIQUE, "
    "status TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, "
    "heartbeat_at TEXT NOT NULL, events_done BIGINT NOT NULL, events_total BIGINT NOT NULL, "
    "result TEXT, error TEXT)",
)
RUNNING, PASSED, FAILED = "running", "passed", "failed"


class Stopped(Exception):
    """The service is shutting down: the walk stops at its next batch."""


def _now() -> datetime:
    return datetime.now(UTC)


def job_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "status": row["status"],
        "started_at": api_time(row["started_at"]),
        "finished_at": api_time(row["finished_at"]),
        # Log positions walked, of the last one (summed over partitions): a rough share.
        "progress": {"done": int(row["events_done"]), "total": int(row["events_total"])},
        "result": json.loads(row["result"]) if row["result"] else None,
        "error": row["error"],
    }


@dataclass
class _Running:
    """A job this process runs: its thread, how far the walk got, and its stop signal."""

    job_id: str
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    done: int = 0
    total: int = 0


class VerifyJobs:
    """The verification jobs of one deployment, as this process sees and runs them."""

    def __init__(self, ledgers: list[Ledger], *, settings: Settings,
                 run: Callable[..., Report] = verify_all) -> None:
        self.ledgers = ledgers
        self.settings = settings
        self._run = run
        self._guard = threading.Lock()
        self._created = False
        self._running: _Running | None = None

    @property
    def read_model(self) -> ReadModel:
        return self.ledgers[0].read_model

    def _ensure_table(self) -> None:
        # Created on first use: PostgreSQL's CREATE ... IF NOT EXISTS is not safe against
        # a concurrent twin, hence the schema lock the other tables are created under.
        if self._created:
            return
        with schema_lock(self.settings), self.read_model.writing() as sql:
            for statement in DDL:
                sql.run(statement)
        self._created = True

    # -- reading ----------------------------------------------------------------------

    def get(self, job_id: str) -> dict[str, Any] | None:
        self._ensure_table()
        with self.read_model.reading() as sql:
            row = sql.one("SELECT * FROM s_verify_jobs WHERE id = ?", job_id)
        return job_json(row) if row else None

    # -- starting ---------------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        """The running job, or a new one started here when none runs."""
        self._ensure_table()
        with self._guard:  # one claim at a time in this process; the row guards the rest
            row, claimed = self._claim()
            if claimed:
                self._launch(row["id"])
        return job_json(row)

    def _claim(self) -> tuple[dict[str, Any], bool]:
        now = _now()
        with self.read_model.writing() as sql:
            running = sql.one("SELECT * FROM s_verify_jobs WHERE running = 1")
            if running is not None:
                if running["heartbeat_at"] >= stored(now - timedelta(seconds=STALE_SECONDS)):
                    return running, False
                sql.run("UPDATE s_verify_jobs SET running = NULL, status = ?, finished_at = ?, "
                        "error = ? WHERE id = ? AND running = 1", FAILED, stored(now),
                        "abandoned: the process running it stopped answering", running["id"])
            job_id = str(uuid.uuid4())
            # A concurrent claim on PostgreSQL waits here for the other's commit, then
            # inserts nothing: the slot is taken, and the winner's job is answered.
            won = sql.one("INSERT INTO s_verify_jobs (id, running, status, started_at, "
                          "heartbeat_at, events_done, events_total) VALUES "
                          "(?, 1, ?, ?, ?, 0, 0) ON CONFLICT (running) DO NOTHING "
                          "RETURNING id", job_id, RUNNING, stored(now), stored(now))
            if won is None:
                winner = sql.one("SELECT * FROM s_verify_jobs WHERE running = 1")
                assert winner is not None
                return winner, False
            self._prune(sql)
            row = sql.one("SELECT * FROM s_verify_jobs WHERE id = ?", job_id)
            assert row is not None
            return row, True

    @staticmethod
    def _prune(sql: Sql) -> None:
        kept = sql.all("SELECT id FROM s_verify_jobs WHERE running IS NULL "
                       "ORDER BY started_at DESC LIMIT ?", KEEP)
        if len(kept) == KEEP:
            oldest = sql.scalar("SELECT started_at FROM s_verify_jobs WHERE id = ?",
                                kept[-1]["id"])
            sql.run("DELETE FROM s_verify_jobs WHERE running IS NULL AND started_at < ?",
                    oldest)

    def _launch(self, job_id: str) -> None:
        running = _Running(job_id=job_id)
        running.thread = threading.Thread(target=self._work, args=(running,), daemon=True,
                                          name=f"verify-{job_id[:8]}")
        self._running = running
        running.thread.start()

    # -- running ----------------------------------------------------------------------

    def _work(self, running: _Running) -> None:
        job_id = running.job_id
        finished = threading.Event()

        def progress(done: int, total: int) -> None:
            running.done, running.total = done, total
            if running.stop.is_set():
                raise Stopped("the service shut down during the verification")

        def beat() -> None:
            while not finished.wait(HEARTBEAT_SECONDS):
                try:
                    self._touch(running)
                except Exception:  # a missed beat is retried; the job goes on
                    log.warning("verify job %s: heartbeat not recorded", job_id, exc_info=True)

        heart = threading.Thread(target=beat, daemon=True, name=f"verify-beat-{job_id[:8]}")
        heart.start()
        try:
            report = self._run(self.ledgers, progress=progress)
            status = PASSED if report.ok else FAILED
            self._finish(running, status=status, result=report.as_json(), error=None)
        except Exception as e:
            log.exception("verify job %s stopped", job_id)
            self._finish(running, status=FAILED, result=None, error=f"{type(e).__name__}: {e}")
        finally:
            finished.set()
            heart.join()

    def _touch(self, running: _Running) -> None:
        with self.read_model.writing() as sql:
            sql.run("UPDATE s_verify_jobs SET heartbeat_at = ?, events_done = ?, "
                    "events_total = ? WHERE id = ? AND running = 1", stored(_now()),
                    running.done, running.total, running.job_id)

    def _finish(self, running: _Running, *, status: str, result: dict[str, Any] | None,
                error: str | None) -> None:
        text = json.dumps(jsonable_encoder(result)) if result is not None else None
        if result is not None:  # the walk went to the end
            running.done = running.total
        try:
            with self.read_model.writing() as sql:
                sql.run("UPDATE s_verify_jobs SET running = NULL, status = ?, finished_at = ?, "
                        "heartbeat_at = ?, events_done = ?, events_total = ?, result = ?, "
                        "error = ? WHERE id = ? AND running = 1", status, stored(_now()),
                        stored(_now()), running.done, running.total, text, error,
                        running.job_id)
        except Exception:
            # The row stays running; with no heartbeat it is found abandoned later.
            log.exception("verify job %s: its end was not recorded", running.job_id)

    def wait(self, timeout: float | None = None) -> bool:
        """Waits for the job this process runs (if any); True when none is left running."""
        running = self._running
        if running is None or running.thread is None:
            return True
        running.thread.join(timeout)
        return not running.thread.is_alive()

    def close(self, timeout: float = 10.0) -> None:
        """Asks a job of this process to stop at its next batch, and waits for it a while."""
        running = self._running
        if running is not None:
            running.stop.set()
        self.wait(timeout)
