"""Lost version races: a save that loses a race (another writer got the same aggregate
version first) is retried on fresh state, so the aggregates' guards decide again, after a
short random wait that doubles with each lost race; only after many lost races does the
command answer `version_conflict`.

`service/commands/execute.py` wraps every command without an outside effect in
`with_retries`; the payment flow (service/commands/billing_operations.py) wraps only its
recording steps.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from eventsourcing.persistence import IntegrityError

from aggregates.errors import VersionConflict

R = TypeVar("R")
# Lost version races a command survives. Twelve writers on one aggregate at once lose
# up to eleven races in a row without the waits below; with them, far fewer.
MAX_ATTEMPTS = 16
# The wait after the n-th lost race is uniform in [0, min(CAP, BASE * 2**n)] seconds
# ("full jitter"): racers that collided spread out instead of colliding again in step.
BACKOFF_BASE_SECONDS = 0.004
BACKOFF_CAP_SECONDS = 0.25


def backoff(lost: int) -> None:
    """Waits after the `lost`-th lost race (0 for the first)."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** lost)
    time.sleep(random.uniform(0, ceiling))


def with_retries(step: Callable[[int], R], *,
                 wait: Callable[[int], None] = backoff) -> R:
    """Runs `step(tries)` (tries: races lost so far) until it saves without losing a
    version race. The step must have no effect outside the ledger (a card charge, a
    webhook): it may run many times. After MAX_ATTEMPTS lost races, `version_conflict`."""
    for tries in range(MAX_ATTEMPTS):
        try:
            return step(tries)
        except IntegrityError:
            if tries + 1 < MAX_ATTEMPTS:
                wait(tries)
    raise VersionConflict("the resource changed while the command ran; try again")
