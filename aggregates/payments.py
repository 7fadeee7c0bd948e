"""The payment gateway port and the simulated gateway the service ships with.

The application charges cards through `PaymentGateway`. Every charge carries the id of
the payment attempt the `Invoice` recorded before calling (the idempotency key real
gateways take): a second call with the same id charges nothing and answers what the
first call did, and `lookup` tells what the gateway did for an attempt id, so an attempt
whose answer was lost (a crash, a timeout) is settled by asking, never by charging again.

`SimulatedGateway` declines by deterministic rules and keeps its own books (a
`ChargeBook`), as a real gateway keeps its own record of what it charged; reconciliation
compares those books with the payments the ledger recorded.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from aggregates.partner import PaymentMethod, card_expired

DECLINING_TOKEN = "tok_decline"
CARD_DECLINED = "card_declined"
CARD_EXPIRED = "card_expired"
SUCCEEDED = "succeeded"
DECLINED = "declined"


@dataclass(frozen=True)
class PaymentResult:
    """The gateway's answer: success, or a decline with its reason."""

    succeeded: bool
    reason: str | None = None


@dataclass(frozen=True)
class GatewayCharge:
    """One line of the gateway's books: what it did for one attempt id. No card token:
    the books, like every answer of ours, never hold one."""

    attempt_id: UUID
    amount: int
    currency: str
    succeeded: bool
    reason: str | None
    at: datetime

    @property
    def outcome(self) -> str:
        return SUCCEEDED if self.succeeded else DECLINED

    @property
    def result(self) -> PaymentResult:
        return PaymentResult(succeeded=self.succeeded, reason=self.reason)


class PaymentGateway(Protocol):
    def charge(self, *, attempt_id: UUID, method: PaymentMethod, amount: int, currency: str,
               at: datetime) -> PaymentResult:
        """Charge `amount` minor units of `currency` to `method` at `at`, once per
        `attempt_id`: a repeated id charges nothing and answers the first call's result."""
        ...

    def lookup(self, attempt_id: UUID) -> PaymentResult | None:
        """What the gateway did for `attempt_id`, or None when it never saw that id."""
        ...

    def charges(self, *, since: datetime | None = None,
                until: datetime | None = None) -> list[GatewayCharge]:
        """The gateway's books for attempts made in `[since, until)`, oldest first."""
        ...


class ChargeBook(Protocol):
    """Where a simulated gateway keeps its books."""

    def find(self, attempt_id: UUID) -> GatewayCharge | None: ...

    def record(self, charge: GatewayCharge) -> GatewayCharge:
        """Keeps `charge` unless its attempt id is booked already; answers the booked one
        (the first writer wins, so two calls with one id book one charge)."""
        ...

    def between(self, since: datetime | None, until: datetime | None) -> list[GatewayCharge]: ...


class MemoryChargeBook:
    """Books kept in memory: for a gateway used on its own (the domain tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._charges: dict[UUID, GatewayCharge] = {}

    def find(self, attempt_id: UUID) -> GatewayCharge | None:
        with self._lock:
            return self._charges.get(attempt_id)

    def record(self, charge: GatewayCharge) -> GatewayCharge:
        with self._lock:
            return self._charges.setdefault(charge.attempt_id, charge)

    def between(self, since: datetime | None, until: datetime | None) -> list[GatewayCharge]:
        with self._lock:
            charges = list(self._charges.values())
        return sorted((c for c in charges if (since is None or c.at >= since)
                       and (until is None or c.at < until)), key=lambda c: c.at)


class SimulatedGateway:
    """Declines the token `tok_decline` (`card_declined`) and cards expired at the time
    of the attempt (`card_expired`); every other charge succeeds. `delay` makes
    each new charge slow, as a real gateway's round trip is (the race tests use it)."""

    def __init__(self, books: ChargeBook | None = None, *,
                 delay: timedelta = timedelta(0)) -> None:
        if delay < timedelta(0):
            raise ValueError(f"the delay must not be negative, got {delay!r}")
        self.books: ChargeBook = books if books is not None else MemoryChargeBook()
        self.delay = delay

    @staticmethod
    def decide(method: PaymentMethod, at: datetime) -> PaymentResult:
        if method.token == DECLINING_TOKEN:
            return PaymentResult(succeeded=False, reason=CARD_DECLINED)
        if card_expired(method, at):
            return PaymentResult(succeeded=False, reason=CARD_EXPIRED)
        return PaymentResult(succeeded=True)

    def charge(self, *, attempt_id: UUID, method: PaymentMethod, amount: int, currency: str,
               at: datetime) -> PaymentResult:
        if not isinstance(attempt_id, UUID):
            raise ValueError(f"a charge needs its attempt id, got {attempt_id!r}")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise ValueError(f"a charge must be a positive integer amount, got {amount!r}")
        booked = self.books.find(attempt_id)
        if booked is None:
            if self.delay:
                time.sleep(self.delay.total_seconds())
            result = self.decide(method, at)
            booked = self.books.record(GatewayCharge(
                attempt_id=attempt_id, amount=amount, currency=currency,
                succeeded=result.succeeded, reason=result.reason, at=at))
        if (booked.amount, booked.currency) != (amount, currency):
            # As real gateways do: an idempotency key reused with other parameters is an
            # error in the caller, not a new charge.
            raise ValueError(f"attempt {attempt_id} was charged {booked.amount} "
                             f"{booked.currency}, not {amount} {currency}")
        return booked.result

    def lookup(self, attempt_id: UUID) -> PaymentResult | None:
        booked = self.books.find(attempt_id)
        return booked.result if booked is not None else None

    def charges(self, *, since: datetime | None = None,
                until: datetime | None = None) -> list[GatewayCharge]:
        return self.books.between(since, until)
