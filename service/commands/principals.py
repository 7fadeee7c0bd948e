"""API keys remembered by the process that authenticates with them.

Authenticating used to load the key's aggregate through the event store on every request:
a select of its events, their decoding, and a deep copy out of the aggregate cache. What
a key is (its id, role, partner and secret hash) never changes once it is issued; the
only thing that can happen to it later is its revocation, which is final. So a process
keeps the issued facts, and asks the event store one indexed question per request: has
the key any event after the version this process knows? The answer is read from the
events table itself, which every process shares, so a key revoked by another process is
refused on its very next request here (no view that might lag, no time to live).

A key known to be revoked is refused without asking. Unknown key ids are never
remembered (a caller inventing ids cannot fill the memory), and the number of keys kept
is bounded.
"""

from __future__ import annotations

import hmac
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder

from aggregates.api_key import ApiKey, hash_secret, parse_token
from aggregates.errors import NotFound

DEFAULT_SIZE = 10_000


@dataclass(frozen=True)
class KnownKey:
    key: ApiKey  # as loaded; never handed out to be changed (see `authenticate`)
    version: int

    @property
    def revoked(self) -> bool:
        return bool(self.key.revoked)


class KeyCache:
    def __init__(self, recorder: AggregateRecorder, load: Callable[[UUID], ApiKey], *,
                 size: int = DEFAULT_SIZE) -> None:
        self._recorder = recorder
        self._load = load
        self._size = size
        self._known: OrderedDict[UUID, KnownKey] = OrderedDict()
        self._lock = threading.Lock()

    def authenticate(self, token: str) -> ApiKey | None:
        """The live key `token` names, or None (malformed, unknown, revoked, wrong secret)."""
        parsed = parse_token(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        known = self._current(key_id)
        if known is None or known.revoked:
            return None
        if not hmac.compare_digest(known.key.secret_hash, hash_secret(secret)):
            return None
        return known.key

    def _current(self, key_id: UUID) -> KnownKey | None:
        with self._lock:
            known = self._known.get(key_id)
        if known is not None:
            if known.revoked:  # final: nothing can follow a revocation
                return known
            if not self._recorder.select_events(key_id, gt=known.version, limit=1):
                return known
        try:
            key = self._load(key_id)
        except NotFound:
            with self._lock:
                self._known.pop(key_id, None)
            return None
        fresh = KnownKey(key=key, version=int(key.version))
        with self._lock:
            self._known[key_id] = fresh
            self._known.move_to_end(key_id)
            while len(self._known) > self._size:
                self._known.popitem(last=False)
        return fresh
