"""How a domain event is described to readers: its entity, type, actor and data."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from projections.redaction import without_secrets
from projections.times import api_time

_BASE_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic", "actor_id",
     "actor_role"}
)


def entity_type(event: Any) -> str:
    return type(event).__qualname__.split(".")[0]


def event_type(event: Any) -> str:
    return type(event).__qualname__


_AS_IS: frozenset[type] = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    if value.__class__ in _AS_IS:  # most fields: no conversion, no further checks
        return value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return api_time(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return value


def event_data(event: Any) -> dict[str, Any]:
    """The event's own fields as a reader may see them: never a secret (a card's gateway
    token, a key's secret hash; projections/redaction.py)."""
    data: dict[str, Any] = without_secrets({
        name: _plain(value) for name, value in vars(event).items() if name not in _BASE_FIELDS
    })
    return data


# `json.dumps` with these arguments builds a new encoder on every call; one built once
# writes the same text (every audit row and public event is encoded with it).
COMPACT = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def event_data_json(event: Any) -> str:
    return COMPACT.encode(event_data(event))


def uuid_text(value: UUID | None) -> str | None:
    return str(value) if value is not None else None
