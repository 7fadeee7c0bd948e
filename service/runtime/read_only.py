"""A read-only process (`PORTAL_READ_ONLY=true`), for a streaming standby: every read,
live and as-of, is served from the standby's copy of the events and views; nothing is
written.

What would write is left out rather than tried: no table creation and no start-up lock
(service/runtime/bootstrap.py), no catch-up (the primary's processes keep the views, and the
standby replays them), no scheduler, no record of a key's use, no settling of payment
attempts, no manual-clock row. A command answers 503 `read_only` before anything runs;
a read that would write after all (a verification job's row) meets the standby's own
refusal, which answers the same 503 (both: `service/api/read_only_gate.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import psycopg

from projections.read_model import ReadModel
from projections.runner import Retried
from service.commands.gateway_books import SqlChargeBook
from service.runtime.clock import DatabaseClockStore
from service.runtime.key_use import KeyUse
from service.runtime.processing import Processor

DETAIL = ("this process serves reads only (PORTAL_READ_ONLY=true, a standby); send "
          "commands to the primary's API")


class ReadOnly(Exception):
    """A write asked of a read-only process; the API answers it 503 `read_only`
    (service/api/read_only_gate.py), the CLI in one line."""

    def __init__(self, what: str = "a write") -> None:
        super().__init__(f"{what} is refused: {DETAIL}")


class ReadOnlyProcessor(Processor):
    """Views and policies stand where the primary's processes left them."""

    def run(self) -> None:
        return None

    def rebuild(self, progress: Callable[[int], None] | None = None) -> dict[str, int]:
        raise ReadOnly("a rebuild")

    def retry(self, partner_id: str) -> Retried:
        raise ReadOnly("a quarantine retry")


class ReadOnlyChargeBook(SqlChargeBook):
    """The gateway's book as the primary keeps it; its table is the primary's to create."""

    def __init__(self, read_model: ReadModel) -> None:
        self.read_model = read_model


class ReadOnlyKeyUse(KeyUse):
    def seen(self, key_id: UUID) -> None:
        return None


class ReadOnlyClockStore(DatabaseClockStore):
    """The shared manual clock as the primary last set it."""

    def start(self, default: datetime) -> datetime:
        return self.read() or default

    def advance(self, to: datetime) -> datetime:
        raise ReadOnly("moving the clock")


def refused_by_database(error: BaseException) -> bool:
    """True when `error` (or what caused it) is the server refusing a write because it is
    a standby or the transaction is read-only."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, (psycopg.errors.ReadOnlySqlTransaction, ReadOnly)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
