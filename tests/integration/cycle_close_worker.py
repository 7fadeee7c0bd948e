"""A process that seeds partners and then closes their billing cycle, for the crash test:
`python -m tests.integration.cycle_close_worker DATABASE_URL seed|close PARTNERS`."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from aggregates.base import Actor
from tests.conftest import start_ledger

OPS = Actor(key_id="ops", role="operations")
PERIOD_END = datetime(2026, 2, 1, tzinfo=UTC)


def main(database_url: str, phase: str, partners: int) -> None:
    ledger = start_ledger(database_url)
    if phase == "seed":
        for n in range(partners):
            pid = ledger.app.create_partner(
                name=f"Partner {n}", currency="USD", billing_anchor_day=1,
                pricing={"structure": "standard", "unit_amount": 1000 + n}, actor=OPS).id
            for _ in range(3):
                ledger.app.provision_line(partner_id=pid, phone_number=None,
                                          sub_account_id=None, actor=OPS)
        ledger.caught_up()
    else:
        ledger.manual_clock.set(PERIOD_END)
        print("closing", flush=True)
        ledger.billing.close_due_cycles(PERIOD_END)
    ledger.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
