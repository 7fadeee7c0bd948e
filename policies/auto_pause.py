"""Policy: pause a line's sending when it is flagged.

Idempotent by the line's own rule (`Line.pause_for_flag` pauses once per flag), so a
restart that hands the same `Flagged` event over again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aggregates.base import policy_actor
from aggregates.line import Line

NAME = "auto_pause"
ACTOR = policy_actor(NAME)
REACTS_TO = (Line.Flagged,)


def react(event: Any, pause: Callable[..., object]) -> None:
    """`pause(line_id=, flag_version=)` runs the pause command as this policy; the
    composition root binds it (service/runtime/bootstrap.py), so the policy decides what to do
    without depending on the service layer."""
    if isinstance(event, REACTS_TO):
        pause(line_id=event.originator_id, flag_version=event.originator_version)
