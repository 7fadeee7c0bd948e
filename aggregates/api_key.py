"""The `ApiKey` aggregate: a bearer credential with a role, stored only as a hash.

The token carries the key's id, so authentication is one aggregate read and a
constant-time hash comparison; the secret itself is never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from uuid import UUID

from aggregates.base import (
    PARTNER,
    PARTNER_ROLES,
    PLATFORM,
    PLATFORM_ROLES,
    Actor,
    LedgerAggregate,
)
from aggregates.errors import InvalidInput, InvalidTransition
from aggregates.text import clean_name

TOKEN_PREFIX = "pl"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def format_token(key_id: UUID, secret: str, partition: int | None = None) -> str:
    """`pl_<key id>_<secret>`, or `pl_p<partition>_<key id>_<secret>` when the key's
    partition is known: the service then looks the key up in that partition alone."""
    named = f"p{partition}_" if partition is not None else ""
    return f"{TOKEN_PREFIX}_{named}{key_id.hex}_{secret}"


def token_partition(token: str) -> int | None:
    """The partition a token names; None for a token of the older form (no partition)."""
    prefix, _, rest = token.partition("_")
    named, _, _ = rest.partition("_")
    if prefix != TOKEN_PREFIX or not named.startswith("p") or not named[1:].isdigit():
        return None
    return int(named[1:]) if len(named) <= 4 else None


def parse_token(token: str) -> tuple[UUID, str] | None:
    prefix, _, rest = token.partition("_")
    if token_partition(token) is not None:
        rest = rest.partition("_")[2]
    key_hex, _, secret = rest.partition("_")
    if prefix != TOKEN_PREFIX or not secret:
        return None
    try:
        return UUID(hex=key_hex), secret
    except ValueError:
        return None


class ApiKey(LedgerAggregate):
    class Issued(LedgerAggregate.Created):
        partner_id: UUID | None
        role: str
        name: str
        secret_hash: str

    class Revoked(LedgerAggregate.Event):
        def apply(self, key: ApiKey) -> None:
            key.revoked = True

    def __init__(self, partner_id: UUID | None, role: str, name: str, secret_hash: str) -> None:
        self.partner_id = partner_id
        self.role = role
        self.name = name
        self.secret_hash = secret_hash
        self.revoked = False

    @classmethod
    def issue(cls, *, id: UUID, partner_id: UUID | None, role: str, name: str,
              secret: str, actor: Actor, at: datetime) -> ApiKey:
        allowed = PARTNER_ROLES if partner_id else PLATFORM_ROLES
        if role not in allowed:
            raise InvalidInput(f"role must be one of {', '.join(allowed)}")
        cleaned = clean_name(name)
        return cls._start(cls.Issued, id=id, actor=actor, at=at, partner_id=partner_id,
                          role=role, name=cleaned, secret_hash=hash_secret(secret))

    @property
    def scope(self) -> str:
        """A partner's key, or the platform's."""
        return PARTNER if self.partner_id is not None else PLATFORM

    def matches(self, secret: str) -> bool:
        return not self.revoked and hmac.compare_digest(self.secret_hash, hash_secret(secret))

    def revoke(self, *, actor: Actor, at: datetime) -> None:
        if self.revoked:
            raise InvalidTransition("the key is already revoked")
        self._trigger(self.Revoked, actor=actor, at=at)
