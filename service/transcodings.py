"""Extra JSON transcodings for stored events and snapshots."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Transcoding


class SetAsList(Transcoding):
    """Aggregates keep sets (a sub-account's lines); snapshots store them as lists."""

    type = set
    name = "set"

    def encode(self, obj: set[Any]) -> list[Any]:
        return sorted(obj, key=str)

    def decode(self, data: list[Any]) -> set[Any]:
        return set(data)
