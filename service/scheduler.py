"""Time-driven jobs on APScheduler 3, and the manual clock's way of running them.

Each job is idempotent and keyed by what it does, so a rerun or a second scheduler
changes nothing. With the system clock, APScheduler fires the jobs. With the manual
clock, `advance` walks the same APScheduler triggers from the old time to the new one
and runs every firing that fell due, in time order, at its own time, so that a jump of
three months closes three billing cycles, each at its own moment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from service.clock import Clock, ManualClock

log = logging.getLogger(__name__)
_RESOLUTION = timedelta(seconds=1)


@dataclass(frozen=True)
class Job:
    name: str
    trigger: BaseTrigger
    run: Callable[[datetime], object]  # a truthy answer: it recorded something


class Scheduler:
    def __init__(self, *, clock: Clock, after_job: Callable[[], None],
                 tick_seconds: float) -> None:
        self.clock = clock
        self.after_job = after_job
        self.tick_seconds = tick_seconds
        self.jobs: list[Job] = []
        self._background: BackgroundScheduler | None = None

    def add(self, job: Job) -> None:
        self.jobs.append(job)

    def _fire(self, job: Job, at: datetime) -> bool:
        """Runs the job; False when it reported recording nothing, or failed. Such a job
        leaves the views as they were, so the catch-up is skipped (an hourly job over a
        months-long manual-clock jump fires thousands of times).

        Each job isolates its partners itself (policies/partner_isolation.py); what
        reaches here failed the whole run (the store unreachable, say). It is logged and
        the firings after it still run: each job picks up at its next firing what an
        earlier one left undone (periods without an invoice, retries whose time has come,
        conditions that hold), so a jump of the manual clock loses nothing."""
        try:
            answer = job.run(at)
        except Exception as error:  # logged; the next firing retries
            log.error("job %s failed at %s: %s", job.name, at.isoformat(), error,
                      exc_info=error)
            return False
        if answer is False:
            return False
        self.after_job()
        return True

    def start(self) -> None:
        """Starts APScheduler in the background (system clock only)."""
        if self.clock.manual or self._background is not None:
            return
        background = BackgroundScheduler(timezone="UTC")
        for job in self.jobs:
            background.add_job(lambda j=job: self._fire(j, self.clock.now()), job.trigger,
                               id=job.name, coalesce=True, max_instances=1)
        # Picks up events recorded by other processes, so their policies and views run.
        background.add_job(self.after_job, IntervalTrigger(seconds=self.tick_seconds),
                           id="catch-up", coalesce=True, max_instances=1)
        background.start()
        self._background = background

    def shutdown(self) -> None:
        if self._background is not None:
            self._background.shutdown(wait=False)
            self._background = None

    def _next_firing(self, *, cursors: dict[str, datetime],
                     until: datetime) -> tuple[datetime, Job] | None:
        """The earliest firing of any job strictly after that job's cursor, up to `until`."""
        earliest: tuple[datetime, Job] | None = None
        for job in self.jobs:
            at = job.trigger.get_next_fire_time(None, cursors[job.name] + _RESOLUTION)
            if at is not None and at <= until and (earliest is None or at < earliest[0]):
                earliest = (at, job)
        return earliest

    def advance(self, to: datetime) -> list[tuple[str, datetime]]:
        """Moves the manual clock to `to`, running every job that falls due on the way,
        each at its own time; returns, in order, the (job, time) firings that recorded
        something."""
        clock = self.clock
        if not isinstance(clock, ManualClock):
            raise TypeError("only a manual clock can be advanced")
        start = clock.now()
        if to < start:
            clock.set(to)  # raises: the clock never moves back
        cursors = {job.name: start for job in self.jobs}
        ran: list[tuple[str, datetime]] = []
        while (firing := self._next_firing(cursors=cursors, until=to)) is not None:
            at, job = firing
            clock.set(at)
            log.info("running job %s at %s", job.name, at.isoformat())
            if self._fire(job, at):
                ran.append((job.name, at))
            cursors[job.name] = at
        clock.set(to)
        self.after_job()
        return ran
