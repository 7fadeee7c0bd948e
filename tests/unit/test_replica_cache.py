"""The replica cache on its own: one build per key however many ask at once, a failed
build cached for nobody, and its caps. Builds are counted, never timed."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from projections.as_of import Replica
from projections.replica_cache import ReplicaCache


def test_concurrent_requests_for_one_key_build_it_once() -> None:
    cache = ReplicaCache()
    started, release = threading.Event(), threading.Event()
    built: list[Replica] = []

    def build() -> Replica:
        started.set()
        release.wait(timeout=30)  # held until every caller has asked
        built.append(Replica(7))
        return built[-1]

    with ThreadPoolExecutor(max_workers=6) as pool:
        first = pool.submit(cache.get, "p", 7, build)
        assert started.wait(timeout=30)
        others = [pool.submit(cache.get, "p", 7, build) for _ in range(5)]
        release.set()
        replicas = [first.result(), *(f.result() for f in others)]

    assert len(built) == 1
    assert all(r is built[0] for r in replicas)
    assert cache.builds == 1


def test_a_failed_build_reaches_its_waiters_and_is_not_kept() -> None:
    cache = ReplicaCache()
    started, release = threading.Event(), threading.Event()

    def failing() -> Replica:
        started.set()
        release.wait(timeout=30)
        raise RuntimeError("the database went away")

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(cache.get, "p", 1, failing)
        assert started.wait(timeout=30)
        second = pool.submit(cache.get, "p", 1, failing)
        release.set()
        for future in (first, second):
            with pytest.raises(RuntimeError, match="went away"):
                future.result()

    assert len(cache) == 0
    replica = cache.get("p", 1, lambda: Replica(1))
    assert cache.get("p", 1, lambda: Replica(1)) is replica
    assert cache.builds == 2
    assert cache.hits == 1


def test_each_cap_holds_and_the_least_recently_used_goes_first() -> None:
    cache = ReplicaCache(per_partner=2, total=3)
    for position in (1, 2, 3):
        cache.get("a", position, lambda position=position: Replica(position))
    assert cache.kept() == [("a", 2), ("a", 3)]

    cache.get("a", 2, lambda: Replica(2))  # used: now the most recent
    cache.get("b", 1, lambda: Replica(1))
    cache.get("c", 1, lambda: Replica(1))

    assert cache.kept() == [("a", 2), ("b", 1), ("c", 1)]
    assert cache.bytes == sum(Replica(0).size_bytes() for _ in range(3))
