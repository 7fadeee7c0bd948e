"""The payment gateway port and the simulated gateway the service ships with.

The application charges cards through `PaymentGateway`; whatever the adapter answers is
recorded on the `Invoice` as an attempt. `SimulatedGateway` is pure and deterministic,
so tests and the manual clock get the same answers every time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from aggregates.partner import PaymentMethod, card_expired

DECLINING_TOKEN = "tok_decline"
CARD_DECLINED = "card_declined"
CARD_EXPIRED = "card_expired"


@dataclass(frozen=True)
class PaymentResult:
    """The gateway's answer: success, or a decline with its reason."""

    succeeded: bool
    reason: str | None = None


class PaymentGateway(Protocol):
    def charge(self, *, method: PaymentMethod, amount: int, currency: str,
               at: datetime) -> PaymentResult:
        """Charge `amount` minor units of `currency` to `method` at `at`."""
        ...


class SimulatedGateway:
    """Declines the token `tok_decline` (`card_declined`) and cards expired at the time
    of the attempt (`card_expired`); every other charge succeeds."""

    def charge(self, *, method: PaymentMethod, amount: int, currency: str,
               at: datetime) -> PaymentResult:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise ValueError(f"a charge must be a positive integer amount, got {amount!r}")
        if method.token == DECLINING_TOKEN:
            return PaymentResult(succeeded=False, reason=CARD_DECLINED)
        if card_expired(method, at):
            return PaymentResult(succeeded=False, reason=CARD_EXPIRED)
        return PaymentResult(succeeded=True)
