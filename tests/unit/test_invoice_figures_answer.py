"""The HTTP answer names the invoice figures as the domain does: the pydantic contract is
declared on its own (a domain change must not change it silently), so this pins the two."""

from __future__ import annotations

from aggregates.invoice_figures import InvoiceFigures
from service.api.billing_answers import Charges


def test_the_charges_answer_carries_every_invoice_figure() -> None:
    names = list(InvoiceFigures.names())

    assert [name for name in Charges.model_fields if name in names] == names
