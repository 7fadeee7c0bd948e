"""A crash in the middle of cycle close: restarting issues each invoice exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from service.ops.verification import verify
from tests.conftest import start_ledger
from tests.integration.cycle_close_worker import PERIOD_END

PARTNERS = 60


def _issued(database_url: str) -> int:
    ledger = start_ledger(database_url)
    with ledger.read_model.reading() as sql:
        table = "ledger_events" if sql.postgres else "stored_events"
        count = int(sql.scalar(f"SELECT COUNT(*) FROM {table} WHERE topic LIKE ?",
                               "%Invoice.Issued"))
    ledger.close()
    return count


def test_restarting_a_killed_cycle_close_issues_each_invoice_once(database_url: str) -> None:
    worker = [sys.executable, "-m", "tests.integration.cycle_close_worker", database_url]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    subprocess.run([*worker, "seed", str(PARTNERS)], check=True, env=env, timeout=300)
    closing = subprocess.Popen([*worker, "close", str(PARTNERS)], env=env,
                               stdout=subprocess.PIPE)
    assert closing.stdout is not None and closing.stdout.readline().strip() == b"closing"
    deadline = time.monotonic() + 60
    while _issued(database_url) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    closing.send_signal(signal.SIGKILL)
    closing.wait(10)
    partial = _issued(database_url)

    ledger = start_ledger(database_url)
    ledger.billing.close_due_cycles(PERIOD_END)
    ledger.billing.close_due_cycles(PERIOD_END)

    assert 3 <= partial < PARTNERS
    assert _issued(database_url) == PARTNERS
    report = verify(ledger)
    assert report.ok, [str(m) for m in report.mismatches]
    assert report.invoices_checked == PARTNERS
    ledger.close()
