"""Scheduled job: close every billing period that has ended, and charge its invoice.

Runs at 00:00 UTC each day (every anchor day starts at midnight). Keyed by
(partner, period) through the invoice's deterministic id, so reruns change nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from apscheduler.triggers.cron import CronTrigger

NAME = "cycle_close"
TRIGGER = CronTrigger(hour=0, minute=0, timezone="UTC")


class ClosesCycles(Protocol):
    def close_due_cycles(self, at: datetime) -> list[Any]: ...


def run(billing: ClosesCycles, at: datetime) -> bool:
    """True when it changed something."""
    return bool(billing.close_due_cycles(at))
