"""Domain exceptions: each names a refused command and carries a stable code.

The HTTP edge maps them to problem+json by `code`; nothing else needs to know HTTP.
"""

from __future__ import annotations


class DomainError(Exception):
    """A command the domain refuses; nothing is recorded."""

    code = "domain_error"
    status = 409

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidTransition(DomainError):
    code = "invalid_transition"


class SubAccountNotEmpty(DomainError):
    code = "sub_account_not_empty"


class DuplicatePhoneNumber(DomainError):
    code = "duplicate_phone_number"


class DuplicateName(DomainError):
    code = "duplicate_name"


class VersionConflict(DomainError):
    code = "version_conflict"


class NotFound(DomainError):
    code = "not_found"
    status = 404


class InvalidInput(DomainError):
    """Well-formed JSON whose values the domain rejects (bad phone number, tiers out of order).

    `field` names the request field at fault when one alone is (the edge reports it)."""

    code = "validation_error"
    status = 422

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.field = field


class DuplicateId(DomainError):
    """An id already names a payment method, discount or dispute of the same owner."""

    code = "duplicate_id"


class AlreadyPaid(DomainError):
    code = "invoice_already_paid"


class RefundTooLarge(DomainError):
    """A refund would return more than was paid minus earlier refunds."""

    code = "refund_exceeds_paid"


class PaymentDeclined(DomainError):
    """The gateway declined a charge the caller needed to succeed (a pay-now request)."""

    code = "payment_declined"
    status = 402


class PaymentInProgress(DomainError):
    """A payment attempt on the invoice is under way (recorded, its outcome not yet known):
    a second charge is refused until the gateway's answer for the first is recorded."""

    code = "payment_in_progress"


class DuplicateInvoicePrefix(DomainError):
    """Another partner's invoices carry that prefix already."""

    code = "duplicate_invoice_prefix"


class CreditNoteTooLarge(DomainError):
    """A credit note would credit more than the invoice (or an item) has left to credit."""

    code = "credit_note_exceeds_invoice"
