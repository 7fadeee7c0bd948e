"""The API's JSON shapes of aggregates, as command answers give them.

They match the views' shapes (projections/lines.py, projections/sub_accounts.py), so a
command's answer and a later read of the same resource agree; tests hold them to it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aggregates.api_key import ApiKey
from aggregates.line import Line
from aggregates.partner import Partner
from aggregates.sub_account import SubAccount, naming_hint
from projections.events import uuid_text
from projections.times import api_time


def partner_json(partner: Partner, *, now: datetime) -> dict[str, Any]:
    return {
        "id": str(partner.id),
        "name": partner.name,
        "currency": partner.currency,
        "billing_anchor_day": partner.billing_anchor_day,
        "invoice_prefix": partner.prefix,
        "pricing": partner.pricing_at(now),
        "pending_pricing": next(
            ({"pricing": plan, "effective_from": api_time(effective)}
             for effective, plan in reversed(partner.pricing_changes) if effective > now),
            None,
        ),
        "created_at": api_time(partner.created_on),
    }


def line_json(line: Line) -> dict[str, Any]:
    return {
        "id": str(line.id),
        "phone_number": line.phone_number,
        "status": line.status,
        "sending": line.sending,
        "sub_account_id": uuid_text(line.sub_account_id),
        "flag_reason": line.flag_reason,
        "requested_sub_account_id": uuid_text(line.requested_sub_account_id),
        "created_at": api_time(line.created_on),
        "updated_at": api_time(line.modified_on),
    }


def sub_account_json(sub: SubAccount) -> dict[str, Any]:
    return {
        "id": str(sub.id),
        "name": sub.name,
        "status": sub.status,
        "line_count": len(sub.line_ids),
        "naming_hint": naming_hint(sub.name),
        "merged_into": uuid_text(sub.merged_into),
        "requested_primary_id": uuid_text(sub.requested_primary_id),
        "created_at": api_time(sub.created_on),
        "updated_at": api_time(sub.modified_on),
    }


def key_json(key: ApiKey, *, token: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(key.id),
        "role": key.role,
        "name": key.name,
        "partner_id": uuid_text(key.partner_id),
        "created_at": api_time(key.created_on),
    }
    if token is not None:
        body["token"] = token
    return body
