"""The old scheduler, kept as the tests' oracle: walk every cron firing between two
instants (cycle close and alerts daily, dunning hourly), each job over every partner, in
time order and, at one instant, in the order cycle close, dunning, alerts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.triggers.base import BaseTrigger

from policies import alerts as alerts_job
from policies import cycle_close, dunning
from service.runtime.bootstrap import Ledger

log = logging.getLogger(__name__)
_RESOLUTION = timedelta(seconds=1)


def _jobs(ledger: Ledger) -> list[tuple[str, BaseTrigger, Callable[[datetime], object]]]:
    billing, alerts = ledger.billing, ledger.alerts
    return [
        (cycle_close.NAME, cycle_close.TRIGGER,
         lambda at: cycle_close.run(billing, at, outcomes=alerts)),
        (dunning.NAME, dunning.TRIGGER, lambda at: dunning.run(billing, at, outcomes=alerts)),
        (alerts_job.NAME, alerts_job.TRIGGER, lambda at: alerts_job.run(alerts, at)),
    ]


def cron_walk(ledger: Ledger, to: datetime) -> list[tuple[str, datetime]]:
    """Moves the manual clock to `to`, running every job at every firing on the way; the
    (job, time) firings that recorded something, in order (the alerts job answers
    nothing: its firings are left out)."""
    clock = ledger.manual_clock
    start = clock.now()
    jobs = _jobs(ledger)
    cursors = {name: start for name, _, _ in jobs}
    fired: list[tuple[str, datetime]] = []
    while True:
        earliest: tuple[datetime, str, Callable[[datetime], object]] | None = None
        for name, trigger, run in jobs:
            at = trigger.get_next_fire_time(None, cursors[name] + _RESOLUTION)
            if at is not None and at <= to and (earliest is None or at < earliest[0]):
                earliest = (at, name, run)
        if earliest is None:
            break
        at, name, run = earliest
        clock.set(at)
        try:
            if run(at) is True:
                fired.append((name, at))
        except Exception as error:  # the old walk logged and went on
            log.error("job %s failed at %s: %s", name, at, error)
        ledger.caught_up()
        cursors[name] = at
    clock.set(to)
    ledger.caught_up()
    return fired
