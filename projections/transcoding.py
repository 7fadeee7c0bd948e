"""JSON transcoding shared by the event store and the read model's aggregate states."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoding,
    UUIDAsHex,
)


class SetAsList(Transcoding):
    """Aggregates keep sets (a sub-account's lines); snapshots store them as lists."""

    type = set
    name = "set"

    def encode(self, obj: set[Any]) -> list[Any]:
        return sorted(obj, key=str)

    def decode(self, data: list[Any]) -> set[Any]:
        return set(data)


EXTRA_TRANSCODINGS: tuple[type[Transcoding], ...] = (SetAsList,)


def transcoder() -> JSONTranscoder:
    """A transcoder with the library's defaults and ours, as the application has."""
    coder = JSONTranscoder()
    defaults: tuple[type[Transcoding], ...] = (UUIDAsHex, DecimalAsStr, DatetimeAsISO)
    for transcoding in (*defaults, *EXTRA_TRANSCODINGS):
        coder.register(transcoding())
    return coder
