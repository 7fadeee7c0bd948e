"""What a command is, what its handler is given, and the one handler of each command type.

A command is a frozen dataclass naming what the caller wants done, with typed fields; its
type says which handler runs it (`handles`). Two class-level marks tell `execute` how to
run it:

- `outside_effect`: the handler makes an effect outside the ledger (a card charge), so it
  must never run twice; `execute` runs it once and the handler retries only its own
  recording steps (service/commands/billing_operations.py).
- `catches_up`: after the save, `execute` brings views and policies up to the end of the
  log (read-your-writes). A policy's command runs *inside* that catch-up, so it must not
  start another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from aggregates.base import Actor

if TYPE_CHECKING:
    from projections.read_model import ReadModel
    from service.commands.alert_checks import Alerts
    from service.commands.application import LedgerApplication
    from service.commands.billing_operations import Billing
    from service.commands.usage_ingest import Usage
    from service.runtime.clock import Clock

R = TypeVar("R", covariant=True)
C = TypeVar("C", bound="Command[Any]")


@dataclass(frozen=True)
class Command(Generic[R]):
    """A named, typed request to change the ledger; `R` is its handler's answer."""

    outside_effect: ClassVar[bool] = False
    catches_up: ClassVar[bool] = True


class Services(Protocol):
    """What a handler works with: the running service (`service.runtime.bootstrap.Ledger`)."""

    @property
    def app(self) -> LedgerApplication: ...

    @property
    def billing(self) -> Billing: ...

    @property
    def usage(self) -> Usage: ...

    @property
    def alerts(self) -> Alerts: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def read_model(self) -> ReadModel: ...

    def caught_up(self) -> None: ...


class CommandRunner(Protocol):
    """`execute` bound to a running service (`Ledger.execute`)."""

    def __call__(self, command: Command[Any], *, actor: Actor) -> Any: ...


Handler = Callable[[Services, Any, Actor, datetime], Any]
_HANDLERS: dict[type[Command[Any]], Handler] = {}


def handles(command_type: type[C]) -> Callable[[Callable[[Services, C, Actor, datetime], Any]],
                                              Callable[[Services, C, Actor, datetime], Any]]:
    """Registers the one handler of `command_type`: `handler(services, command, actor, now)`."""

    def register(handler: Callable[[Services, C, Actor, datetime], Any],
                 ) -> Callable[[Services, C, Actor, datetime], Any]:
        if command_type in _HANDLERS:
            raise TypeError(f"{command_type.__name__} already has a handler")
        _HANDLERS[command_type] = handler
        return handler

    return register


def handler_for(command: Command[Any]) -> Handler:
    try:
        return _HANDLERS[type(command)]
    except KeyError:
        raise TypeError(f"no handler for {type(command).__name__}") from None


def command_types() -> list[type[Command[Any]]]:
    """Every command type that has a handler."""
    return list(_HANDLERS)
