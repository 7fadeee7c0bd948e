"""The as-of replicas a process keeps: bounded per partner, in number and in memory.

Replicas are keyed by (partner, the partner's last event at or before the requested
position) — see `as_of.resolve` — so the many `as_of` values that name one state of a
partner (microseconds apart, positions past the end of the log) share one replica.
Distinct states still cost a build each; what they may hold is capped:

* `per_partner` replicas of one partner (one partner's history cannot push the others
  out), least recently used first out;
* `total` replicas and `memory_bytes` of replica pages over every partner, least recently
  used first out (a replica larger than the whole cap is served and not kept);
* `concurrent_builds` builds at once (each holds its checkpoint and events in memory);
  the same (partner, position) asked for while it is being built waits for that build
  instead of starting its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from projections.as_of import Replica

Key = tuple[str, int]


@dataclass
class _Build:
    """A build in progress; requests for the same key wait on `done`."""

    done: threading.Event = field(default_factory=threading.Event)
    replica: Replica | None = None
    error: BaseException | None = None


@dataclass
class _Kept:
    replica: Replica
    size: int


class ReplicaCache:
    def __init__(self, *, per_partner: int = 4, total: int = 32,
                 memory_bytes: int = 256 * 2**20, concurrent_builds: int = 2) -> None:
        self.per_partner = per_partner
        self.total = total
        self.memory_bytes = memory_bytes
        self._items: OrderedDict[Key, _Kept] = OrderedDict()
        self._building: dict[Key, _Build] = {}
        self._lock = threading.Lock()
        self._build_slots = threading.BoundedSemaphore(concurrent_builds)
        self._bytes = 0
        # What tests and benchmarks count: builds started, and answers from the cache.
        self.builds = 0
        self.hits = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @property
    def bytes(self) -> int:
        with self._lock:
            return self._bytes

    def kept(self) -> list[Key]:
        """Least recently used first."""
        with self._lock:
            return list(self._items)

    def get(self, partner_id: str, position: int, build: Callable[[], Replica]) -> Replica:
        key = (partner_id, position)
        with self._lock:
            kept = self._items.get(key)
            if kept is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return kept.replica
            pending = self._building.get(key)
            mine = pending is None
            if pending is None:
                pending = self._building[key] = _Build()
                self.builds += 1
        if not mine:
            pending.done.wait()
            if pending.error is not None:
                raise pending.error
            assert pending.replica is not None
            return pending.replica
        try:
            with self._build_slots:
                replica = build()
            size = replica.size_bytes()
        except BaseException as e:
            pending.error = e
            with self._lock:
                del self._building[key]
            pending.done.set()
            raise
        with self._lock:
            del self._building[key]
            self._keep(key, _Kept(replica, size))
        pending.replica = replica
        pending.done.set()
        return replica

    def _keep(self, key: Key, kept: _Kept) -> None:
        """Adds `kept`, then evicts least recently used entries until every cap holds.
        An evicted replica is only dropped: a request still reading it keeps it alive."""
        self._items[key] = kept
        self._bytes += kept.size
        partner = key[0]
        mine = [k for k in self._items if k[0] == partner]
        for old in mine[:max(0, len(mine) - self.per_partner)]:
            self._drop(old)
        while self._items and (len(self._items) > self.total
                               or self._bytes > self.memory_bytes):
            self._drop(next(iter(self._items)))

    def _drop(self, key: Key) -> None:
        self._bytes -= self._items.pop(key).size

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
