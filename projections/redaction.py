"""What never leaves the service: the one place that strips secrets from what readers see.

Events keep what the service itself needs: a card's gateway token (charging loads the
`Partner` from the event store and its snapshots) and a key's secret hash
(authentication). Every description of an event for a reader (the audit trail, a line's
history, a charge's explanation, exports) and every view that stores aggregate state goes
through here, so a secret added to a new event is hidden by naming its field once below.
"""

from __future__ import annotations

from typing import Any

# Field names that hold a secret, at any depth of an event's data or an aggregate's state:
# a card's gateway token, an API key's secret hash, any other secret.
SECRET_FIELDS = frozenset({"token", "secret", "secret_hash"})
# What a stored state holds in a secret's place; never a usable token.
REDACTED = ""


# Values with nothing inside to strip: taken as they are without a call per value (a
# public event's payload and every audit row go through here).
_PLAIN: frozenset[type] = frozenset({str, int, float, bool, type(None)})


def without_secrets(value: Any) -> Any:
    """`value` with every secret field left out (event data for display)."""
    if isinstance(value, dict):
        return {k: v if v.__class__ in _PLAIN else without_secrets(v)
                for k, v in value.items() if k not in SECRET_FIELDS}
    if isinstance(value, list | tuple):
        return [without_secrets(v) for v in value]
    return value


def blanked(value: Any) -> Any:
    """`value` with every secret field's value replaced by `REDACTED`: the shape an
    aggregate state needs to be decoded again is kept, the secret is not."""
    if isinstance(value, dict):
        return {k: REDACTED if k in SECRET_FIELDS else blanked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [blanked(v) for v in value]
    if isinstance(value, tuple):
        return tuple(blanked(v) for v in value)
    return value
