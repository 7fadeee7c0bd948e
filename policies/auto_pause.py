"""Policy: pause a line's sending when it is flagged.

Idempotent by the line's own rule (`Line.pause_for_flag` pauses once per flag), so a
restart that hands the same `Flagged` event over again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aggregates.base import policy_actor
from aggregates.line import Line
from service.commands.lines import PauseFlaggedLine

NAME = "auto_pause"
ACTOR = policy_actor(NAME)
REACTS_TO = (Line.Flagged,)




def react(event: Any, run: Callable[[PauseFlaggedLine], object]) -> None:
    """`run` executes the command as this policy (service/commands/execute.py)."""
    if isinstance(event, REACTS_TO):
        run(PauseFlaggedLine(line_id=event.originator_id, flag_version=event.originator_version))
