"""Policy: flag a line whose usage crosses the thresholds set in settings.

Reacts to `UsageRecorded` and `UsageCorrected`: each (line, hour) row whose figures cross
`FlagThresholds` (volume-limit hits in the hour, or a low response rate over enough new
conversations) flags its line, with this policy as the actor and a reason naming the
figures. Only an `active` line is flagged; others are skipped. Idempotent: the day's
`UsageLedger` remembers each (line, hour) the policy flagged for, in the same transaction
as the flag, so a restart that hands the same event over again changes nothing, and a
line support has unflagged is not flagged again for the same hour. The auto-pause policy
then pauses its sending.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aggregates.base import policy_actor
from aggregates.usage import FlagThresholds, UsageLedger, decode_rows

NAME = "auto_flag"
ACTOR = policy_actor(NAME)


REACTS_TO = (UsageLedger.UsageRecorded, UsageLedger.UsageCorrected)


def react(event: Any, flag: Callable[..., object], thresholds: FlagThresholds) -> None:
    """`flag(usage_ledger_id=, line_id=, hour=, reason=)` runs the flag command as this
    policy; the composition root binds it (service/runtime/bootstrap.py), so the policy decides
    what to do without depending on the service layer."""
    if not isinstance(event, REACTS_TO):
        return
    suspects = [r for r in event.rows if thresholds.may_flag(r[2:])]
    for row in decode_rows(event.day, suspects):
        reason = thresholds.reason(row)
        if reason is not None:
            flag(usage_ledger_id=event.originator_id, line_id=row.line_id, hour=row.hour,
                 reason=reason)
