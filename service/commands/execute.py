"""The one path every command takes, from a route, the CLI, a policy or a scheduled job.

`execute` owns, in one place:

- the actor: who asks (the request's key, the CLI's, a policy's), handed to the handler,
  which records it on every event;
- the service clock: `now` is read once per attempt and handed to the handler, so every
  event of one attempt carries the same time;
- load–decide–save: the handler loads the aggregates, lets them decide, and saves
  everything it touched in one transaction;
- lost version races: an attempt whose save loses a race (`IntegrityError`) is run again
  on fresh state after a jittered wait (service/commands/version_races.py), and answers
  `version_conflict` after too many. Such an attempt loads what this process saved last
  without asking the database (service/commands/own_writes.py): a stale copy is a lost
  race too. A command with an outside effect (`outside_effect`,
  e.g. `PayInvoice`) is never run twice: its handler retries only its recording steps;
- read-your-writes: after the save, views and policies are brought up to the end of the
  log (`caught_up`), so the answer, and the caller's next read, see the command (and what
  the policies did in reaction). Skipped when the process knows the views took the
  command's events in its insert and no policy reacts to them (`caught_up_after`).
  Policies' own commands skip it: they run inside it. `run` also says whether the
  catch-up was skipped (`Done.as_saved`): then the handler's answer, as it saved it, is
  the state the command left, and a route answers from it without loading it again;
- errors: domain errors (`aggregates.errors`) pass through unchanged; the HTTP layer maps
  them to problem+json, the CLI to a line and an exit code.

HTTP idempotency (the `Idempotency-Key` header) is not here: it stays in the request
middleware (service/api/idempotency.py), because what it keeps is the HTTP answer
(status, body), which only the route knows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from aggregates.base import Actor
from service.commands import own_writes
from service.commands.base import Command, Services, handler_for
from service.commands.version_races import backoff, with_retries

R = TypeVar("R")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Done(Generic[R]):
    """A command's outcome: the handler's answer, and whether it stands as saved."""

    answer: R
    # True when nothing ran after the command's save: its events were in the views from
    # its insert on and no policy reacts to them (the catch-up was skipped), so an
    # aggregate the handler answers, as it saved it, is the state the command left. False
    # when a catch-up ran (a policy may have changed it since) or nothing was recorded.
    as_saved: bool


def execute(ledger: Services, command: Command[R], *, actor: Actor,
            wait: Callable[[int], None] = backoff) -> R:
    """Runs `command`'s handler as `actor` and answers what the handler answers."""
    return run(ledger, command, actor=actor, wait=wait).answer


def run(ledger: Services, command: Command[R], *, actor: Actor,
        wait: Callable[[int], None] = backoff) -> Done[R]:
    """`execute`, telling also whether the answer stands as the handler saved it."""
    if command.outside_effect:
        answer: R = handler_for(command)(ledger, command, actor, ledger.clock.now())
    else:
        answer = with_retries(lambda _lost: attempt(ledger, command, actor=actor),
                              wait=wait)
    if not command.catches_up:
        return Done(answer, as_saved=False)
    recorded = 0 if command.outside_effect else own_writes.LAST_RECORDED.get()
    try:
        skipped = not caught_up_after(ledger, recorded)
    except Exception:
        # The command committed: its answer stands. The views and policies catch up
        # on the next pass (or were kept current in the insert, with inline views).
        log.exception("%s was recorded, but catching up after it failed",
                      type(command).__name__)
        skipped = False
    return Done(answer, as_saved=skipped)


def attempt(ledger: Services, command: Command[R], *, actor: Actor) -> R:
    """One attempt of a command that may run again after a lost race: its loads may use
    the state this process saved last, confirmed before the outcome stands
    (service/commands/own_writes.py); a stale one is a lost race (`IntegrityError`)."""
    with own_writes.attempt():
        answer: R = handler_for(command)(ledger, command, actor, ledger.clock.now())
    return answer


def caught_up_after(ledger: Services, recorded: int) -> bool:
    """The catch-up after a command that recorded up to log position `recorded` (0:
    unknown), skipped when the service knows the views hold it and no policy is due to
    react to it (service/runtime/processing.py `settled`): the views took the command's
    events in its own insert, right after what was settled before. True when it ran."""
    settled = getattr(ledger, "settled", None)  # a service without it always catches up
    if recorded and settled is not None and settled(recorded):
        return False
    ledger.caught_up()
    return True
