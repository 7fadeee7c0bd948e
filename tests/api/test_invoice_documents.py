"""The invoice PDF and the sub-account statement (PDF, CSV) show the JSON invoice's figures:
SPEC's worked example, read back with pdftotext (poppler-utils)."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from typing import Any

import pytest

from service.documents.money import money, plain
from service.documents.pdf import unicode_font
from tests.api.conftest import ADMIN, Portal
from tests.api.helpers import assert_problem
from tests.api.test_billing_flow import GOOD_CARD, move_clock, spec_month


def pdf_text(data: bytes) -> str:
    tool = shutil.which("pdftotext")
    assert tool is not None, "pdftotext (poppler-utils) is needed: .ci/run installs it"
    done = subprocess.run([tool, "-layout", "-", "-"], input=data, capture_output=True,
                          check=True, timeout=30)
    return done.stdout.decode()


@pytest.fixture
def issued(portal: Portal) -> tuple[dict[str, Any], dict[str, str]]:
    subs = spec_month(portal)
    portal.ok("POST", "/credits", role="support", json={"amount": 1000, "reason": "goodwill"})
    portal.ok("POST", "/payment-methods", role="billing", json=GOOD_CARD, status=201)
    portal.client.put(portal.url("/tax"), headers=ADMIN, json={
        "name": "VAT", "rate": "20", "tax_id": "DE123456789", "reverse_charge": True})
    move_clock(portal, "2026-02-01T06:00:00Z")
    invoice = portal.ok("GET", "/invoices", role="billing")["data"][0]
    return invoice, subs


def test_the_invoice_pdf_shows_the_json_invoices_figures(
        portal: Portal, issued: tuple[dict[str, Any], dict[str, str]]) -> None:
    invoice, _ = issued
    assert unicode_font() is not None, "fonts-dejavu-core is needed: .ci/run installs it"

    response = portal.get(f"/invoices/{invoice['id']}/pdf", role="reporting")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    text = pdf_text(response.content)
    assert invoice["number"] in text
    assert "Acme Resale" in text
    assert "2026-01-01 to 2026-02-01" in text
    for item in invoice["items"]:
        assert item["name"] in text  # "Acme – Sales", the en dash included
        assert money(item["amount"], "USD") in text
    assert (invoice["subtotal"], invoice["credit_applied"], invoice["amount_due"]) == (
        8032, 1000, 7032)
    for label, key, sign in (("Subtotal", "subtotal", 1), ("Total", "total", 1),
                             ("Credit applied", "credit_applied", -1),
                             ("Amount due", "amount_due", 1), ("Paid", "amount_paid", 1),
                             ("Refunded", "amount_refunded", 1)):
        line = next(row for row in text.splitlines() if row.strip().startswith(label))
        assert line.split()[-1] == money(sign * invoice[key], "USD"), line
    # The tax (reverse charge, issued from the next period on) is none on this invoice.
    assert invoice["tax"] is None and "VAT" not in text

    # February's invoice is taxed: reverse charge names the tax, the id and the note, and
    # charges none.
    move_clock(portal, "2026-03-01T06:00:00Z")
    february = portal.ok("GET", "/invoices", role="billing")["data"][0]
    text = pdf_text(portal.get(f"/invoices/{february['id']}/pdf", role="billing").content)
    assert (february["tax"]["reverse_charge"], february["tax"]["amount"]) == (True, 0)
    assert february["total"] == february["subtotal"] - february["discount"]
    assert "VAT 20% (reverse charge)" in text and "DE123456789" in text
    assert "Reverse charge: no tax is charged" in text
    for line in february["tax"]["lines"]:
        assert money(line["taxable_amount"], "USD") in text


def test_the_statement_shows_one_sub_accounts_share_as_csv_and_pdf(
        portal: Portal, issued: tuple[dict[str, Any], dict[str, str]]) -> None:
    invoice, subs = issued
    url = f"/invoices/{invoice['id']}/statement"

    as_csv = portal.get(url, role="billing",
                        params={"sub_account_id": subs["sales"], "format": "csv"})
    as_pdf = portal.get(url, role="billing", params={"sub_account_id": "unassigned"})

    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    sales = next(item for item in invoice["items"] if item["sub_account_id"] == subs["sales"])
    assert len(rows) == 1
    assert (rows[0]["invoice_number"], rows[0]["name"], rows[0]["line_days"],
            rows[0]["amount"]) == (invoice["number"], sales["name"], "52",
                                   plain(sales["amount"], "USD"))
    assert rows[0]["amount"] == "50.32"
    assert as_pdf.status_code == 200, as_pdf.text
    text = pdf_text(as_pdf.content)
    assert "Unassigned" in text and money(968, "USD") in text
    assert money(5032, "USD") not in text
    # What is not there is not found; a role that may not read billing is refused.
    assert_problem(portal.get(url, role="billing", params={"sub_account_id": "nope"}),
                   404, "not_found")
    assert_problem(portal.get(url, role="billing", params={
        "sub_account_id": "00000000-0000-0000-0000-000000000000"}), 404, "not_found")
    assert_problem(portal.get(url, role="billing", params={
        "sub_account_id": "unassigned", "format": "xls"}), 422, "validation_error")
    assert_problem(portal.get("/invoices/00000000-0000-0000-0000-000000000000/pdf",
                              role="billing"), 404, "not_found")
    assert portal.get(f"/invoices/{invoice['id']}/pdf", role="operations").status_code == 403


@pytest.mark.parametrize(("minor", "currency", "shown", "csv_value"), [
    (5032, "USD", "$50.32", "50.32"), (5032, "JPY", "¥5,032", "5032"),
    (1234, "KWD", "KWD 1.234", "1.234"), (123456789, "EUR", "€1,234,567.89", "1234567.89"),
    (-1000, "USD", "-$10.00", "-10.00"),
])
def test_money_is_shown_at_the_iso_4217_exponent(minor: int, currency: str, shown: str,
                                                 csv_value: str) -> None:
    assert (money(minor, currency), plain(minor, currency)) == (shown, csv_value)
