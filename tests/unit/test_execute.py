"""The one command path, without HTTP or storage: `execute` hands the actor and a fresh
`now` to the command's one handler, retries lost version races (never for a command with
an outside effect), catches up after the save (never for a policy's command), and lets
domain errors through unchanged."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError

import service.commands as commands
from aggregates.base import Actor
from aggregates.errors import InvalidTransition, VersionConflict
from service.commands import Command, execute
from service.commands.base import handles
from service.commands.version_races import MAX_ATTEMPTS

ACTOR = Actor(key_id="k-1", role="operations")
START = datetime(2026, 3, 1, tzinfo=UTC)


class TickingClock:
    """A clock that moves a second at each read, so each attempt's `now` differs."""

    def __init__(self) -> None:
        self.reads = 0

    def now(self) -> datetime:
        self.reads += 1
        return START + timedelta(seconds=self.reads)


@dataclass
class FakeService:
    """What `execute` needs of the running service: a clock and the catch-up."""

    clock: TickingClock = field(default_factory=TickingClock)
    catch_ups: int = 0
    events: list[str] = field(default_factory=list)

    def caught_up(self) -> None:
        self.catch_ups += 1
        self.events.append("caught_up")


@dataclass(frozen=True)
class Conflicting(Command[str]):
    """Loses `losses` version races, then saves."""

    losses: int
    seen: list[tuple[Actor, datetime]] = field(default_factory=list, compare=False)


@handles(Conflicting)
def _conflicting(s: Any, c: Conflicting, actor: Actor, now: datetime) -> str:
    c.seen.append((actor, now))
    if len(c.seen) <= c.losses:
        raise IntegrityError("lost the race")
    s.events.append("saved")
    return f"saved after {c.losses}"


@dataclass(frozen=True)
class Charging(Command[str]):
    """Makes an outside effect: must never run twice."""

    outside_effect = True
    calls: list[datetime] = field(default_factory=list, compare=False)


@handles(Charging)
def _charging(s: Any, c: Charging, actor: Actor, now: datetime) -> str:
    c.calls.append(now)
    raise IntegrityError("lost the race after charging")


@dataclass(frozen=True)
class Reacting(Command[bool]):
    """A policy's command: runs inside a catch-up."""

    catches_up = False


@handles(Reacting)
def _reacting(s: Any, c: Reacting, actor: Actor, now: datetime) -> bool:
    return True


@dataclass(frozen=True)
class Refused(Command[None]):
    pass


@handles(Refused)
def _refused(s: Any, c: Refused, actor: Actor, now: datetime) -> None:
    raise InvalidTransition("cannot do that now")


def _no_wait(lost: int) -> None:
    pass


def test_a_lost_race_is_run_again_with_the_actor_and_a_fresh_now() -> None:
    service = FakeService()
    command = Conflicting(losses=3)

    answer = execute(service, command, actor=ACTOR, wait=_no_wait)

    assert answer == "saved after 3"
    assert [actor for actor, _ in command.seen] == [ACTOR] * 4
    times = [now for _, now in command.seen]
    assert times == sorted(times) and len(set(times)) == 4  # read once per attempt
    assert service.clock.reads == 4
    assert service.events == ["saved", "caught_up"]  # the answer is read after the save


def test_the_jittered_wait_follows_each_lost_race() -> None:
    waits: list[int] = []

    execute(FakeService(), Conflicting(losses=2), actor=ACTOR,
            wait=waits.append)

    assert waits == [0, 1]


def test_too_many_lost_races_answer_version_conflict_and_catch_up_nothing() -> None:
    service = FakeService()
    command = Conflicting(losses=MAX_ATTEMPTS)

    with pytest.raises(VersionConflict):
        execute(service, command, actor=ACTOR, wait=_no_wait)

    assert len(command.seen) == MAX_ATTEMPTS
    assert service.catch_ups == 0


def test_a_command_with_an_outside_effect_is_never_run_twice() -> None:
    service = FakeService()
    command = Charging()

    with pytest.raises(IntegrityError):
        execute(service, command, actor=ACTOR, wait=_no_wait)

    assert len(command.calls) == 1
    assert service.catch_ups == 0


def test_a_policy_s_command_does_not_start_another_catch_up() -> None:
    service = FakeService()

    assert execute(service, Reacting(), actor=ACTOR) is True
    assert service.catch_ups == 0


def test_a_domain_error_passes_through_unchanged_and_is_not_retried() -> None:
    service = FakeService()

    with pytest.raises(InvalidTransition, match="cannot do that now"):
        execute(service, Refused(), actor=ACTOR, wait=_no_wait)

    assert service.clock.reads == 1
    assert service.catch_ups == 0


def test_a_command_type_has_one_handler() -> None:
    with pytest.raises(TypeError, match="already has a handler"):
        handles(Refused)(_refused)


def test_a_command_without_a_handler_is_refused_before_anything_runs() -> None:
    @dataclass(frozen=True)
    class Unhandled(Command[None]):
        pass

    service = FakeService()
    with pytest.raises(TypeError, match="no handler for Unhandled"):
        execute(service, Unhandled(), actor=ACTOR)
    assert service.clock.reads == 0


def _concrete(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        if sub.__module__.startswith("service.commands"):
            found.append(sub)
        found += _concrete(sub)
    return found


def test_every_service_command_is_typed_and_handled_and_none_is_named_by_a_string() -> None:
    kinds = [k for k in _concrete(Command) if k.__name__ not in ("LineCommand",
                                                                 "SubAccountCommand")]
    handled = set(commands.command_types())

    assert len(kinds) >= 50
    for kind in kinds:
        assert kind in handled, kind.__name__
        assert dataclasses.is_dataclass(kind) and kind.__dataclass_params__.frozen
        hints = typing.get_type_hints(kind)
        assert "step" not in hints, kind.__name__
        assert all(f.name in hints for f in dataclasses.fields(kind)), kind.__name__


def test_commands_are_values() -> None:
    line = uuid4()
    first = commands.lines.FlagLine(partner_id=UUID(int=1), line_id=line, reason="spam")

    assert first == commands.lines.FlagLine(partner_id=UUID(int=1), line_id=line,
                                            reason="spam")
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.reason = "other"
    assert commands.billing.PayInvoice.outside_effect
    assert commands.lines.PauseFlaggedLine.catches_up is False
