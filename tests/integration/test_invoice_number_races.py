"""Invoice numbers under concurrent cycle closes from several processes, on PostgreSQL
(SQLite serves one process): each process closes every partner's four ended periods in
its own shuffled order, so closes of different invoices of one partner race on the
partner's counter. Every number is unique and each partner's series is gapless."""

from __future__ import annotations

import multiprocessing
import random
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from aggregates.base import Actor
from aggregates.charges import next_period
from aggregates.claim import Claim
from aggregates.invoice import Invoice
from aggregates.invoice_numbers import NUMBER_CLAIM, PLATFORM
from tests.conftest import empty_postgres, start_ledger

OPS = Actor(key_id="ops", role="operations")
PROCESSES = 3
PARTNERS = 3
PERIODS = [(datetime(2026, m, 1, tzinfo=UTC), next_period(datetime(2026, m, 1, tzinfo=UTC))[0])
           for m in range(1, 5)]


def _close_in_random_order(url: str, partner_ids: list[str], seed: int,
                           barrier: Any) -> list[str]:
    ledger = start_ledger(url)
    try:
        closes = [(UUID(pid), start, end) for pid in partner_ids for start, end in PERIODS]
        random.Random(seed).shuffle(closes)
        barrier.wait(60)
        return [ledger.billing.close_cycle(partner_id=pid, period_start=start,
                                           period_end=end).number
                for pid, start, end in closes]
    finally:
        ledger.close()


def test_concurrent_cycle_closes_number_each_partner_gaplessly(postgres_url: str) -> None:
    empty_postgres(postgres_url)
    ledger = start_ledger(postgres_url)
    try:
        partners = [ledger.app.create_partner(
            name="Race Resale", currency="USD", billing_anchor_day=1,
            pricing={"structure": "standard", "unit_amount": 3000}, actor=OPS)
            for _ in range(PARTNERS)]
        for partner in partners:
            ledger.app.provision_line(partner_id=partner.id, phone_number=None,
                                      sub_account_id=None, actor=OPS)
        ledger.caught_up()
        ids = [str(p.id) for p in partners]
        context = multiprocessing.get_context("spawn")
        barrier = context.Manager().Barrier(PROCESSES)
        with context.Pool(PROCESSES) as pool:
            answers = pool.starmap(_close_in_random_order,
                                   [(postgres_url, ids, seed, barrier)
                                    for seed in range(PROCESSES)])

        prefixes = {p.prefix for p in partners}
        assert len(prefixes) == PARTNERS  # one name, three distinct derived prefixes
        for partner in partners:
            numbers = sorted(ledger.billing.invoice(partner.id, Invoice.id_for(
                partner_id=partner.id, period_start=start)).number for start, _ in PERIODS)
            assert numbers == [f"{partner.prefix}-{n:06d}" for n in range(1, 5)]
            assert ledger.app.partner(partner.id).invoices_numbered == len(PERIODS)
            for number in numbers:  # each number held by its claim
                claim = ledger.app.load(Claim, Claim.id_for(
                    kind=NUMBER_CLAIM, partner_id=PLATFORM, value=number))
                assert claim.holder_id is not None
        # Every process saw every invoice under the one number it was issued with.
        for answer in answers:
            assert sorted(answer) == sorted(
                f"{prefix}-{n:06d}" for prefix in prefixes for n in range(1, 5))
    finally:
        ledger.close()
