"""Aggregates that outgrow their snapshot interval still load, from a snapshot, unchanged."""

from __future__ import annotations

from aggregates.base import Actor
from service.commands.sub_accounts import StartCampaign
from tests.conftest import start_ledger

OPS = Actor(key_id="ops", role="operations")


def test_a_sub_account_with_many_lines_reloads_from_its_snapshot_unchanged(
    database_url: str,
) -> None:
    first = start_ledger(database_url)
    app = first.app
    partner = app.create_partner(name="Snap", currency="USD", billing_anchor_day=1,
                                 pricing={"structure": "standard", "unit_amount": 100},
                                 actor=OPS)
    sub = app.create_sub_account(partner_id=partner.id, name="Snap – Sales", actor=OPS)
    first.execute(StartCampaign(partner_id=partner.id, sub_account_id=sub.id, name="Spring"),
                  actor=OPS)
    for _ in range(205):
        app.provision_line(partner_id=partner.id, phone_number=None, sub_account_id=sub.id,
                           actor=OPS)
    expected = app.sub_account(partner.id, sub.id)
    first.close()

    second = start_ledger(database_url, aggregate_cache_size=0)
    reloaded = second.app.sub_account(partner.id, sub.id)

    assert second.app.snapshots is not None
    assert list(second.app.snapshots.get(sub.id))
    assert reloaded.line_ids == expected.line_ids
    assert reloaded.campaigns == expected.campaigns
    assert reloaded.version == expected.version
    second.close()
