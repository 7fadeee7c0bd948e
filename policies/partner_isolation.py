"""One partner's failure in a scheduled job never stops the others.

A job (cycle close, dunning, alerts) walks the partners one by one. Each partner's step
runs under a `PartnerIsolation`: a step that raises is logged with the partner id and the
error, the other partners go on, and when the run ends the failure is raised as a
`job_failed` alert on that partner (one open alert per job and partner). The job's own
keys make the next run retry what failed; the run in which the partner's step succeeds
again resolves the alert.

Why catch every exception here: what fails for one partner is, by nature, what nobody
foresaw (a figure the database cannot hold, an event a later rule cannot read). Letting
it escape would stop every partner after it in id order, every run; the failure is not
hidden, it is logged with its traceback and alerted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Protocol, TypeVar
from uuid import UUID

log = logging.getLogger(__name__)
T = TypeVar("T")
ERROR_LENGTH = 300  # an alert names the error; the log keeps the whole traceback


class RecordsJobOutcomes(Protocol):
    def open_job_failures(self, job: str) -> set[UUID]: ...

    def job_failed(self, *, partner_id: UUID, job: str, error: str, at: datetime) -> bool: ...

    def job_succeeded(self, *, partner_id: UUID, job: str, at: datetime) -> bool: ...


def describe(error: BaseException) -> str:
    """One line naming the error: its type and the first line of its message."""
    text = str(error).strip().splitlines()
    first = f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
    return first if len(first) <= ERROR_LENGTH else first[:ERROR_LENGTH - 1] + "…"


@dataclass
class PartnerIsolation:
    """Runs a job's per-partner steps so that each partner fails alone; `finish` then
    raises and resolves the partners' `job_failed` alerts."""

    job: str
    at: datetime
    outcomes: RecordsJobOutcomes
    failed: dict[UUID, str] = field(default_factory=dict)
    succeeded: set[UUID] = field(default_factory=set)

    def step(self, partner_id: UUID, run: Callable[[], T]) -> T | None:
        """`run()`'s answer, or None when it raised (logged and kept for `finish`). A
        partner that failed once in this run stays failed for the run."""
        try:
            answer = run()
        except Exception as error:  # see the module's docstring
            self.failed[partner_id] = describe(error)
            self.succeeded.discard(partner_id)
            log.error("job %s failed for partner %s at %s: %s", self.job, partner_id,
                      self.at.isoformat(), describe(error), exc_info=error)
            return None
        if partner_id not in self.failed:
            self.succeeded.add(partner_id)
        return answer

    def finish(self) -> bool:
        """Alerts each failed partner and resolves the alert of each partner that
        succeeded; True when it recorded something. Recording an outcome may fail too (the
        store may be what failed): that is logged, and the next run tries again."""
        recorded = False
        for partner_id, error in self.failed.items():
            recorded |= self._record(partner_id, partial(self.outcomes.job_failed,
                                                         partner_id=partner_id, job=self.job,
                                                         error=error, at=self.at))
        if not self.succeeded:
            return recorded
        alerted = self._open_failures()
        for partner_id in sorted(alerted & self.succeeded):
            recorded |= self._record(partner_id, partial(self.outcomes.job_succeeded,
                                                         partner_id=partner_id, job=self.job,
                                                         at=self.at))
        return recorded

    def _open_failures(self) -> set[UUID]:
        try:
            return self.outcomes.open_job_failures(self.job)
        except Exception as error:  # resolved at a later run instead
            log.error("job %s could not read its open failures: %s", self.job,
                      describe(error), exc_info=error)
            return set()

    def _record(self, partner_id: UUID, record: Callable[[], bool]) -> bool:
        try:
            return record()
        except Exception as error:  # an outcome lost is logged, not fatal
            log.error("job %s could not record its outcome for partner %s: %s", self.job,
                      partner_id, describe(error), exc_info=error)
            return False


class PartnerSteps(Protocol):
    """How a per-partner loop runs each partner's step (a `PartnerIsolation`, or
    `unguarded` for callers that want the first failure raised)."""

    def step(self, partner_id: UUID, run: Callable[[], T]) -> T | None: ...


class _Unguarded:
    def step(self, partner_id: UUID, run: Callable[[], T]) -> T | None:
        return run()


unguarded: PartnerSteps = _Unguarded()
