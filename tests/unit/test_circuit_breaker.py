"""The circuit breaker's state machine and the partition guard's decisions, without a
database: the clock and the probe are stand-ins."""

from __future__ import annotations

import pytest

from service.runtime.circuit_breaker import CircuitBreaker, State
from service.runtime.partition_health import (
    PartitionGuard,
    PartitionMonitor,
    PartitionUnavailable,
    UnbuiltPartition,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Probe:
    """A probe that answers or fails as the test says, counting its calls."""

    def __init__(self) -> None:
        self.answers = True
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        if not self.answers:
            raise ConnectionRefusedError("connection refused")


def test_a_failure_opens_the_breaker_and_only_a_due_probe_may_close_it() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(probe_interval=0.5, clock=clock)
    assert breaker.state is State.CLOSED and breaker.allows
    assert breaker.failed("refused") is True
    assert breaker.state is State.OPEN and not breaker.allows
    assert breaker.reason == "refused"
    assert breaker.failed("again") is False  # already open: no second opening
    assert not breaker.probe_due() and not breaker.begin_probe()
    clock.now += 0.5
    assert breaker.probe_due()
    assert breaker.begin_probe() is True
    assert breaker.state is State.HALF_OPEN and not breaker.allows
    assert breaker.begin_probe() is False  # one probe at a time
    breaker.probe_succeeded()
    assert breaker.state is State.CLOSED and breaker.allows and breaker.reason == ""


def test_a_failed_probe_opens_the_breaker_for_another_interval() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(probe_interval=1.0, clock=clock)
    breaker.failed("refused")
    clock.now += 1.0
    assert breaker.begin_probe()
    breaker.probe_failed("still refused")
    assert breaker.state is State.OPEN and breaker.reason == "still refused"
    clock.now += 0.9
    assert not breaker.probe_due()
    clock.now += 0.1
    assert breaker.probe_due()


def test_recovery_listeners_run_before_requests_pass_and_a_failing_one_keeps_it_open() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(probe_interval=0.5, clock=clock)
    seen: list[State] = []
    breaker.on_close(lambda: seen.append(breaker.state))
    breaker.failed("refused")
    clock.now += 0.5
    breaker.begin_probe()
    breaker.probe_succeeded()
    assert seen == [State.HALF_OPEN]  # the pools were flushed before any request went
    assert breaker.state is State.CLOSED

    def broken() -> None:
        raise RuntimeError("could not build the partition")

    breaker.on_close(broken)
    breaker.failed("refused")
    clock.now += 0.5
    breaker.begin_probe()
    with pytest.raises(RuntimeError):
        breaker.probe_succeeded()
    assert breaker.state is State.OPEN and "could not build" in breaker.reason


def test_probe_success_outside_half_open_changes_nothing() -> None:
    breaker = CircuitBreaker(probe_interval=0.5, clock=FakeClock())
    breaker.failed("refused")
    breaker.probe_succeeded()  # no probe was taken
    assert breaker.state is State.OPEN


def test_a_connection_failure_opens_the_guard_only_when_the_probe_fails_too() -> None:
    probe = Probe()
    guard = PartitionGuard(2, probe, probe_interval=0.5)
    guard.connection_failed(OSError("server closed the connection"))  # stale: probe answers
    assert guard.breaker.allows and guard.status == "ok" and probe.calls == 1
    guard.connection_failed(OSError("pool timeout"))  # answered a moment ago: no new probe
    assert probe.calls == 1

    opened: list[int] = []
    guard = PartitionGuard(2, probe, probe_interval=0.5)
    guard.on_open.append(lambda: opened.append(guard.index))
    probe.answers = False
    with pytest.raises(PartitionUnavailable) as raised:
        guard.connection_failed(OSError("connection refused"))
    assert raised.value.index == 2 and "connection refused" in raised.value.reason
    assert guard.status == "unavailable" and opened == [2]
    calls = probe.calls
    with pytest.raises(PartitionUnavailable):  # open: refused at once, no probe
        guard.check()
    with pytest.raises(PartitionUnavailable):
        guard.connection_failed(OSError("refused"))
    assert probe.calls == calls


def test_the_monitor_closes_a_guard_once_its_probe_answers() -> None:
    probe = Probe()
    probe.answers = False
    guard = PartitionGuard(1, probe, probe_interval=0.0)
    guard.mark_down("refused at start")
    monitor = PartitionMonitor([guard], interval=0.0)
    monitor.probe_once()
    assert guard.status == "unavailable"
    probe.answers = True
    monitor.probe_once()
    assert guard.status == "ok"


def test_an_unbuilt_partition_refuses_every_use() -> None:
    guard = PartitionGuard(3, Probe())
    guard.mark_down("refused at start")
    stand_in = UnbuiltPartition(guard)
    with pytest.raises(PartitionUnavailable) as raised:
        _ = stand_in.app
    assert raised.value.index == 3
