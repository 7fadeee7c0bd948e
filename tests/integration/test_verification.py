"""The auditor's verification: invoices re-derive from the log to the cent; tampering
with a stored event or a view's invoice is named."""

from __future__ import annotations

from aggregates.invoice import Invoice
from service.ops.verification import verify
from service.runtime.bootstrap import Ledger
from tests.integration.history import months_of_history


def _invoices(ledger: Ledger) -> list[Invoice]:
    from projections import aggregate_states

    with ledger.read_model.reading() as sql:
        ids = [r["id"] for r in sql.all("SELECT id FROM v_invoices ORDER BY period_start")]
        return [aggregate_states.load(sql, Invoice, i) for i in ids]


def _tamper_with_stored_event(ledger: Ledger, position: int) -> None:
    with ledger.read_model.writing() as sql:
        if sql.postgres:
            sql.run("UPDATE ledger_events SET state = replace(convert_from(state, 'UTF8'), "
                    "'\"amount\":2500', '\"amount\":9999')::bytea WHERE notification_id = ?",
                    position)
        else:
            sql.run("UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT), "
                    "'\"amount\":2500', '\"amount\":9999') AS BLOB) WHERE rowid = ?",
                    position)


def test_every_issued_invoice_re_derives_from_the_log_to_the_cent(ledger: Ledger) -> None:
    months_of_history(ledger)

    report = verify(ledger)

    assert report.ok, [str(m) for m in report.mismatches]
    assert report.invoices_checked == len(_invoices(ledger)) == 3
    assert report.events_checked == ledger.app.recorder.max_notification_id()
    assert all(inv.subtotal > 0 for inv in _invoices(ledger))


def test_a_stored_event_edited_with_plain_sql_is_named_by_its_position(ledger: Ledger) -> None:
    months_of_history(ledger, months=1)
    with ledger.read_model.reading() as sql:
        position = sql.scalar("SELECT position FROM v_audit WHERE event_type = "
                              "'Partner.CreditGranted'")

    _tamper_with_stored_event(ledger, position)
    report = verify(ledger)

    assert not report.ok
    assert report.chain_break is not None
    assert report.chain_break.position == position
    assert any(m.where == "log" for m in report.mismatches)


def test_an_invoice_edited_in_a_view_is_named(ledger: Ledger) -> None:
    months_of_history(ledger, months=2)
    invoice = _invoices(ledger)[0]

    with ledger.read_model.writing() as sql:
        sql.run("UPDATE v_invoices SET amount_due = amount_due + 1 WHERE id = ?",
                str(invoice.id))
    report = verify(ledger)

    assert not report.ok
    assert report.chain_break is None
    assert {(m.invoice_id, m.where, m.field) for m in report.mismatches} == {
        (str(invoice.id), "view", "v_invoices.amount_due")}
