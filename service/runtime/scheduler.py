"""Time-driven jobs run from the timers view: the cost of moving time is the work that falls
due, not the time skipped.

Every event that implies a future action records, in the timers view, when that action
falls due (projections/timers.py), already rounded up to its job's firing (midnight for
cycle close and alerts, the hour for dunning). The scheduler pops due timers in time
order and runs each job at its own instant for just the partners (or invoices) due then.
It keeps, per job, the instant it last ran (its cursor): a timer due after the cursor runs
at its own time; one due at or before it (its step failed, or an event came after the
job ran at that instant) runs at the job's next firing, exactly as the old walk over every
cron firing would have reached it. At one instant the jobs run in the order they were
added (cycle close, dunning, alerts), so a payment failed at the cycle close is alerted
at that same midnight.

With the manual clock, `advance` jumps from timer to timer. With the system clock,
APScheduler wakes the process at the next due timer, and polls every `tick_seconds` for
timers other processes added.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from eventsourcing.persistence import PersistenceError

from projections import timers as view
from projections.read_model import ReadModel
from projections.timers import Timer
from service.runtime.clock import Clock, ManualClock

log = logging.getLogger(__name__)
_RESOLUTION = timedelta(seconds=1)


class RunsTimers(Protocol):
    def __call__(self, at: datetime, timers: list[Timer]) -> tuple[bool, set[UUID]]:
        """Runs the job at `at` for the due timers; answers whether it recorded something
        and which partners failed (their one-shot timers stay, for the next firing)."""
        ...


@dataclass(frozen=True)
class Job:
    name: str
    kind: str  # the timers' kind this job pops (projections/timers.py)
    trigger: BaseTrigger  # the firings a timer is rounded to; a stale one waits for the next
    run: RunsTimers
    read_model: ReadModel  # the partition whose timers view feeds it


@dataclass(frozen=True)
class Fired:
    job: str
    kind: str
    partner_id: str
    at: datetime


@dataclass
class Pass:
    """What one pass over the due timers did."""

    ran: list[tuple[str, datetime]] = field(default_factory=list)  # jobs that recorded
    fired: list[Fired] = field(default_factory=list)


class Scheduler:
    def __init__(self, *, clock: Clock, after_job: Callable[[], None],
                 tick_seconds: float) -> None:
        self.clock = clock
        self.after_job = after_job
        self.tick_seconds = tick_seconds
        self.jobs: list[Job] = []
        self._background: BackgroundScheduler | None = None
        self._cursors: dict[str, datetime] = {}
        self._running = threading.Lock()  # the poll and the wake-up never run at once

    def add(self, job: Job) -> None:
        self.jobs.append(job)

    # -- one job at one instant ------------------------------------------------------------

    def _fire(self, job: Job, at: datetime, passed: Pass) -> None:
        """Runs the job for its timers due at `at`. Each job isolates its partners itself
        (policies/partner_isolation.py); what reaches here failed the whole run (the store
        unreachable, say): it is logged, its timers stay, and the firings after it still
        run, so a jump of the manual clock loses nothing."""
        try:
            timers = job.read_model.read(view.due, kind=job.kind, at=at)
            if not timers:
                return
            log.info("running job %s at %s for %d timers", job.name, at.isoformat(),
                     len(timers))
            seen = job.read_model.position()  # what the run sees, at least
            recorded, failed = job.run(at, timers)
            # A failed partner's one-shot timers stay due: the next firing runs them.
            done = [t for t in timers if UUID(t.partner_id) not in failed
                    and t.kind in view.ONE_SHOT]
            if done:
                with job.read_model.writing() as sql:
                    view.fired(sql, done, seen=seen)
        except Exception as error:  # logged; the next firing retries
            log.error("job %s failed at %s: %s", job.name, at.isoformat(), error,
                      exc_info=error)
            return
        named: set[str] = set()  # one entry per partner, however many of its timers ran
        for timer in timers:
            if timer.partner_id not in named:
                named.add(timer.partner_id)
                passed.fired.append(Fired(job.name, timer.kind, timer.partner_id, at))
        if recorded:
            passed.ran.append((job.name, at))
        self.after_job()

    # -- which firing comes next -----------------------------------------------------------

    def _next_firing(self, cursors: dict[str, datetime],
                     until: datetime) -> tuple[datetime, Job] | None:
        """The earliest instant some job has a timer due, up to `until`: a timer's own time
        when it lies after the job's cursor, else the job's next firing after the cursor."""
        earliest_by_store: dict[int, dict[str, datetime]] = {}
        best: tuple[datetime, Job] | None = None
        for job in self.jobs:
            store = id(job.read_model)
            if store not in earliest_by_store:
                try:
                    earliest_by_store[store] = job.read_model.read(view.earliest)
                except PersistenceError as error:  # that partition's jobs wait for it
                    log.warning("job %s skipped: its store does not answer (%s)",
                                job.name, error)
                    earliest_by_store[store] = {}
            due = earliest_by_store[store].get(job.kind)
            # A job added during this walk (a partition taken up again) waits for the next.
            if due is None or job.name not in cursors:
                continue
            cursor = cursors[job.name]
            if due <= cursor:
                due = job.trigger.get_next_fire_time(None, cursor + _RESOLUTION)
                if due is None:
                    continue
            if due <= until and (best is None or due < best[0]):
                best = (due, job)
        return best

    def _walk(self, *, start: datetime, until: datetime,
              move: Callable[[datetime], None]) -> Pass:
        passed = Pass()
        cursors = {job.name: self._cursors.get(job.name, start) for job in self.jobs}
        self.after_job()
        while (firing := self._next_firing(cursors, until)) is not None:
            at, job = firing
            move(at)
            self._fire(job, at, passed)
            cursors[job.name] = at
        self._cursors.update(cursors)
        return passed

    # -- the manual clock ------------------------------------------------------------------

    def advance(self, to: datetime) -> list[tuple[str, datetime]]:
        """Moves the manual clock to `to`, running every timer that falls due on the way,
        each at its own time; returns, in order, the (job, time) firings that recorded
        something."""
        return self.advance_pass(to).ran

    def advance_pass(self, to: datetime) -> Pass:
        """`advance`, answering also every timer that fired."""
        clock = self.clock
        if not isinstance(clock, ManualClock):
            raise TypeError("only a manual clock can be advanced")
        start = clock.now()
        if to < start:
            clock.set(to)  # raises: the clock never moves back
        self._cursors.clear()  # a manual jump starts from the clock's own time
        passed = self._walk(start=start, until=to, move=clock.set)
        self._cursors.clear()
        clock.set(to)
        self.after_job()
        return passed

    # -- the system clock ------------------------------------------------------------------

    def resume_from(self, at: datetime) -> None:
        """Takes `at` as the instant every job last ran (system clock): a timer due after
        it runs at its own time, one due at or before it at its job's next firing."""
        self._cursors = {job.name: at for job in self.jobs}

    def run_due(self) -> Pass:
        """Runs what fell due up to now (system clock), each job at the instant its timers
        fell due; then sets the wake-up for the next due timer. A run already under way
        (the poll met the wake-up) is left to finish: it sets the next wake-up itself."""
        if not self._running.acquire(blocking=False):
            return Pass()
        try:
            now = self.clock.now()
            passed = self._walk(start=now, until=now, move=lambda _at: None)
        finally:
            self._running.release()
        self._wake_at_next()
        return passed

    def _wake_at_next(self) -> None:
        background = self._background
        if background is None:
            return
        try:
            firing = self._next_firing({j.name: self._cursors.get(j.name, self.clock.now())
                                        for j in self.jobs}, until=datetime.max.replace(
                                            tzinfo=self.clock.now().tzinfo))
        except Exception as error:  # the poll looks again
            log.error("could not read the next due timer: %s", error, exc_info=error)
            return
        if firing is not None:
            background.add_job(self._run_due_safely, DateTrigger(firing[0]), id="next-timer",
                               replace_existing=True, coalesce=True, max_instances=1,
                               misfire_grace_time=None)

    def _run_due_safely(self) -> None:
        try:
            self.run_due()
        except Exception as error:  # the next poll or wake-up tries again
            log.error("running the due timers failed: %s", error, exc_info=error)

    def start(self) -> None:
        """Starts APScheduler in the background (system clock only)."""
        if self.clock.manual or self._background is not None:
            return
        self.resume_from(self.clock.now())
        background = BackgroundScheduler(timezone="UTC")
        # Picks up events and timers recorded by other processes, so their policies,
        # views and timers run.
        background.add_job(self._run_due_safely, IntervalTrigger(seconds=self.tick_seconds),
                           id="catch-up", coalesce=True, max_instances=1)
        background.start()
        self._background = background
        self._wake_at_next()

    def shutdown(self) -> None:
        if self._background is not None:
            self._background.shutdown(wait=False)
            self._background = None
