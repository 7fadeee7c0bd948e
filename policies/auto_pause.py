"""Policy: pause a line's sending when it is flagged.

Idempotent by the line's own rule (`Line.pause_for_flag` pauses once per flag), so a
restart that hands the same `Flagged` event over again changes nothing.
"""

from __future__ import annotations

from typing import Any, Protocol
from uuid import UUID

from aggregates.base import policy_actor
from aggregates.line import Line

NAME = "auto_pause"
ACTOR = policy_actor(NAME)
REACTS_TO = (Line.Flagged,)


class PausesFlaggedLines(Protocol):
    def pause_flagged_line(self, *, line_id: UUID, flag_version: int) -> None: ...


def react(event: Any, commands: PausesFlaggedLines) -> None:
    if isinstance(event, REACTS_TO):
        commands.pause_flagged_line(line_id=event.originator_id,
                                    flag_version=event.originator_version)
